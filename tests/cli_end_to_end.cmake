# CTest: run the CLI on the committed clips with the shipped models: the random-weight demo
# model on demo.mp4, and the trained model on the benchmark clip of the README demo.
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

# The README's demo: the shipped trained model on the committed benchmark clip must name the
# clip's true class (move_up, from clips/synth_move_up.json) and keep every frame.
execute_process(
  COMMAND ${CLI} ${SRC}/clips/synth_move_up.mp4 --model ${SRC}/models/c3d_small_synth.pt
          --labels ${SRC}/models/labels.txt --out ${OUT}/synth_move_up.explained.mp4
          --json ${OUT}/synth_move_up.json --quiet
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "explain-video failed on the trained model (${rc}): ${err}")
endif()
file(READ ${SRC}/clips/synth_move_up.json truth)
string(JSON truth_class GET "${truth}" class_name)
file(READ ${OUT}/synth_move_up.json summary)
string(JSON predicted GET "${summary}" class name)
string(JSON frames GET "${summary}" video frames)
if(NOT predicted STREQUAL truth_class)
  message(FATAL_ERROR "trained model explained '${predicted}', the clip's class is '${truth_class}'")
endif()
if(NOT frames EQUAL 48)
  message(FATAL_ERROR "unexpected frame count ${frames} (the clip has 48)")
endif()
message(STATUS "trained demo: ${predicted}, ${frames} frames")
