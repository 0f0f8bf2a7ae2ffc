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

// What of the frame the model sees (--spatial, README "The whole frame"):
//   Crop   the centre crop of the resized frame (the rest of the frame is not seen)
//   Full   the whole frame resized to the crop size (the aspect ratio changes)
//   Tiles  as many crops of the resized frame as cover it, evenly spaced with overlap (e.g. a
//          128×171 resize with a 112 crop: 2×2 tiles); each is a window of its own, the class
//          comes from the mean logits over all of them, heatmaps are averaged where they overlap
enum class Spatial { Crop, Full, Tiles };
Spatial parseSpatial(const std::string& name);  // Error(Usage) naming crop, full, tiles
std::string spatialName(Spatial s);

// Defaults fit C3D/torchvision-style video models: resize to 128×171, centre crop 112×112,
// scale to [0,1], normalise with the Kinetics-400 mean/std torchvision's video models use.
struct PreprocessParams {
  int resizeHeight = 128, resizeWidth = 171;
  int cropHeight = 112, cropWidth = 112;
  float scale = 1.0f / 255.0f;  // uint8 value × scale, before mean/std
  std::array<float, 3> mean{0.43216f, 0.394666f, 0.37645f};   // in scaled units, RGB order
  std::array<float, 3> std{0.22803f, 0.22145f, 0.216989f};
  bool bgr = false;  // feed channels to the model as B,G,R (mean/std are then given in B,G,R)
  Spatial spatial = Spatial::Crop;
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

// Limits on what a window may be (refused with Error(Usage) before anything is allocated).
constexpr int kMaxClipLen = 1024;
constexpr int kMaxFrameSide = 4096;

struct WindowParams {
  int clipLen = 16;   // frames per window (the model's T)
  int stride = 8;     // source frames between window starts
  int frameStep = 1;  // a window takes every frameStep-th frame (mmaction2's frame_interval)
  // Source frames a window spans: (clipLen − 1)·frameStep + 1.
  int64_t span() const { return static_cast<int64_t>(clipLen - 1) * frameStep + 1; }
};

// How a crop was cut from a source frame: source → resize → crop.
struct CropGeometry {
  int sourceWidth = 0, sourceHeight = 0;
  int resizeWidth = 0, resizeHeight = 0;
  int cropX = 0, cropY = 0, cropWidth = 0, cropHeight = 0;
  int tile = 0;  // which of cropGeometries() (0 unless --spatial tiles)
};
// The first (for crop and full, the only) crop of a frame.
CropGeometry centreCropGeometry(int sourceWidth, int sourceHeight, const PreprocessParams& p);
// Every crop a frame gives the model, in the order windows are emitted (tiles row by row).
std::vector<CropGeometry> cropGeometries(int sourceWidth, int sourceHeight, const PreprocessParams& p);

// Window start frames for a video of n frames: 0, stride, 2·stride, … while the window's span
// fits, plus one last window aligned to the video's end when the stride leaves frames uncovered.
// A video shorter than one span gets a single window starting at 0 (padded, see below).
std::vector<int64_t> windowStarts(int64_t frameCount, const WindowParams& params);

struct Window {
  int64_t index = 0;             // 0-based window number
  std::vector<int64_t> frames;   // source frame index at each of the clipLen positions (start + t·frameStep)
  Volume input;                  // 1×3×clipLen×cropH×cropW, normalised
  CropGeometry geometry;
  int64_t firstFrame() const { return frames.front(); }
  int64_t lastFrame() const { return frames.back(); }
};

// Streaming sampler: push frames in order, pop windows as soon as they are complete. Holds at
// most span() preprocessed frames. Videos shorter than the span are padded by repeating the
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
  std::deque<std::vector<std::vector<float>>> buffer_;  // last span() frames, preprocessed, per crop
  int64_t bufferStart_ = 0;                // frame index of buffer_.front()
  int64_t framesSeen_ = 0;
  int64_t nextStart_ = 0;                  // next regular window start
  int64_t lastEmittedStart_ = -1;
  int64_t windowCount_ = 0;
  std::vector<CropGeometry> geometries_;
  std::deque<Window> ready_;
};

}  // namespace ev
