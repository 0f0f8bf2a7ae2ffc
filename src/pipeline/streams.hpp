// The pipeline's decoding stages, each on its own thread ahead of the model (WindowStream:
// decode → preprocessed windows) or of the renderer (FrameStream: decoded frames), with a
// bounded queue between, so the model never waits for I/O.
#pragma once
#include <atomic>
#include <string>

#include "explain_video/video.hpp"
#include "explain_video/windows.hpp"
#include "pipeline/prefetch.hpp"
#include "video/input_file.hpp"

namespace ev {

class WindowStream {
 public:
  // Opens the video here (errors: Input, on the caller's thread); decoding runs on the worker.
  WindowStream(const InputFile& input, const PreprocessParams& pre, const WindowParams& win, size_t depth)
      : reader_(input.path(), input.name()), sampler_(pre, win), prefetch_([this](Window& w) { return produce(w); }, depth) {}
  const VideoInfo& info() const { return reader_.info(); }
  bool next(Window& w) { return prefetch_.next(w); }
  int64_t framesSeen() const { return frames_.load(); }
  // Safe once next() returned false (the worker has finished).
  int64_t decodeErrors() const { return reader_.decodeErrors(); }
  std::string lastDecodeError() const { return reader_.lastDecodeError(); }

 private:
  bool produce(Window& w) {
    for (;;) {
      if (sampler_.pop(w)) return true;
      if (finished_) return false;
      if (reader_.read(frame_)) {
        sampler_.push(frame_);
        frames_ = sampler_.framesSeen();
      } else {
        sampler_.finish();
        finished_ = true;
      }
    }
  }
  VideoReader reader_;
  WindowSampler sampler_;
  Frame frame_;
  bool finished_ = false;
  std::atomic<int64_t> frames_{0};
  Prefetcher<Window> prefetch_;  // last: its worker uses the members above
};

class FrameStream {
 public:
  FrameStream(const InputFile& input, size_t depth)
      : reader_(input.path(), input.name()), prefetch_([this](Frame& f) { return reader_.read(f); }, depth) {}
  const VideoInfo& info() const { return reader_.info(); }
  bool next(Frame& f) { return prefetch_.next(f); }

 private:
  VideoReader reader_;
  Prefetcher<Frame> prefetch_;
};

}  // namespace ev
