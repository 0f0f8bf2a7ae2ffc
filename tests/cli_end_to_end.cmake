# CTest: run the CLI on the committed demo clip with the shipped demo model, then check the
# annotated MP4 exists and is not empty.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(
  COMMAND ${CLI} ${SRC}/clips/demo.mp4 --model ${SRC}/models/demo_c3d_small.pt
          --out ${OUT}/demo.explained.mp4 --json ${OUT}/demo.json --quiet
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "explain-video failed (${rc}): ${err}")
endif()
file(SIZE ${OUT}/demo.explained.mp4 size)
if(size LESS 1000)
  message(FATAL_ERROR "output video too small: ${size} bytes")
endif()
file(READ ${OUT}/demo.json summary)
string(JSON frames GET "${summary}" video frames)
if(frames LESS 16)
  message(FATAL_ERROR "unexpected frame count ${frames}")
endif()
message(STATUS "demo: ${frames} frames, ${err}")
