// Internal: a VideoReader on bytes in memory instead of a file (tests/fuzz/fuzz_video.cpp feeds
// the decoder arbitrary bytes through it). The demuxer reads them through a custom AVIO
// context, seekable, so every container that a file of the same bytes opens opens here too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "explain_video/video.hpp"

namespace ev {

// Not a constructor of VideoReader, so the public header stays as it is.
struct MemoryVideoReader {
  // `data` must outlive the reader (it is not copied); `name` stands for the path in
  // VideoInfo::path and in error messages. Errors as VideoReader's (ev::Error, Input).
  static std::unique_ptr<VideoReader> open(const uint8_t* data, size_t size, const std::string& name);
};

}  // namespace ev
