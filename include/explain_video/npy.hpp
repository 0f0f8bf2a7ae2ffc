// NumPy .npy files (format 1.0, little-endian float32, C order): whole arrays, or streamed
// when the leading dimension is known before the data (e.g. frames × height × width).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "explain_video/volume.hpp"

namespace ev {

void writeNpy(const std::string& path, const Volume& v);
Volume readNpy(const std::string& path);  // float32 little-endian C-order only

class NpyStreamWriter {
 public:
  NpyStreamWriter(const std::string& path, const std::vector<int64_t>& shape);
  ~NpyStreamWriter();
  NpyStreamWriter(const NpyStreamWriter&) = delete;
  NpyStreamWriter& operator=(const NpyStreamWriter&) = delete;
  void append(const float* data, size_t count);
  void close();  // throws if fewer values than the shape promised were written

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  size_t expected_ = 0, written_ = 0;
};

}  // namespace ev
