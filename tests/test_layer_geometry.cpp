// Where a layer's cells sit in the model input (Model::cellCentres, src/model/layer_geometry),
// against centres worked out by hand from the architectures.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "explain_video/model.hpp"
#include "test_paths.hpp"

namespace {

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

const std::vector<int64_t> kC3dInput{1, 3, 16, 112, 112};

std::vector<double> affine(double first, double step, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(first + step * i);
  return v;
}

ev::CellCentres centresOf(const std::string& file, const std::string& layer, const std::vector<int64_t>& input,
                          std::string* why = nullptr) {
  ev::Model m(model(file), 1);
  m.setTargetLayer(layer);
  return m.cellCentres(input, why);
}

}  // namespace

// C3D: 3×3×3 convolutions with padding 1 keep every centre; each 2×2 pooling (no padding)
// centres cell j between its two inputs: pool1 (space only) 2j+0.5, pool2 4j+1.5, pool3 8j+3.5,
// pool4 16j+7.5 (7 cells). pool5 pads H and W by one: cell 0 covers row -1 (padding) and row 0,
// so it sits on row 0 (7.5); cells 1-3 on rows 1-2, 3-4, 5-6: 31.5, 63.5, 95.5. In time pool1
// keeps 16 frames, pool2-pool5 halve them: pool4 3.5 and 11.5, pool5 their mean 7.5.
TEST(LayerGeometry, C3dPoolsHandComputed) {
  for (const char* file : {"zoo_c3d_scripted.pt", "zoo_c3d_traced.pt"}) {
    std::string why;
    const ev::CellCentres p5 = centresOf(file, "pool5", kC3dInput, &why);
    EXPECT_EQ(why, "") << file;
    EXPECT_EQ(p5.t, (std::vector<double>{7.5})) << file;
    EXPECT_EQ(p5.h, (std::vector<double>{7.5, 31.5, 63.5, 95.5})) << file;
    EXPECT_EQ(p5.w, p5.h) << file;
    const ev::CellCentres p4 = centresOf(file, "pool4", kC3dInput);
    EXPECT_EQ(p4.t, (std::vector<double>{3.5, 11.5})) << file;
    EXPECT_EQ(p4.h, affine(7.5, 16, 7)) << file;
    const ev::CellCentres c5 = centresOf(file, "conv5b", kC3dInput);  // a same-padded conv keeps them
    EXPECT_EQ(c5.h, p4.h) << file;
    const ev::CellCentres p1 = centresOf(file, "pool1", kC3dInput);
    EXPECT_EQ(p1.t, affine(0, 1, 16)) << file;
    EXPECT_EQ(p1.w, affine(0.5, 2, 56)) << file;
  }
}

// torchvision's video ResNets: the stem (kernel 7, stride 2, padding 3 in space) and every
// stride-2 convolution (kernel 3, padding 1; the 1×1 downsample agrees) centre cell j on input
// 2j, so layer4 (stride 16 in space, 8 in time for r3d) has cells at 16j and 8j, not at the
// 16j+7.5 an even tiling assumes.
TEST(LayerGeometry, VideoResNetsCentreCellsOnTheirFirstPixel) {
  for (const char* file : {"zoo_r3d_18_scripted.pt", "zoo_r3d_18_traced.pt", "zoo_r2plus1d_18_scripted.pt",
                           "zoo_r2plus1d_18_traced.pt"}) {
    std::string why;
    const ev::CellCentres c = centresOf(file, "layer4", kC3dInput, &why);
    EXPECT_EQ(why, "") << file;
    EXPECT_EQ(c.t, (std::vector<double>{0, 8})) << file;
    EXPECT_EQ(c.h, affine(0, 16, 7)) << file;
    EXPECT_EQ(c.w, c.h) << file;
  }
}

// Pools whose stride defaults to the kernel (MaxPool3d((1, 2, 2)), MaxPool3d(2)), scripted and
// traced: conv3 of tiny_c3d sits behind pool1 (2j+0.5 in space) and pool2 (2j+0.5 in time,
// 4j+1.5 in space).
TEST(LayerGeometry, DefaultStridesAreTheKernel) {
  for (const char* file : {"tiny_c3d.pt", "tiny_c3d_traced.pt"}) {
    const ev::CellCentres c = centresOf(file, "conv3", {1, 3, 8, 32, 32});
    EXPECT_EQ(c.t, affine(0.5, 2, 4)) << file;
    EXPECT_EQ(c.h, affine(1.5, 4, 8)) << file;
    EXPECT_EQ(c.w, c.h) << file;
  }
}

// An op the walk does not model (here the global adaptive pool of tiny_c3d) gives no centres
// and names the op; the heatmap stage then tiles evenly.
TEST(LayerGeometry, UnmodelledOpsGiveNoCentresAndSayWhich) {
  std::string why;
  const ev::CellCentres c = centresOf("tiny_c3d.pt", "gap", {1, 3, 8, 32, 32}, &why);
  EXPECT_TRUE(c.empty());
  EXPECT_NE(why.find("aten::adaptive_avg_pool3d"), std::string::npos) << why;
}

// Keras-style "same" padding written as F.pad (tests/models/pipeline_models.py KerasSame), on a
// 8×15×15 input, worked by hand per axis:
//   F.pad(1, 1) + conv k3: centres stay 0..14 (0..7 in time);
//   F.pad(0, 1) + max_pool k2 s2: 15 → 8 cells at 2j + 0.5, the last (14 and a padded row) at 14;
//     time 8 → 4 at 0.5, 2.5, 4.5, 6.5;
//   F.max_pool3d(x, self.k, self.k), self.k = [1, 2, 2] (module attributes): space 8 → 4 at
//     1.5, 5.5, 9.5, (12.5 + 14)/2 = 13.25; time unchanged;
//   nn.MaxPool3d(2): space 3.5, (9.5 + 13.25)/2 = 11.375; time 1.5, 5.5.
// Without the F.pad the pooling would give 7 cells, not 8: the walk would disagree with the layer.
TEST(LayerGeometry, KerasSamePaddingAndAttributeKernels) {
  for (const char* file : {"keras_same_scripted.pt", "keras_same_traced.pt"}) {
    std::string why;
    const ev::CellCentres c = centresOf(file, "pool", {1, 3, 8, 15, 15}, &why);
    ASSERT_FALSE(c.empty()) << file << ": " << why;
    EXPECT_EQ(c.t, (std::vector<double>{1.5, 5.5})) << file;
    EXPECT_EQ(c.h, (std::vector<double>{3.5, 11.375})) << file;
    EXPECT_EQ(c.w, (std::vector<double>{3.5, 11.375})) << file;
    ev::Model m(model(file), 1);
    EXPECT_EQ(m.defaultLayer({1, 3, 8, 15, 15}), "pool") << file;
  }
}
