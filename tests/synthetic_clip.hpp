// Synthetic clips with known ground truth for frame-level tests: a red square moves over a
// textured grey background, present only in frames [presentFrom, presentTo); a static blue
// square (a distractor, and the tell-tale of an RGB/BGR swap) sits elsewhere in every frame.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "explain_video/video.hpp"

namespace evtest {

struct Box {
  int x = 0, y = 0, w = 0, h = 0;  // w == 0: absent
  bool contains(int px, int py, int margin) const {
    return w > 0 && px >= x - margin && px < x + w + margin && py >= y - margin && py < y + h + margin;
  }
};

struct SquareClip {
  int width = 320, height = 240, frames = 45, fpsNum = 25;
  int size = 28;
  int presentFrom = 10, presentTo = 30;
  Box blue{200, 36, 26, 26};
  std::vector<Box> boxes;  // red square per frame, filled by makeFrames
};

// A box reaching outside the frame is the test's mistake (it wrote past the pixel buffer once):
// it throws, in every build, instead of drawing somewhere else.
inline void fillRect(ev::Frame& f, const Box& b, uint8_t r, uint8_t g, uint8_t bl) {
  if (b.x < 0 || b.y < 0 || b.w < 0 || b.h < 0 || b.x + b.w > f.width || b.y + b.h > f.height)
    throw std::logic_error("fillRect: box " + std::to_string(b.w) + "x" + std::to_string(b.h) + " at (" +
                           std::to_string(b.x) + "," + std::to_string(b.y) + ") outside the " +
                           std::to_string(f.width) + "x" + std::to_string(f.height) + " frame");
  for (int y = b.y; y < b.y + b.h; ++y)
    for (int x = b.x; x < b.x + b.w; ++x) {
      uint8_t* p = &f.rgb[(static_cast<size_t>(y) * f.width + x) * 3];
      p[0] = r, p[1] = g, p[2] = bl;
    }
}

inline std::vector<ev::Frame> makeFrames(SquareClip& c) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> noise(-10, 10);
  std::vector<ev::Frame> frames;
  c.boxes.assign(c.frames, Box{});
  const int span = std::max(1, c.presentTo - c.presentFrom - 1);
  for (int i = 0; i < c.frames; ++i) {
    ev::Frame f;
    f.width = c.width, f.height = c.height, f.index = i;
    f.rgb.resize(static_cast<size_t>(c.width) * c.height * 3);
    for (int y = 0; y < c.height; ++y)
      for (int x = 0; x < c.width; ++x) {
        const int v = 100 + static_cast<int>(40 * std::sin(x / 6.0) * std::cos(y / 9.0)) + noise(rng);
        uint8_t* p = &f.rgb[(static_cast<size_t>(y) * c.width + x) * 3];
        p[0] = p[1] = p[2] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    fillRect(f, c.blue, 20, 40, 235);
    if (i >= c.presentFrom && i < c.presentTo) {
      // Left to right across the centre crop, bobbing vertically: the path drawn for 320x240,
      // scaled to the clip's size (the same pixels at 320x240).
      const int k = i - c.presentFrom;
      const int x0 = 70 * c.width / 320, travel = 170 * c.width / 320 - c.size;
      const int y0 = 120 * c.height / 240;
      Box b{x0 + travel * k / span, y0 + static_cast<int>(25.0 * c.height / 240 * std::sin(k / 3.0)), c.size, c.size};
      fillRect(f, b, 235, 20, 20);
      c.boxes[i] = b;
    }
    frames.push_back(std::move(f));
  }
  return frames;
}

inline void writeSquareClip(const std::string& path, SquareClip& c) {
  std::vector<ev::Frame> frames = makeFrames(c);
  ev::VideoWriterOptions o;
  o.width = c.width, o.height = c.height, o.fpsNum = c.fpsNum, o.fpsDen = 1, o.crf = 12;
  ev::VideoWriter w(path, o);
  for (const auto& f : frames) w.write(f);
  w.close();
}

}  // namespace evtest
