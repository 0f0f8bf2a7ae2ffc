// Every CAM formula against values computed by hand on tiny tensors (C×T×H×W volumes).
#include <gtest/gtest.h>

#include <cmath>

#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"

using ev::Volume;

namespace {

Volume vol(std::vector<int64_t> shape, std::vector<float> values) {
  Volume v(std::move(shape));
  EXPECT_EQ(v.size(), values.size());
  v.data = std::move(values);
  return v;
}

Volume cam(const std::string& method, const Volume& a, const Volume* g, const std::vector<float>* w = nullptr,
           ev::CamNotes* notes = nullptr) {
  ev::CamInputs in;
  in.activation = &a;
  in.gradient = g;
  in.classWeights = w;
  return ev::computeCam(method, in, notes);
}

void expectMap(const Volume& m, std::vector<float> want, double tol = 1e-6) {
  ASSERT_EQ(m.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(m.data[i], want[i], tol) << "cell " << i;
}

}  // namespace

// A = [1, 3], g = [2, -1] over one channel, T=1, H=1, W=2.
// Grad-CAM: w = (2 - 1) / 2 = 0.5, map = [0.5, 1.5].
// Grad-CAM++: ΣA = 4; at g=2: α = 4 / (2·4 + 4·8) = 0.1, α·relu(g) = 0.2; g=-1 adds 0; map = [0.2, 0.6].
TEST(Cam, OneChannelByHand) {
  const Volume a = vol({1, 1, 1, 2}, {1, 3});
  const Volume g = vol({1, 1, 1, 2}, {2, -1});
  Volume m = cam("gradcam", a, &g);
  ASSERT_EQ(m.shape, (std::vector<int64_t>{1, 1, 2}));
  expectMap(m, {0.5f, 1.5f});
  expectMap(cam("gradcam++", a, &g), {0.2f, 0.6f});
}

// Channel 0: A=[1,2], g=[1,1]; channel 1: A=[4,0], g=[-1,-1].
// Grad-CAM: w = [1, -1]; map = relu([1-4, 2-0]) = [0, 2] (the negative sum is clipped).
// Grad-CAM++: ch0 ΣA=3, α = 1/(2+3) = 0.2 at both points, w0 = 0.4; ch1 has no positive
// gradient, w1 = 0; map = [0.4, 0.8].
TEST(Cam, NegativeGradientsAndRelu) {
  const Volume a = vol({2, 1, 1, 2}, {1, 2, 4, 0});
  const Volume g = vol({2, 1, 1, 2}, {1, 1, -1, -1});
  expectMap(cam("gradcam", a, &g), {0.f, 2.f});
  expectMap(cam("gradcam++", a, &g), {0.4f, 0.8f});
}

// The sums of Eq. 19 run over time too. C=1, T=2, H=W=1: A=[1,1], g=[1,0.5], ΣA = 2.
// α(t=0) = 1/(2+2) = 0.25; α(t=1) = 0.25/(0.5 + 2·0.125) = 1/3.
// w = 0.25·1 + (1/3)·0.5 = 5/12 (per-frame sums, ΣA=1 each, would give 0.5333 instead).
// Grad-CAM: w = 0.75.
TEST(Cam, AlphaSumsOverTime) {
  const Volume a = vol({1, 2, 1, 1}, {1, 1});
  const Volume g = vol({1, 2, 1, 1}, {1, 0.5f});
  const Volume m = cam("gradcam++", a, &g);
  ASSERT_EQ(m.shape, (std::vector<int64_t>{2, 1, 1}));
  expectMap(m, {5.f / 12, 5.f / 12});
  expectMap(cam("gradcam", a, &g), {0.75f, 0.75f});
}

// ΣA = 0 in a channel: A = [1, -1], g = [1, 0]: at g=1, α = 1/(2 + 0) = 0.5, w = 0.5;
// the map is relu(0.5·[1, -1]) = [0.5, 0]. A zero gradient gives a zero map.
TEST(Cam, ZeroActivationSumAndZeroGradient) {
  const Volume a = vol({1, 1, 1, 2}, {1, -1});
  const Volume g = vol({1, 1, 1, 2}, {1, 0});
  expectMap(cam("gradcam++", a, &g), {0.5f, 0.f});
  const Volume zero = vol({1, 1, 1, 2}, {0, 0});
  for (const char* m : {"gradcam++", "gradcam", "xgradcam", "layercam", "hirescam", "gradcam-per-time"})
    expectMap(cam(m, a, &zero), {0.f, 0.f});
}

// The negative-denominator rule. Channel 0: A = [-3, 0] (ΣA = -3), g = [1, 1]: 2g² + ΣA·g³ =
// 2 - 3 = -1 < 0, so α = 0 in both cells (the plain formula would give α = -1, w0 = -2 and the
// map relu(-2·[-3, 0]) = [6, 0]). Channel 1: A = [1, 1], g = [0.5, 0.5]: ΣA = 2,
// α = 0.25 / (0.5 + 0.25) = 1/3, w1 = 2 · (1/3) · 0.5 = 1/3, map = [1/3, 1/3].
// Two cells had their α clamped.
TEST(Cam, GradCamPlusPlusNegativeDenominatorGivesZeroAlpha) {
  const Volume a = vol({2, 1, 1, 2}, {-3, 0, 1, 1});
  const Volume g = vol({2, 1, 1, 2}, {1, 1, 0.5f, 0.5f});
  ev::CamNotes notes;
  expectMap(cam("gradcam++", a, &g, nullptr, &notes), {1.f / 3, 1.f / 3});
  EXPECT_EQ(notes.clampedAlphaCells, 2);
}

// The denominator vanishes with g ≠ 0 when ΣA·g = -2: A = [-1,-1], g = [1,1] gives
// 2·1 + (-2)·1 = 0 exactly, so α = 0 there (not inf/NaN) and w = 0.
TEST(Cam, GradCamPlusPlusZeroDenominatorGivesZeroAlpha) {
  const Volume a = vol({1, 1, 1, 2}, {-1, -1});
  const Volume g = vol({1, 1, 1, 2}, {1, 1});
  ev::CamNotes notes;
  expectMap(cam("gradcam++", a, &g, nullptr, &notes), {0.f, 0.f});
  EXPECT_EQ(notes.clampedAlphaCells, 2);
  // A layer after its ReLU (A ≥ 0) never needs the rule.
  const Volume pos = vol({1, 1, 1, 2}, {1, 0});
  cam("gradcam++", pos, &g, nullptr, &notes);
  EXPECT_EQ(notes.clampedAlphaCells, 0);
}

// Per time step: C=1, T=2, H=1, W=2, A = [[1,2],[3,4]], g = [[1,1],[-1,0]].
// w_t0 = mean(1,1) = 1 → [1, 2]; w_t1 = mean(-1,0) = -0.5 → relu(-0.5·[3,4]) = [0, 0].
// Grad-CAM with one weight over time: w = mean(1,1,-1,0) = 0.25 → [0.25, 0.5, 0.75, 1].
TEST(Cam, GradCamPerTimeWeighsEachTimeStep) {
  const Volume a = vol({1, 2, 1, 2}, {1, 2, 3, 4});
  const Volume g = vol({1, 2, 1, 2}, {1, 1, -1, 0});
  expectMap(cam("gradcam-per-time", a, &g), {1.f, 2.f, 0.f, 0.f});
  expectMap(cam("gradcam", a, &g), {0.25f, 0.5f, 0.75f, 1.f});
}

// XGrad-CAM: ch0 A=[1,3], g=[2,-1]: Σ(A·g) = -1, ΣA = 4, w0 = -0.25; ch1 A=[2,0], g=[1,1]:
// w1 = 2/2 = 1; ch2 A=[1,-1], g=[5,0]: ΣA = 0, so w2 = 0 (not inf).
// map = relu(-0.25·[1,3] + [2,0]) = [1.75, 0].
TEST(Cam, XGradCamByHand) {
  const Volume a = vol({3, 1, 1, 2}, {1, 3, 2, 0, 1, -1});
  const Volume g = vol({3, 1, 1, 2}, {2, -1, 1, 1, 5, 0});
  expectMap(cam("xgradcam", a, &g), {1.75f, 0.f});
}

// LayerCAM: relu(g)·A per cell, summed over channels, then relu. ch0 A=[1,3], g=[2,-1] → [2, 0];
// ch1 A=[2,0], g=[1,1] → [2, 0]; ch2 A=[-5,1], g=[1,1] → [-5, 1]; sum [-1, 1] → [0, 1].
// HiResCAM: g·A per cell: [2,-3] + [2,0] + [-5,1] = [-1, -2] → [0, 0]; without ch2: [4, -3] → [4, 0].
TEST(Cam, LayerCamAndHiResCamByHand) {
  const Volume a = vol({3, 1, 1, 2}, {1, 3, 2, 0, -5, 1});
  const Volume g = vol({3, 1, 1, 2}, {2, -1, 1, 1, 1, 1});
  expectMap(cam("layercam", a, &g), {0.f, 1.f});
  expectMap(cam("hirescam", a, &g), {0.f, 0.f});
  const Volume a2 = vol({2, 1, 1, 2}, {1, 3, 2, 0});
  const Volume g2 = vol({2, 1, 1, 2}, {2, -1, 1, 1});
  expectMap(cam("hirescam", a2, &g2), {4.f, 0.f});
  expectMap(cam("layercam", a2, &g2), {4.f, 0.f});
}

// Eigen-CAM, C=2 channels over P=3 positions (W=3): both channels [0,1,2]. Centred rows
// [-1,-1], [0,0], [1,1]; first right singular vector ±[1,1]/√2; projection ±[-√2, 0, √2].
// ΣA = [0, 2, 4] correlates positively with [-√2, 0, √2], so that sign: relu → [0, 0, √2].
// Reversing the positions must reverse the map (the sign follows ΣA, not the SVD's whim).
TEST(Cam, EigenCamFirstComponentWithSignFromActivationSum) {
  const Volume a = vol({2, 1, 1, 3}, {0, 1, 2, 0, 1, 2});
  expectMap(cam("eigencam", a, nullptr), {0.f, 0.f, std::sqrt(2.f)}, 1e-5);
  const Volume r = vol({2, 1, 1, 3}, {2, 1, 0, 2, 1, 0});
  expectMap(cam("eigencam", r, nullptr), {std::sqrt(2.f), 0.f, 0.f}, 1e-5);
}

// Ties and degenerate cases: ch0 = [1,-1], ch1 = [-1,1] over 2 positions: ΣA = [0,0], so the
// correlation is 0 and the largest |value| (the first, on ties) is made positive: ±[√2, -√2]
// → [√2, 0]. Positions that all hold the same activation give a zero map.
TEST(Cam, EigenCamSignTieAndConstantActivation) {
  const Volume a = vol({2, 1, 1, 2}, {1, -1, -1, 1});
  expectMap(cam("eigencam", a, nullptr), {std::sqrt(2.f), 0.f}, 1e-5);
  const Volume c = vol({2, 1, 2, 2}, {3, 3, 3, 3, 1, 1, 1, 1});
  expectMap(cam("eigencam", c, nullptr), {0.f, 0.f, 0.f, 0.f});
}

// CAM: W[c,:] = [2, -1]; A ch0=[1,3], ch1=[2,0]: 2·[1,3] - [2,0] = [0, 6].
TEST(Cam, ClassActivationMapByHand) {
  const Volume a = vol({2, 1, 1, 2}, {1, 3, 2, 0});
  const std::vector<float> w{2, -1};
  expectMap(cam("cam", a, nullptr, &w), {0.f, 6.f});
}

// After global average pooling and a linear layer, g = W[c,k] / (T'·H'·W') in every cell, so
// Grad-CAM's map times T'·H'·W' is CAM's map.
TEST(Cam, CamIsGradCamTimesCellCountForAPooledLinearHead) {
  const int64_t C = 3, T = 2, H = 2, W = 3, n = T * H * W;
  Volume a({C, T, H, W});
  for (size_t i = 0; i < a.size(); ++i) a.data[i] = static_cast<float>(std::sin(1.7 * i) + 0.3);
  const std::vector<float> w{0.5f, -1.25f, 2.f};
  Volume g({C, T, H, W});
  for (int64_t k = 0; k < C; ++k)
    for (int64_t i = 0; i < n; ++i) g.data[k * n + i] = w[k] / static_cast<float>(n);
  const Volume viaGrad = cam("gradcam", a, &g), viaCam = cam("cam", a, nullptr, &w);
  for (size_t i = 0; i < viaCam.size(); ++i) EXPECT_NEAR(viaCam.data[i], viaGrad.data[i] * n, 1e-5) << i;
}

TEST(Cam, RegistryNamesAndErrors) {
  const std::vector<std::string> names = ev::camMethodNames();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "gradcam++");  // the default first
  EXPECT_EQ(ev::camMethod("gradcampp").name, "gradcam++");
  try {
    ev::camMethod("nosuchcam");
    FAIL() << "no exception";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Usage);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown method 'nosuchcam'"), std::string::npos) << msg;
    for (const auto& n : names) EXPECT_NE(msg.find(n), std::string::npos) << n;
  }
  EXPECT_EQ(ev::parseCamMethods("gradcam, layercam"), (std::vector<std::string>{"gradcam", "layercam"}));
  std::vector<std::string> noPerturbation;  // `all`: every method without model passes of its own
  for (const auto& i : ev::camMethods())
    if (!i.perturbation()) noPerturbation.push_back(i.name);
  EXPECT_EQ(ev::parseCamMethods("all"), noPerturbation);
  EXPECT_LT(noPerturbation.size(), names.size());
  EXPECT_THROW(ev::parseCamMethods("gradcam,gradcam"), ev::Error);
  EXPECT_THROW(ev::parseCamMethods(","), ev::Error);
  const std::string table = ev::camMethodTable();
  for (const auto& i : ev::camMethods()) {
    EXPECT_NE(table.find(i.name), std::string::npos);
    EXPECT_NE(table.find(i.reference), std::string::npos);
  }
}

TEST(Cam, MissingOrMismatchedInputsThrow) {
  const Volume a({1, 1, 1, 2});
  const Volume g({1, 1, 2, 1});
  EXPECT_THROW(cam("gradcam", a, &g), ev::Error);
  EXPECT_THROW(cam("gradcam", a, nullptr), ev::Error);
  EXPECT_THROW(cam("cam", a, nullptr), ev::Error);
}

// Why a map is empty, by hand on C=2, 1×1×2 volumes (checked in the order of EmptyReason).
TEST(Cam, EmptyMapsSayWhy) {
  using ev::EmptyReason;
  auto why = [](const std::string& m, const Volume& a, const Volume& g) {
    ev::CamNotes n;
    cam(m, a, &g, nullptr, &n);
    return n.empty;
  };
  const Volume zeroA = vol({2, 1, 1, 2}, {0, 0, 0, 0}), a = vol({2, 1, 1, 2}, {1, 2, 3, 0});
  const Volume g = vol({2, 1, 1, 2}, {1, 1, 1, 1});
  // A = 0: every gradient method's map is 0, and the activation is why.
  EXPECT_EQ(why("gradcam", zeroA, g), EmptyReason::ZeroActivation);
  // g = 0: the class does not depend on the layer.
  EXPECT_EQ(why("gradcam++", a, vol({2, 1, 1, 2}, {0, 0, 0, 0})), EmptyReason::ZeroGradient);
  // g ≤ 0 everywhere: w = mean g = [-1, -0.5] < 0, so relu(Σ w A) = relu([-2.5, -2]) = 0.
  EXPECT_EQ(why("gradcam", a, vol({2, 1, 1, 2}, {-1, -1, 0, -1})), EmptyReason::NoPositiveGradient);
  // Some g > 0 but the weights are against the class: w = [0.5·(3 − 4), 0.5·(1 − 2)] = [-0.5, -0.5],
  // map = relu([-0.5·1 − 0.5·3, −0.5·2 − 0]) = relu([-2, -1]) = 0.
  EXPECT_EQ(why("gradcam", a, vol({2, 1, 1, 2}, {3, -4, 1, -2})), EmptyReason::NegativeEvidence);
  // A map with heat has no reason.
  EXPECT_EQ(why("gradcam", a, g), EmptyReason::None);
  EXPECT_EQ(ev::emptyReasonCode(EmptyReason::NoPositiveGradient), "no_positive_gradient");
  EXPECT_EQ(ev::emptyReasonCode(EmptyReason::None), "");
}
