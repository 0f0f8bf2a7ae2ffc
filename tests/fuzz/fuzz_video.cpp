// libFuzzer target: the video decoder (ev::VideoReader through MemoryVideoReader, the same code
// as for a file) on arbitrary bytes, decoding every frame. Built by scripts/fuzz.sh only.
// A failure is anything but a clean end: a sanitizer report, an exception other than
// ev::Error(Input), or a frame that breaks the reader's promises (video.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "explain_video/error.hpp"
#include "explain_video/video.hpp"
#include "video/memory_reader.hpp"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz_video: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto reader = ev::MemoryVideoReader::open(data, size, "fuzz-input");
    const ev::VideoInfo& info = reader->info();
    if (info.width <= 0 || info.height <= 0) broken("opened with no frame size");
    if (!(info.fps > 0)) broken("opened with fps <= 0");
    ev::Frame f;
    int64_t n = 0;
    while (reader->read(f)) {
      if (f.width != info.width || f.height != info.height) broken("frame size differs from the stream's");
      if (f.rgb.size() != static_cast<size_t>(f.width) * f.height * 3) broken("frame buffer size wrong");
      if (f.index != n) broken("frame index out of order");
      ++n;
    }
  } catch (const ev::Error& e) {
    if (e.kind() != ev::ErrorKind::Input && e.kind() != ev::ErrorKind::Internal) broken("error of an unexpected kind");
  }
  return 0;
}
