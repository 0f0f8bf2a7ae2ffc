#include "explain_video/localization.hpp"

#include <algorithm>
#include <cmath>

namespace ev {
namespace {
bool inside(const Box& b, int x, int y) { return x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h; }
}  // namespace

Box dilateBox(const Box& b, int marginX, int marginY, int width, int height) {
  if (b.empty()) return b;
  const int x0 = std::max(0, b.x - marginX), y0 = std::max(0, b.y - marginY);
  const int x1 = std::min(width, b.x + b.w + marginX), y1 = std::min(height, b.y + b.h + marginY);
  return Box{x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

bool pointingHit(const float* heat, int width, int height, const Box& box) {
  const size_t n = static_cast<size_t>(width) * height;
  const float* best = std::max_element(heat, heat + n);
  if (n == 0 || !(*best > 0.f)) return false;
  const auto i = static_cast<int>(best - heat);
  return inside(box, i % width, i / width);
}

double heatShareInBox(const float* heat, int width, int height, const Box& box) {
  double in = 0, all = 0;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double v = heat[static_cast<size_t>(y) * width + x];
      all += v;
      if (inside(box, x, y)) in += v;
    }
  return all > 0 ? in / all : 0.0;
}

double thresholdIoU(const float* heat, int width, int height, const Box& box, double threshold) {
  const size_t n = static_cast<size_t>(width) * height;
  const float m = n ? *std::max_element(heat, heat + n) : 0.f;
  if (!(m > 0.f)) return 0.0;
  const double level = threshold * m;
  long inter = 0, uni = 0;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const bool on = heat[static_cast<size_t>(y) * width + x] >= level;
      const bool in = inside(box, x, y);
      inter += on && in;
      uni += on || in;
    }
  return uni ? static_cast<double>(inter) / uni : 0.0;
}

double meanHeat(const float* heat, int width, int height) {
  const size_t n = static_cast<size_t>(width) * height;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += heat[i];
  return n ? s / n : 0.0;
}

InstanceScores scoreInstances(const float* heat, int width, int height, const std::vector<Box>& boxes,
                              double peakFraction, int marginX, int marginY) {
  InstanceScores s;
  s.found.assign(boxes.size(), false);
  s.heat.assign(boxes.size(), 0.0);
  std::vector<Box> grown;
  for (const Box& b : boxes) grown.push_back(dilateBox(b, marginX, marginY, width, height));
  const size_t n = static_cast<size_t>(width) * height;
  if (n == 0) return s;
  const float peak = *std::max_element(heat, heat + n);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const float v = heat[static_cast<size_t>(y) * width + x];
      for (size_t i = 0; i < boxes.size(); ++i)
        if (inside(boxes[i], x, y)) s.heat[i] += v;
      if (!(v > 0.f) || v < peakFraction * peak) continue;
      bool isMax = true;
      for (int dy = -1; dy <= 1 && isMax; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if ((dx || dy) && xx >= 0 && yy >= 0 && xx < width && yy < height &&
              heat[static_cast<size_t>(yy) * width + xx] > v) {
            isMax = false;
            break;
          }
        }
      if (!isMax) continue;
      for (size_t i = 0; i < grown.size(); ++i)
        if (inside(grown[i], x, y)) s.found[i] = true;
    }
  return s;
}

double gini(const std::vector<double>& x) {
  if (x.size() < 2) return 0.0;
  double sum = 0, diff = 0;
  for (double a : x) sum += a;
  if (!(sum > 0)) return 0.0;
  for (double a : x)
    for (double b : x) diff += std::abs(a - b);
  return diff / (2.0 * static_cast<double>(x.size()) * sum);
}

}  // namespace ev
