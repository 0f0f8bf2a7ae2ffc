#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "explain_video/error.hpp"
#include "explain_video/windows.hpp"

namespace ev {

Spatial parseSpatial(const std::string& name) {
  for (const Spatial s : {Spatial::Crop, Spatial::Full, Spatial::Tiles})
    if (name == spatialName(s)) return s;
  throw Error(ErrorKind::Usage, "unknown --spatial '" + name + "': choose crop, full or tiles");
}

std::string spatialName(Spatial s) {
  switch (s) {
    case Spatial::Crop: return "crop";
    case Spatial::Full: return "full";
    case Spatial::Tiles: return "tiles";
  }
  return "crop";
}

std::vector<CropGeometry> cropGeometries(int sourceWidth, int sourceHeight, const PreprocessParams& p) {
  const CropGeometry centre = centreCropGeometry(sourceWidth, sourceHeight, p);
  if (p.spatial != Spatial::Tiles) return {centre};
  // n = ⌈resize / crop⌉ tiles per axis, the first at 0, the last flush with the far edge.
  auto offsets = [](int resize, int crop) {
    const int n = (resize + crop - 1) / crop;
    std::vector<int> o;
    for (int i = 0; i < n; ++i) o.push_back(n == 1 ? (resize - crop) / 2 : static_cast<int>(std::lround(
                                                         static_cast<double>(i) * (resize - crop) / (n - 1))));
    return o;
  };
  std::vector<CropGeometry> out;
  for (int y : offsets(p.resizeHeight, p.cropHeight))
    for (int x : offsets(p.resizeWidth, p.cropWidth)) {
      CropGeometry g = centre;
      g.cropX = x, g.cropY = y;
      g.tile = static_cast<int>(out.size());
      out.push_back(g);
    }
  return out;
}

CropGeometry centreCropGeometry(int sourceWidth, int sourceHeight, const PreprocessParams& p) {
  if (p.spatial == Spatial::Full) {
    PreprocessParams full = p;
    full.spatial = Spatial::Crop;
    full.resizeHeight = p.cropHeight, full.resizeWidth = p.cropWidth;
    return centreCropGeometry(sourceWidth, sourceHeight, full);
  }
  CropGeometry g;
  g.sourceWidth = sourceWidth;
  g.sourceHeight = sourceHeight;
  g.resizeWidth = p.resizeWidth;
  g.resizeHeight = p.resizeHeight;
  g.cropWidth = p.cropWidth;
  g.cropHeight = p.cropHeight;
  if (p.cropWidth > p.resizeWidth || p.cropHeight > p.resizeHeight)
    throw Error(ErrorKind::Usage, "crop " + std::to_string(p.cropHeight) + "x" + std::to_string(p.cropWidth) +
                                      " is larger than the resize " + std::to_string(p.resizeHeight) + "x" +
                                      std::to_string(p.resizeWidth));
  g.cropX = (p.resizeWidth - p.cropWidth) / 2;
  g.cropY = (p.resizeHeight - p.cropHeight) / 2;
  return g;
}

std::vector<int64_t> windowStarts(int64_t n, const WindowParams& w) {
  std::vector<int64_t> starts;
  if (n <= 0) return starts;
  const int64_t span = w.span();
  if (n <= span) return {0};
  for (int64_t s = 0; s + span <= n; s += w.stride) starts.push_back(s);
  if (starts.back() + span < n) starts.push_back(n - span);
  return starts;
}

namespace {

// The resized frame's crop `g`, as the model's normalised C×H×W planes.
std::vector<float> cropPlanes(const cv::Mat& resized, const CropGeometry& g, const PreprocessParams& p) {
  const cv::Mat crop = resized(cv::Rect(g.cropX, g.cropY, g.cropWidth, g.cropHeight));
  const size_t plane = static_cast<size_t>(g.cropWidth) * g.cropHeight;
  std::vector<float> out(3 * plane);
  for (int c = 0; c < 3; ++c) {
    const int srcChannel = p.bgr ? 2 - c : c;  // model channel c reads RGB channel srcChannel
    const float a = p.scale / p.std[c];
    const float b = -p.mean[c] / p.std[c];
    float* dst = out.data() + c * plane;
    for (int y = 0; y < g.cropHeight; ++y) {
      const uint8_t* row = crop.ptr<uint8_t>(y);
      for (int x = 0; x < g.cropWidth; ++x) dst[y * g.cropWidth + x] = row[3 * x + srcChannel] * a + b;
    }
  }
  return out;
}

cv::Mat resizedFrame(const Frame& frame, const CropGeometry& g) {
  const cv::Mat src(frame.height, frame.width, CV_8UC3, const_cast<uint8_t*>(frame.rgb.data()));
  cv::Mat resized;
  // Bilinear with area averaging when shrinking, so small objects are not aliased away.
  const bool shrinking = g.resizeWidth < frame.width || g.resizeHeight < frame.height;
  cv::resize(src, resized, cv::Size(g.resizeWidth, g.resizeHeight), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return resized;
}

}  // namespace

std::vector<float> WindowSampler::preprocess(const Frame& frame, const PreprocessParams& p, CropGeometry* geometry) {
  const CropGeometry g = centreCropGeometry(frame.width, frame.height, p);
  if (geometry) *geometry = g;
  return cropPlanes(resizedFrame(frame, g), g, p);
}

WindowSampler::WindowSampler(const PreprocessParams& pre, const WindowParams& win) : pre_(pre), win_(win) {
  if (win.clipLen < 1) throw Error(ErrorKind::Usage, "--clip-len must be at least 1");
  // Documented limits (README): checked before anything is allocated for a window.
  if (win.clipLen > kMaxClipLen)
    throw Error(ErrorKind::Usage, "--clip-len " + std::to_string(win.clipLen) + " is more than " + std::to_string(kMaxClipLen) +
                                      " frames (one window would need " +
                                      // in double: any int sizes (the crop is checked below) overflow no integer
                                      std::to_string(static_cast<long long>(std::clamp(
                                          std::floor(3.0 * win.clipLen * pre.cropHeight * pre.cropWidth * 4 / (1 << 20)),
                                          -1e18, 1e18))) +
                                      " MiB)");
  if (pre.resizeWidth > kMaxFrameSide || pre.resizeHeight > kMaxFrameSide || pre.cropWidth > kMaxFrameSide ||
      pre.cropHeight > kMaxFrameSide)
    throw Error(ErrorKind::Usage, "--resize and --crop sides must be at most " + std::to_string(kMaxFrameSide));
  if (win.stride < 1) throw Error(ErrorKind::Usage, "--stride must be at least 1");
  if (win.frameStep < 1 || win.frameStep > 1000)
    throw Error(ErrorKind::Usage, "--frame-step must be 1..1000, not " + std::to_string(win.frameStep));
  if (pre.cropWidth < 1 || pre.cropHeight < 1 || pre.resizeWidth < 1 || pre.resizeHeight < 1)
    throw Error(ErrorKind::Usage, "resize and crop sizes must be positive");
  for (float s : pre.std)
    if (!(s > 0)) throw Error(ErrorKind::Usage, "--std values must be positive");
  centreCropGeometry(1, 1, pre);  // validates crop <= resize
}

void WindowSampler::push(const Frame& frame) {
  geometries_ = cropGeometries(frame.width, frame.height, pre_);
  const cv::Mat resized = resizedFrame(frame, geometries_.front());
  std::vector<std::vector<float>> crops;
  for (const CropGeometry& g : geometries_) crops.push_back(cropPlanes(resized, g, pre_));
  buffer_.push_back(std::move(crops));
  ++framesSeen_;
  if (static_cast<int64_t>(buffer_.size()) > win_.span()) {
    buffer_.pop_front();
    ++bufferStart_;
  }
  if (framesSeen_ == nextStart_ + win_.span()) {
    emit(nextStart_);
    nextStart_ += win_.stride;
  }
}

void WindowSampler::finish() {
  if (framesSeen_ == 0) return;
  const int64_t tailStart = std::max<int64_t>(0, framesSeen_ - win_.span());
  if (lastEmittedStart_ < tailStart || lastEmittedStart_ < 0) emit(tailStart);
}

void WindowSampler::emit(int64_t start) {
  // One window per crop (several only with --spatial tiles), in crop order.
  for (const CropGeometry& g : geometries_) {
    Window w;
    w.index = windowCount_++;
    w.geometry = g;
    const int64_t T = win_.clipLen;
    const size_t plane = static_cast<size_t>(pre_.cropWidth) * pre_.cropHeight;
    w.input = Volume({1, 3, T, pre_.cropHeight, pre_.cropWidth});
    for (int64_t t = 0; t < T; ++t) {
      // Padding for short videos: positions past the last frame repeat it.
      const int64_t f = std::min(start + t * win_.frameStep, framesSeen_ - 1);
      w.frames.push_back(f);
      const std::vector<float>& src = buffer_.at(static_cast<size_t>(f - bufferStart_)).at(static_cast<size_t>(g.tile));
      for (int c = 0; c < 3; ++c)
        std::copy(src.begin() + c * plane, src.begin() + (c + 1) * plane,
                  w.input.data.begin() + (static_cast<size_t>(c) * T + t) * plane);
    }
    ready_.push_back(std::move(w));
  }
  lastEmittedStart_ = start;
}

bool WindowSampler::pop(Window& window) {
  if (ready_.empty()) return false;
  window = std::move(ready_.front());
  ready_.pop_front();
  return true;
}

}  // namespace ev
