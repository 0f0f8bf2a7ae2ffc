// libFuzzer target: the .npy reader (ev::readNpy on a stream, what readNpy(path) runs on the
// file) on arbitrary bytes. Built by scripts/fuzz.sh only. An array it accepts must hold
// exactly the values its shape promises, all read from the input; anything but
// ev::Error(Input) escaping is a failure (std::stoll's, std::bad_alloc included).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "explain_video/error.hpp"
#include "explain_video/volume.hpp"
#include "io/npy_read.hpp"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz_npy: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const ev::Volume v = ev::readNpy(in, "fuzz.npy");
    size_t n = 1;
    for (int64_t d : v.shape) {
      if (d < 0) broken("negative dimension accepted");
      n *= static_cast<size_t>(d);
    }
    if (v.data.size() != n) broken("data size differs from the shape");
    if (v.data.size() * sizeof(float) > size) broken("more values than the input holds");
  } catch (const ev::Error& e) {
    if (e.kind() != ev::ErrorKind::Input) broken("error of an unexpected kind");
  }
  return 0;
}
