// Upsampling, un-cropping and averaging of maps over windows.
#include <gtest/gtest.h>

#include "explain_video/heatmap.hpp"
#include "explain_video/error.hpp"
#include "explain_video/npy.hpp"

// PyTorch's interpolate(align_corners=False) of [0, 1] to 4 samples: [0, 0.25, 0.75, 1].
TEST(Heatmap, TrilinearMatchesAlignCornersFalseInEachAxis) {
  const std::vector<float> expect{0, 0.25f, 0.75f, 1};
  ev::Volume t({2, 1, 1});
  t.data = {0, 1};
  ev::Volume up = ev::upsampleTrilinear(t, 4, 1, 1);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(up.data[i], expect[i]) << "T " << i;
  ev::Volume h({1, 2, 1});
  h.data = {0, 1};
  up = ev::upsampleTrilinear(h, 1, 4, 1);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(up.data[i], expect[i]) << "H " << i;
  ev::Volume w({1, 1, 2});
  w.data = {0, 1};
  up = ev::upsampleTrilinear(w, 1, 1, 4);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(up.data[i], expect[i]) << "W " << i;
  // Same size is the identity.
  ev::Volume v({2, 2, 2});
  for (int i = 0; i < 8; ++i) v.data[i] = static_cast<float>(i * i);
  EXPECT_EQ(ev::upsampleTrilinear(v, 2, 2, 2).data, v.data);
}

TEST(Heatmap, TrilinearMixesAxes) {
  // Corner values 0..7 at (t,h,w); the centre of a 2x2x2 → 4x4x4 upsampling at index (1,1,1)
  // sits at 0.25 along each axis: value = 4·0.25 + 2·0.25 + 1·0.25 = 1.75.
  ev::Volume v({2, 2, 2});
  for (int i = 0; i < 8; ++i) v.data[i] = static_cast<float>(i);
  ev::Volume up = ev::upsampleTrilinear(v, 4, 4, 4);
  EXPECT_FLOAT_EQ(up.data[(1 * 4 + 1) * 4 + 1], 1.75f);
  EXPECT_FLOAT_EQ(up.data[0], 0.f);
  EXPECT_FLOAT_EQ(up.data[63], 7.f);
}

// A crop of all ones lands exactly on the crop's footprint in the source frame: for 320x240
// resized to 171x128 and cropped 112x112 at (29, 8), source columns 54..263 and rows 15..224.
TEST(Heatmap, UncropCoversExactlyTheCropFootprint) {
  ev::PreprocessParams p;
  const ev::CropGeometry g = ev::centreCropGeometry(320, 240, p);
  std::vector<float> ones(112 * 112, 1.f);
  const std::vector<float> src = ev::uncropToSource(ones.data(), g);
  ASSERT_EQ(src.size(), 320u * 240u);
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 320; ++x) {
      const bool inside = x >= 54 && x <= 263 && y >= 15 && y <= 224;
      ASSERT_FLOAT_EQ(src[y * 320 + x], inside ? 1.f : 0.f) << x << "," << y;
    }
}
TEST(Heatmap, CropFootprintIsTheUncropsSupport) {
  const ev::PixelRect r = ev::cropFootprint(ev::centreCropGeometry(320, 240, ev::PreprocessParams{}));
  EXPECT_EQ(r.x, 54);
  EXPECT_EQ(r.y, 15);
  EXPECT_EQ(r.width, 263 - 54 + 1);
  EXPECT_EQ(r.height, 224 - 15 + 1);
}

// A single hot crop pixel comes back at the source position it was sampled from.
TEST(Heatmap, UncropPutsAPointBackWhereItCameFrom) {
  ev::PreprocessParams p;
  const ev::CropGeometry g = ev::centreCropGeometry(320, 240, p);
  std::vector<float> crop(112 * 112, 0.f);
  const int cx = 60, cy = 40;
  crop[cy * 112 + cx] = 1.f;
  const std::vector<float> src = ev::uncropToSource(crop.data(), g);
  const auto it = std::max_element(src.begin(), src.end());
  const int sx = static_cast<int>((it - src.begin()) % 320), sy = static_cast<int>((it - src.begin()) / 320);
  const double ex = (cx + 29 + 0.5) * 320.0 / 171.0 - 0.5, ey = (cy + 8 + 0.5) * 240.0 / 128.0 - 0.5;
  EXPECT_NEAR(sx, ex, 1.0);
  EXPECT_NEAR(sy, ey, 1.0);
}

TEST(Heatmap, AccumulatorAveragesOverlapsAndReleasesCompleteFrames) {
  ev::HeatmapAccumulator acc(1, 2);
  ev::Volume a({4, 1, 2}, 1.f), b({4, 1, 2}, 3.f);
  acc.add({0, 1, 2, 3}, a);
  int64_t f = -1;
  std::vector<float> m;
  EXPECT_TRUE(acc.popComplete(2, f, m));
  EXPECT_EQ(f, 0);
  EXPECT_EQ(m, (std::vector<float>{1, 1}));
  EXPECT_TRUE(acc.popComplete(2, f, m));
  EXPECT_EQ(f, 1);
  EXPECT_FALSE(acc.popComplete(2, f, m));  // frame 2 may still get windows
  acc.add({2, 3, 4, 5}, b);
  std::vector<float> expect{2, 2, 2, 3, 3};
  for (int64_t i = 2; i <= 5; ++i) {
    ASSERT_TRUE(acc.popComplete(INT64_MAX, f, m));
    EXPECT_EQ(f, i);
    EXPECT_FLOAT_EQ(m[0], i <= 3 ? 2.f : 3.f);
  }
  EXPECT_EQ(acc.pending(), 0u);
  // A padded window repeats its last frame: the repeats are averaged like overlaps.
  ev::Volume pad({3, 1, 2});
  pad.data = {1, 1, 2, 2, 6, 6};
  acc.add({0, 1, 1}, pad);
  ASSERT_TRUE(acc.popComplete(INT64_MAX, f, m));
  ASSERT_TRUE(acc.popComplete(INT64_MAX, f, m));
  EXPECT_EQ(f, 1);
  EXPECT_FLOAT_EQ(m[0], 4.f);
}

TEST(Npy, RoundTripAndHeaderAlignment) {
  const std::string path = ::testing::TempDir() + "/ev_npy_roundtrip.npy";
  ev::Volume v({2, 3, 4});
  for (size_t i = 0; i < v.size(); ++i) v.data[i] = static_cast<float>(i) * 0.5f - 3;
  ev::writeNpy(path, v);
  const ev::Volume r = ev::readNpy(path);
  EXPECT_EQ(r.shape, v.shape);
  EXPECT_EQ(r.data, v.data);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fclose(f);
  EXPECT_EQ((size - static_cast<long>(v.size() * 4)) % 64, 0);  // data starts 64-byte aligned
  ev::NpyStreamWriter w(path, {2});
  w.append(v.data.data(), 1);
  EXPECT_THROW(w.close(), ev::Error);  // promised 2 values, wrote 1
}

// With cell centres (Model::cellCentres) the interpolation runs between them: cells at 1 and 5
// of 8 samples; before the first and after the last the end value holds.
TEST(Heatmap, TrilinearInterpolatesBetweenGivenCellCentres) {
  ev::Volume w({1, 1, 2});
  w.data = {0, 1};
  ev::CellCentres c;
  c.w = {1, 5};
  const ev::Volume up = ev::upsampleTrilinear(w, 1, 1, 8, c);
  const std::vector<float> expect{0, 0, 0.25f, 0.5f, 0.75f, 1, 1, 1};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(up.data[i], expect[i]) << i;
  // Uneven spacing, as C3D's padded pool5 has (7.5, 31.5, 63.5, 95.5 of 112).
  ev::Volume h({1, 4, 1});
  h.data = {0, 1, 2, 3};
  ev::CellCentres p;
  p.h = {7.5, 31.5, 63.5, 95.5};
  const ev::Volume uh = ev::upsampleTrilinear(h, 1, 112, 1, p);
  EXPECT_FLOAT_EQ(uh.data[0], 0.f);
  EXPECT_FLOAT_EQ(uh.data[7], 0.f);                   // up to the first centre: cell 0
  EXPECT_FLOAT_EQ(uh.data[19], (19 - 7.5f) / 24);     // between 7.5 and 31.5
  EXPECT_FLOAT_EQ(uh.data[47], 1 + (47 - 31.5f) / 32); // between 31.5 and 63.5
  EXPECT_FLOAT_EQ(uh.data[111], 3.f);
  // Centres that do not match the volume's size are ignored: even tiling.
  ev::CellCentres wrong;
  wrong.w = {1, 2, 3};
  EXPECT_EQ(ev::upsampleTrilinear(w, 1, 1, 4, wrong).data, ev::upsampleTrilinear(w, 1, 1, 4).data);
}
