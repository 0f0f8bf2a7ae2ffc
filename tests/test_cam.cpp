// CAM formulas against values computed by hand on tiny tensors.
#include <gtest/gtest.h>

#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"

using ev::CamMethod;
using ev::Volume;

namespace {
Volume vol(std::vector<int64_t> shape, std::vector<float> values) {
  Volume v(std::move(shape));
  EXPECT_EQ(v.size(), values.size());
  v.data = std::move(values);
  return v;
}
}  // namespace

// A = [1, 3], g = [2, -1] over one channel, T=1, H=1, W=2.
// Grad-CAM: w = (2 - 1) / 2 = 0.5, map = [0.5, 1.5].
// Grad-CAM++: ΣA = 4; at g=2: α = 4 / (2·4 + 4·8) = 0.1, α·relu(g) = 0.2; g=-1 adds 0.
TEST(Cam, OneChannelByHand) {
  Volume a = vol({1, 1, 1, 2}, {1, 3});
  Volume g = vol({1, 1, 1, 2}, {2, -1});
  EXPECT_FLOAT_EQ(ev::camWeights(CamMethod::GradCam, a, g)[0], 0.5f);
  EXPECT_FLOAT_EQ(ev::camWeights(CamMethod::GradCamPlusPlus, a, g)[0], 0.2f);
  Volume m = ev::computeCam(CamMethod::GradCam, a, g);
  ASSERT_EQ(m.shape, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_FLOAT_EQ(m.data[0], 0.5f);
  EXPECT_FLOAT_EQ(m.data[1], 1.5f);
  m = ev::computeCam(CamMethod::GradCamPlusPlus, a, g);
  EXPECT_FLOAT_EQ(m.data[0], 0.2f);
  EXPECT_FLOAT_EQ(m.data[1], 0.6f);
}

// Channel 0: A=[1,2], g=[1,1]; channel 1: A=[4,0], g=[-1,-1].
// Grad-CAM: w = [1, -1]; map = relu([1-4, 2-0]) = [0, 2] (the negative sum is clipped).
// Grad-CAM++: ch0 ΣA=3, α = 1/(2+3) = 0.2 at both points, w0 = 0.4; ch1 has no positive
// gradient, w1 = 0; map = [0.4, 0.8].
TEST(Cam, NegativeGradientsAndRelu) {
  Volume a = vol({2, 1, 1, 2}, {1, 2, 4, 0});
  Volume g = vol({2, 1, 1, 2}, {1, 1, -1, -1});
  auto wg = ev::camWeights(CamMethod::GradCam, a, g);
  EXPECT_FLOAT_EQ(wg[0], 1.f);
  EXPECT_FLOAT_EQ(wg[1], -1.f);
  Volume m = ev::computeCam(CamMethod::GradCam, a, g);
  EXPECT_FLOAT_EQ(m.data[0], 0.f);
  EXPECT_FLOAT_EQ(m.data[1], 2.f);
  auto wp = ev::camWeights(CamMethod::GradCamPlusPlus, a, g);
  EXPECT_FLOAT_EQ(wp[0], 0.4f);
  EXPECT_FLOAT_EQ(wp[1], 0.f);
  m = ev::computeCam(CamMethod::GradCamPlusPlus, a, g);
  EXPECT_FLOAT_EQ(m.data[0], 0.4f);
  EXPECT_FLOAT_EQ(m.data[1], 0.8f);
}

// The sums of Eq. 19 run over time too. C=1, T=2, H=W=1: A=[1,1], g=[1,0.5], ΣA = 2.
// α(t=0) = 1/(2+2) = 0.25; α(t=1) = 0.25/(0.5 + 2·0.125) = 1/3.
// w = 0.25·1 + (1/3)·0.5 = 5/12. Per-frame sums (ΣA=1 each) would give 0.5333 instead.
TEST(Cam, AlphaSumsOverTime) {
  Volume a = vol({1, 2, 1, 1}, {1, 1});
  Volume g = vol({1, 2, 1, 1}, {1, 0.5f});
  EXPECT_NEAR(ev::camWeights(CamMethod::GradCamPlusPlus, a, g)[0], 5.0 / 12.0, 1e-6);
  EXPECT_FLOAT_EQ(ev::camWeights(CamMethod::GradCam, a, g)[0], 0.75f);
  Volume m = ev::computeCam(CamMethod::GradCamPlusPlus, a, g);
  ASSERT_EQ(m.shape, (std::vector<int64_t>{2, 1, 1}));
  EXPECT_NEAR(m.data[0], 5.0 / 12.0, 1e-6);
  EXPECT_NEAR(m.data[1], 5.0 / 12.0, 1e-6);
}

// Zero gradients and a zero activation: 2g² + ΣA·g³ = 0 only where g = 0 (skipped, alpha 0);
// at g=1 with ΣA = 0, α = 1/2, so w = 0.5, but the map is 0 because A is 0.
TEST(Cam, ZeroGradientAndZeroActivation) {
  Volume a = vol({1, 1, 1, 2}, {0, 0});
  Volume g = vol({1, 1, 1, 2}, {1, 0});
  EXPECT_FLOAT_EQ(ev::camWeights(CamMethod::GradCamPlusPlus, a, g)[0], 0.5f);
  Volume m = ev::computeCam(CamMethod::GradCamPlusPlus, a, g);
  EXPECT_FLOAT_EQ(m.data[0], 0.f);
  EXPECT_FLOAT_EQ(m.data[1], 0.f);
  Volume zero = vol({1, 1, 1, 2}, {0, 0});
  EXPECT_FLOAT_EQ(ev::camWeights(CamMethod::GradCamPlusPlus, a, zero)[0], 0.f);
  EXPECT_FLOAT_EQ(ev::camWeights(CamMethod::GradCam, a, zero)[0], 0.f);
}

// The denominator vanishes with g ≠ 0 when ΣA·g = -2: A = [-1,-1], g = [1,1] gives
// 2·1 + (-2)·1 = 0 exactly, so α = 0 there (not inf/NaN) and w = 0.
TEST(Cam, ZeroDenominatorGivesZeroAlpha) {
  Volume a = vol({1, 1, 1, 2}, {-1, -1});
  Volume g = vol({1, 1, 1, 2}, {1, 1});
  const float w = ev::camWeights(CamMethod::GradCamPlusPlus, a, g)[0];
  EXPECT_FLOAT_EQ(w, 0.f);
  Volume m = ev::computeCam(CamMethod::GradCamPlusPlus, a, g);
  for (float v : m.data) EXPECT_FLOAT_EQ(v, 0.f);
}

TEST(Cam, MethodNames) {
  EXPECT_EQ(ev::parseCamMethod("gradcam"), CamMethod::GradCam);
  EXPECT_EQ(ev::parseCamMethod("gradcam++"), CamMethod::GradCamPlusPlus);
  EXPECT_EQ(ev::camMethodName(CamMethod::GradCamPlusPlus), "gradcam++");
  try {
    ev::parseCamMethod("scorecam");
    FAIL() << "no exception";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("unknown method 'scorecam'"), std::string::npos);
  }
}

TEST(Cam, ShapeMismatchThrows) {
  Volume a({1, 1, 1, 2});
  Volume g({1, 1, 2, 1});
  EXPECT_THROW(ev::computeCam(CamMethod::GradCam, a, g), ev::Error);
}
