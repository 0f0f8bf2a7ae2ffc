#include "explain_video/heatmap.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "explain_video/error.hpp"

namespace ev {
namespace {

// Taps for resampling n cells onto m samples at 0..m-1, the cells centred at `given` (even
// tiling when it does not hold n centres).
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w1;  // weight of i1; i0 gets 1 - w1
};

Taps linearTaps(int64_t n, int64_t m, const std::vector<double>& given) {
  const std::vector<double> c = static_cast<int64_t>(given.size()) == n ? given : evenCellCentres(n, m);
  Taps t;
  t.i0.resize(m);
  t.i1.resize(m);
  t.w1.resize(m);
  for (int64_t j = 0; j < m; ++j) {
    const LinearTap tap = linearTap(c, static_cast<double>(j));
    t.i0[j] = tap.i0;
    t.i1[j] = tap.i1;
    t.w1[j] = static_cast<float>(tap.w1);
  }
  return t;
}

}  // namespace

std::vector<double> evenCellCentres(int64_t n, int64_t length) {
  std::vector<double> c(static_cast<size_t>(std::max<int64_t>(n, 0)));
  const double scale = static_cast<double>(length) / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) c[i] = (i + 0.5) * scale - 0.5;
  return c;
}

LinearTap linearTap(const std::vector<double>& c, double x) {
  const int64_t n = static_cast<int64_t>(c.size());
  if (n == 0 || x <= c[0]) return {};
  if (x >= c[n - 1]) return {n - 1, n - 1, 0.0};
  const int64_t k = std::upper_bound(c.begin(), c.end(), x) - c.begin() - 1;  // c[k] <= x < c[k+1]
  return {k, k + 1, (x - c[k]) / (c[k + 1] - c[k])};
}

Volume upsampleTrilinear(const Volume& v, int64_t T, int64_t H, int64_t W, const CellCentres& centres) {
  if (v.shape.size() != 3) throw Error(ErrorKind::Internal, "upsampleTrilinear needs a T×H×W volume");
  const int64_t t0 = v.shape[0], h0 = v.shape[1], w0 = v.shape[2];
  const Taps tt = linearTaps(t0, T, centres.t), th = linearTaps(h0, H, centres.h), tw = linearTaps(w0, W, centres.w);
  // Separable: time first on the small grid, then H, then W.
  std::vector<float> a(static_cast<size_t>(T * h0 * w0));
  const int64_t hw0 = h0 * w0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < hw0; ++i)
      a[t * hw0 + i] = v.data[tt.i0[t] * hw0 + i] * (1 - tt.w1[t]) + v.data[tt.i1[t] * hw0 + i] * tt.w1[t];
  std::vector<float> b(static_cast<size_t>(T * H * w0));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < w0; ++x)
        b[(t * H + y) * w0 + x] = a[(t * h0 + th.i0[y]) * w0 + x] * (1 - th.w1[y]) +
                                  a[(t * h0 + th.i1[y]) * w0 + x] * th.w1[y];
  Volume out({T, H, W});
  for (int64_t r = 0; r < T * H; ++r) {
    const float* src = b.data() + r * w0;
    float* dst = out.ptr() + r * W;
    for (int64_t x = 0; x < W; ++x) dst[x] = src[tw.i0[x]] * (1 - tw.w1[x]) + src[tw.i1[x]] * tw.w1[x];
  }
  return out;
}

std::vector<float> uncropToSource(const float* cropMap, const CropGeometry& g) {
  std::vector<float> out(static_cast<size_t>(g.sourceWidth) * g.sourceHeight, 0.f);
  cv::Mat src(g.cropHeight, g.cropWidth, CV_32F, const_cast<float*>(cropMap));
  cv::Mat dst(g.sourceHeight, g.sourceWidth, CV_32F, out.data());
  // Source pixel centre x maps to resized coordinate (x + 0.5)·sx − 0.5, then to crop
  // coordinate by subtracting the crop offset (the same half-pixel convention as the resize).
  const double sx = static_cast<double>(g.resizeWidth) / g.sourceWidth;
  const double sy = static_cast<double>(g.resizeHeight) / g.sourceHeight;
  cv::Mat m = (cv::Mat_<double>(2, 3) << sx, 0, 0.5 * sx - 0.5 - g.cropX, 0, sy, 0.5 * sy - 0.5 - g.cropY);
  cv::warpAffine(src, dst, m, dst.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  // Zero outside the crop's footprint: crop pixel k covers [k − 0.5, k + 0.5].
  for (int y = 0; y < g.sourceHeight; ++y) {
    const double cy = (y + 0.5) * sy - 0.5 - g.cropY;
    const bool rowIn = cy >= -0.5 && cy < g.cropHeight - 0.5;
    float* row = dst.ptr<float>(y);
    for (int x = 0; x < g.sourceWidth; ++x) {
      const double cx = (x + 0.5) * sx - 0.5 - g.cropX;
      if (!rowIn || cx < -0.5 || cx >= g.cropWidth - 0.5) row[x] = 0.f;
    }
  }
  return out;
}

void HeatmapAccumulator::add(const std::vector<int64_t>& frames, const Volume& up) {
  const size_t plane = static_cast<size_t>(h_) * w_;
  if (up.shape.size() != 3 || static_cast<size_t>(up.shape[0]) != frames.size() || up.size() != frames.size() * plane)
    throw Error(ErrorKind::Internal, "HeatmapAccumulator::add: map does not match the window");
  for (size_t t = 0; t < frames.size(); ++t) {
    Slot& s = acc_[frames[t]];
    if (s.sum.empty()) s.sum.assign(plane, 0.f);
    const float* src = up.ptr() + t * plane;
    for (size_t i = 0; i < plane; ++i) s.sum[i] += src[i];
    ++s.count;
  }
}

bool HeatmapAccumulator::popComplete(int64_t frontier, int64_t& frame, std::vector<float>& map) {
  if (acc_.empty() || acc_.begin()->first >= frontier) return false;
  auto it = acc_.begin();
  frame = it->first;
  map = std::move(it->second.sum);
  const float inv = 1.f / static_cast<float>(it->second.count);
  for (float& v : map) v *= inv;
  acc_.erase(it);
  return true;
}

}  // namespace ev
