// Stage 2: cut the frame stream into overlapping windows of preprocessed frames, the model's
// input 1×3×T×H×W, remembering how each crop was cut so maps can be put back.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "explain_video/video.hpp"
#include "explain_video/volume.hpp"

namespace ev {

// Defaults fit C3D/torchvision-style video models: resize to 128×171, centre crop 112×112,
// scale to [0,1], normalise with the Kinetics-400 mean/std torchvision's video models use.
struct PreprocessParams {
  int resizeHeight = 128, resizeWidth = 171;
  int cropHeight = 112, cropWidth = 112;
  float scale = 1.0f / 255.0f;  // uint8 value × scale, before mean/std
  std::array<float, 3> mean{0.43216f, 0.394666f, 0.37645f};   // in scaled units, RGB order
  std::array<float, 3> std{0.22803f, 0.22145f, 0.216989f};
  bool bgr = false;  // feed channels to the model as B,G,R (mean/std are then given in B,G,R)
};

// Named preprocessing presets: what a model family was trained (or, for ported weights,
// checked) with. Sources are in src/windows/presets.cpp and the README.
//   "kinetics"      torchvision's video ResNets (r3d_18, mc3_18, r2plus1d_18), Kinetics-400:
//                   resize 128×171, crop 112×112, RGB, ×1/255, Kinetics mean/std (the defaults).
//   "c3d-sports1m"  C3D with the Sports-1M weights of the c3d-pytorch port: resize 112×200,
//                   crop 112×112, RGB, pixel values 0..255 unnormalised (mean 0, std 1).
// Throws ev::Error(Usage) naming the known presets for any other name.
PreprocessParams preprocessPreset(const std::string& name);
std::vector<std::string> preprocessPresetNames();

struct WindowParams {
  int clipLen = 16;  // frames per window
  int stride = 8;    // frames between window starts
};

// How a crop was cut from a source frame: source → resize → crop.
struct CropGeometry {
  int sourceWidth = 0, sourceHeight = 0;
  int resizeWidth = 0, resizeHeight = 0;
  int cropX = 0, cropY = 0, cropWidth = 0, cropHeight = 0;
};
CropGeometry centreCropGeometry(int sourceWidth, int sourceHeight, const PreprocessParams& p);

// Window start frames for a video of n frames: 0, stride, 2·stride, … while the window fits,
// plus one last window aligned to the video's end when the stride leaves frames uncovered.
// A video shorter than one window gets a single window starting at 0 (padded, see below).
std::vector<int64_t> windowStarts(int64_t frameCount, const WindowParams& params);

struct Window {
  int64_t index = 0;             // 0-based window number
  std::vector<int64_t> frames;   // source frame index at each of the clipLen positions
  Volume input;                  // 1×3×clipLen×cropH×cropW, normalised
  CropGeometry geometry;
  int64_t firstFrame() const { return frames.front(); }
  int64_t lastFrame() const { return frames.back(); }
};

// Streaming sampler: push frames in order, pop windows as soon as they are complete. Holds at
// most clipLen preprocessed frames. Videos shorter than clipLen are padded by repeating the
// last frame (its index repeats in Window::frames).
class WindowSampler {
 public:
  WindowSampler(const PreprocessParams& pre, const WindowParams& win);
  void push(const Frame& frame);
  void finish();  // end of the video: queue the end-aligned or padded window if needed
  bool pop(Window& window);
  int64_t framesSeen() const { return framesSeen_; }

  // The preprocessed C×H×W planes of one frame (exposed for tests and eval).
  static std::vector<float> preprocess(const Frame& frame, const PreprocessParams& p, CropGeometry* geometry);

 private:
  void emit(int64_t start);
  PreprocessParams pre_;
  WindowParams win_;
  std::deque<std::vector<float>> buffer_;  // last clipLen frames, preprocessed
  int64_t bufferStart_ = 0;                // frame index of buffer_.front()
  int64_t framesSeen_ = 0;
  int64_t nextStart_ = 0;                  // next regular window start
  int64_t lastEmittedStart_ = -1;
  int64_t windowCount_ = 0;
  CropGeometry geometry_;
  std::deque<Window> ready_;
};

}  // namespace ev
