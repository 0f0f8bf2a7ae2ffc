// Window planning, streaming sampler and preprocessing.
#include <gtest/gtest.h>

#include "explain_video/error.hpp"
#include "explain_video/windows.hpp"

using ev::WindowParams;

TEST(Windows, StartsCoverEveryFrameAndAlignTheLastToTheEnd) {
  EXPECT_EQ(ev::windowStarts(45, {16, 8}), (std::vector<int64_t>{0, 8, 16, 24, 29}));
  EXPECT_EQ(ev::windowStarts(48, {16, 8}), (std::vector<int64_t>{0, 8, 16, 24, 32}));
  EXPECT_EQ(ev::windowStarts(16, {16, 8}), (std::vector<int64_t>{0}));
  EXPECT_EQ(ev::windowStarts(17, {16, 8}), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ev::windowStarts(10, {16, 8}), (std::vector<int64_t>{0}));  // padded
  EXPECT_EQ(ev::windowStarts(40, {16, 32}), (std::vector<int64_t>{0, 24}));  // stride > clip: end-aligned tail
  EXPECT_TRUE(ev::windowStarts(0, {16, 8}).empty());
}

namespace {
ev::Frame flatFrame(int64_t index, uint8_t r, uint8_t g, uint8_t b, int w = 40, int h = 30) {
  ev::Frame f;
  f.width = w, f.height = h, f.index = index;
  f.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < f.rgb.size(); i += 3) f.rgb[i] = r, f.rgb[i + 1] = g, f.rgb[i + 2] = b;
  return f;
}

ev::PreprocessParams smallPre() {
  ev::PreprocessParams p;
  p.resizeHeight = 12, p.resizeWidth = 16, p.cropHeight = 8, p.cropWidth = 8;
  p.mean = {0.5f, 0.25f, 0.125f};
  p.std = {0.5f, 0.25f, 0.5f};
  return p;
}
}  // namespace

// The sampler emits the same windows windowStarts plans, each position holding its frame.
TEST(Windows, SamplerMatchesThePlanAndCarriesTheRightFrames) {
  for (int n : {45, 48, 10, 17}) {
    ev::WindowSampler s(smallPre(), {16, 8});
    std::vector<ev::Window> got;
    ev::Window w;
    for (int i = 0; i < n; ++i) {
      s.push(flatFrame(i, static_cast<uint8_t>(i), 0, 0));
      while (s.pop(w)) got.push_back(w);
    }
    s.finish();
    while (s.pop(w)) got.push_back(w);
    const auto starts = ev::windowStarts(n, {16, 8});
    ASSERT_EQ(got.size(), starts.size()) << "n=" << n;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].index, static_cast<int64_t>(k));
      EXPECT_EQ(got[k].input.shape, (std::vector<int64_t>{1, 3, 16, 8, 8}));
      for (int t = 0; t < 16; ++t) {
        const int64_t expectFrame = std::min<int64_t>(starts[k] + t, n - 1);  // padding repeats the last
        EXPECT_EQ(got[k].frames[t], expectFrame);
        // Channel 0 (R) at position t holds frame expectFrame's value: (v/255 - 0.5)/0.5.
        const float v = got[k].input.data[static_cast<size_t>(t) * 64 + 9];
        EXPECT_NEAR(v, (expectFrame / 255.0f - 0.5f) / 0.5f, 1e-5) << "n=" << n << " window " << k << " t=" << t;
      }
    }
  }
}

TEST(Windows, NormalisesPerChannelInRgbOrBgrOrder) {
  ev::PreprocessParams p = smallPre();
  const ev::Frame f = flatFrame(0, 204, 102, 51);  // 0.8, 0.4, 0.2
  auto rgb = ev::WindowSampler::preprocess(f, p, nullptr);
  ASSERT_EQ(rgb.size(), 3u * 64);
  EXPECT_NEAR(rgb[0], (0.8f - 0.5f) / 0.5f, 1e-5);
  EXPECT_NEAR(rgb[64], (0.4f - 0.25f) / 0.25f, 1e-5);
  EXPECT_NEAR(rgb[128], (0.2f - 0.125f) / 0.5f, 1e-5);
  p.bgr = true;  // channel 0 is now blue, normalised with mean[0]/std[0]
  auto bgr = ev::WindowSampler::preprocess(f, p, nullptr);
  EXPECT_NEAR(bgr[0], (0.2f - 0.5f) / 0.5f, 1e-5);
  EXPECT_NEAR(bgr[64], (0.4f - 0.25f) / 0.25f, 1e-5);
  EXPECT_NEAR(bgr[128], (0.8f - 0.125f) / 0.5f, 1e-5);
}

TEST(Windows, CentreCropGeometry) {
  ev::PreprocessParams p;  // 128x171 -> 112x112
  const ev::CropGeometry g = ev::centreCropGeometry(320, 240, p);
  EXPECT_EQ(g.cropX, 29);
  EXPECT_EQ(g.cropY, 8);
  EXPECT_EQ(g.cropWidth, 112);
  p.cropWidth = 200;
  EXPECT_THROW(ev::centreCropGeometry(320, 240, p), ev::Error);
}

TEST(Windows, RejectsBadParameters) {
  EXPECT_THROW(ev::WindowSampler(smallPre(), {0, 8}), ev::Error);
  EXPECT_THROW(ev::WindowSampler(smallPre(), {16, 0}), ev::Error);
  ev::PreprocessParams p = smallPre();
  p.std[1] = 0;
  EXPECT_THROW(ev::WindowSampler(p, {16, 8}), ev::Error);
}

// --frame-step k: a window spans (clip-len − 1)·k + 1 frames and takes every k-th.
TEST(Windows, FrameStepSpansAndSamplesEveryKthFrame) {
  WindowParams w{4, 3};
  w.frameStep = 2;
  EXPECT_EQ(w.span(), 7);
  EXPECT_EQ(ev::windowStarts(20, w), (std::vector<int64_t>{0, 3, 6, 9, 12, 13}));  // 13 = 20 − 7, end-aligned
  EXPECT_EQ(ev::windowStarts(5, w), (std::vector<int64_t>{0}));                      // shorter than a span: padded
  ev::WindowSampler s(smallPre(), w);
  for (int i = 0; i < 20; ++i) s.push(flatFrame(i, static_cast<uint8_t>(10 * i), 0, 0));
  s.finish();
  std::vector<std::vector<int64_t>> frames;
  ev::Window win;
  while (s.pop(win)) {
    frames.push_back(win.frames);
    // Position t holds frame start + 2t: its red value is 10·(start + 2t).
    const size_t plane = 8 * 8;
    for (int t = 0; t < 4; ++t) {
      const float r = win.input.data[static_cast<size_t>(t) * plane];
      EXPECT_NEAR(r, (10.f * win.frames[t] / 255.f - 0.5f) / 0.5f, 1e-4) << t;
    }
  }
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames[1], (std::vector<int64_t>{3, 5, 7, 9}));
  EXPECT_EQ(frames[5], (std::vector<int64_t>{13, 15, 17, 19}));
}

// --spatial: tiles cover the resized frame (⌈resize / crop⌉ per axis, evenly from edge to edge),
// full resizes the whole frame to the crop.
TEST(Windows, SpatialTilesAndFull) {
  ev::PreprocessParams p;  // 128×171 → 112×112
  p.spatial = ev::Spatial::Tiles;
  const std::vector<ev::CropGeometry> t = ev::cropGeometries(320, 240, p);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(std::make_pair(t[0].cropX, t[0].cropY), std::make_pair(0, 0));
  EXPECT_EQ(std::make_pair(t[1].cropX, t[1].cropY), std::make_pair(59, 0));
  EXPECT_EQ(std::make_pair(t[2].cropX, t[2].cropY), std::make_pair(0, 16));
  EXPECT_EQ(std::make_pair(t[3].cropX, t[3].cropY), std::make_pair(59, 16));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t[static_cast<size_t>(i)].tile, i);
  p.resizeHeight = 112, p.resizeWidth = 112;  // one tile: the crop itself
  EXPECT_EQ(ev::cropGeometries(320, 240, p).size(), 1u);
  p = ev::PreprocessParams{};
  p.spatial = ev::Spatial::Full;
  const ev::CropGeometry f = ev::centreCropGeometry(320, 240, p);
  EXPECT_EQ(f.resizeWidth, 112);
  EXPECT_EQ(f.resizeHeight, 112);
  EXPECT_EQ(f.cropX, 0);
  EXPECT_EQ(f.cropY, 0);
  // The sampler emits one window per tile for each start, in tile order.
  ev::PreprocessParams small = smallPre();  // 12×16 → 8×8: 2×2 tiles
  small.spatial = ev::Spatial::Tiles;
  ev::WindowSampler s(small, {2, 2});
  for (int i = 0; i < 4; ++i) s.push(flatFrame(i, 100, 0, 0));
  s.finish();
  ev::Window w;
  std::vector<int> tiles;
  while (s.pop(w)) tiles.push_back(w.geometry.tile);
  EXPECT_EQ(tiles, (std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_THROW(ev::parseSpatial("centre"), ev::Error);
}
