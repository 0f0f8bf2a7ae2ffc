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

PixelRect cropFootprint(const CropGeometry& g) {
  // The `in` rule of uncropToSource: resized coordinate (x + 0.5)·s − 0.5 − offset within
  // [−0.5, crop − 0.5).
  auto span = [](int n, double scale, int offset, int cropN, int& first, int& count) {
    first = -1, count = 0;
    for (int x = 0; x < n; ++x) {
      const double c = (x + 0.5) * scale - 0.5 - offset;
      if (c >= -0.5 && c < cropN - 0.5) {
        if (first < 0) first = x;
        ++count;
      }
    }
    if (first < 0) first = 0;
  };
  PixelRect r;
  if (g.sourceWidth <= 0 || g.sourceHeight <= 0) return r;
  span(g.sourceWidth, static_cast<double>(g.resizeWidth) / g.sourceWidth, g.cropX, g.cropWidth, r.x, r.width);
  span(g.sourceHeight, static_cast<double>(g.resizeHeight) / g.sourceHeight, g.cropY, g.cropHeight, r.y, r.height);
  return r;
}

std::vector<float> uncropToSource(const float* cropMap, const CropGeometry& g) {
  const int W = g.sourceWidth, H = g.sourceHeight, cw = g.cropWidth, ch = g.cropHeight;
  std::vector<float> out(static_cast<size_t>(W) * H, 0.f);
  if (cw <= 0 || ch <= 0) return out;
  // Source pixel centre x maps to resized coordinate (x + 0.5)·sx − 0.5, then to crop
  // coordinate by subtracting the crop offset (the same half-pixel convention as the resize).
  // Bilinear between crop pixels, the edge pixel held beyond the outermost centres; zero
  // outside the crop's footprint (crop pixel k covers [k − 0.5, k + 0.5]). Separable: along x
  // for every crop row, then along y.
  struct Tap {
    int i0, i1;
    float w1;
    bool in;
  };
  auto taps = [](int n, double scale, int offset, int cropN) {
    std::vector<Tap> t(static_cast<size_t>(n));
    for (int x = 0; x < n; ++x) {
      const double c = (x + 0.5) * scale - 0.5 - offset;
      Tap& tp = t[static_cast<size_t>(x)];
      tp.in = c >= -0.5 && c < cropN - 0.5;
      const double cc = std::clamp(c, 0.0, static_cast<double>(cropN - 1));
      tp.i0 = std::min(static_cast<int>(std::floor(cc)), cropN - 1);
      tp.i1 = std::min(tp.i0 + 1, cropN - 1);
      tp.w1 = static_cast<float>(cc - tp.i0);
    }
    return t;
  };
  const std::vector<Tap> tx = taps(W, static_cast<double>(g.resizeWidth) / W, g.cropX, cw);
  const std::vector<Tap> ty = taps(H, static_cast<double>(g.resizeHeight) / H, g.cropY, ch);
  std::vector<float> rows(static_cast<size_t>(ch) * W, 0.f);
  for (int r = 0; r < ch; ++r) {
    const float* src = cropMap + static_cast<size_t>(r) * cw;
    float* dst = rows.data() + static_cast<size_t>(r) * W;
    for (int x = 0; x < W; ++x) {
      const Tap& t = tx[static_cast<size_t>(x)];
      if (t.in) dst[x] = src[t.i0] + (src[t.i1] - src[t.i0]) * t.w1;
    }
  }
  for (int y = 0; y < H; ++y) {
    const Tap& t = ty[static_cast<size_t>(y)];
    if (!t.in) continue;
    const float* a = rows.data() + static_cast<size_t>(t.i0) * W;
    const float* b = rows.data() + static_cast<size_t>(t.i1) * W;
    float* dst = out.data() + static_cast<size_t>(y) * W;
    for (int x = 0; x < W; ++x) dst[x] = a[x] + (b[x] - a[x]) * t.w1;
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
