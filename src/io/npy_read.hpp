// Internal: the .npy reader on any stream (readNpy(path) opens the file and calls it; the fuzz
// target tests/fuzz/fuzz_npy.cpp feeds it bytes in memory). Errors: ev::Error(Input) naming
// `path`, for anything but a complete little-endian float32 C-order version 1 array.
#pragma once
#include <istream>
#include <string>

#include "explain_video/volume.hpp"

namespace ev {

Volume readNpy(std::istream& in, const std::string& path);

}  // namespace ev
