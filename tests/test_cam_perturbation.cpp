// The perturbation methods against answers computed by hand or in closed form, with a stand-in
// model (a linear classifier after global average pooling, or a fixed scorer).
#include <gtest/gtest.h>

#include "cam/method.hpp"
#include "explain_video/error.hpp"
#include "model/script_model.hpp"
#include "test_paths.hpp"

using ev::camimpl::MethodInputs;

namespace {

at::Tensor linearHead(const at::Tensor& acts, const at::Tensor& W, double b) {
  return at::matmul(acts.to(at::kDouble).mean({2, 3, 4}), W.t()) + b;
}

}  // namespace

// Linear classifier after GAP: S^c = Σ_k W[c,k]·mean(A^k) + b, and zeroing channel k removes its
// term, so Ablation-CAM's w_k = W[c,k]·mean(A^k) / S^c.
TEST(Perturbation, AblationCamOnALinearHeadIsClosedForm) {
  at::manual_seed(3);
  const at::Tensor A = at::rand({1, 4, 2, 3, 3}, at::kDouble);
  const at::Tensor W = at::tensor({1.0, -2.0, 0.5, 3.0, 0.2, 0.7, -1.0, 1.5}, at::kDouble).view({2, 4});
  const double b = 0.3;
  for (int c = 0; c < 2; ++c) {
    MethodInputs in;
    in.activation = A;
    in.classes = {c};
    in.windows = {0};
    in.input = at::zeros({1, 3, 4, 6, 6});
    in.logitsFromLayer = [&](const at::Tensor& x) { return linearHead(x, W, b); };
    in.batch = 3;  // 4 channels: batches of 3 and 1
    const at::Tensor got = ev::camimpl::findMethod("ablationcam").maps(in, nullptr);
    const at::Tensor mean = A[0].mean({1, 2, 3});
    const double S = (W[c] * mean).sum().item<double>() + b;
    const at::Tensor w = W[c] * mean / S;
    const at::Tensor want = at::relu((w.view({4, 1, 1, 1}) * A[0]).sum(0));
    // The head runs in float, as the model does.
    EXPECT_LT((got[0] - want).abs().max().item<double>(), 1e-6 * (1 + want.abs().max().item<double>())) << "class " << c;
    // --score-channels 2: only the two channels of largest mean activation keep their weight.
    in.params.scoreChannels = 2;
    const at::Tensor top = std::get<1>(mean.topk(2));
    at::Tensor w2 = at::zeros_like(w);
    for (int64_t i = 0; i < 2; ++i) w2[top[i].item<int64_t>()] = w[top[i].item<int64_t>()];
    const at::Tensor got2 = ev::camimpl::findMethod("ablationcam").maps(in, nullptr);
    EXPECT_LT((got2[0] - at::relu((w2.view({4, 1, 1, 1}) * A[0]).sum(0))).abs().max().item<double>(), 1e-6);
  }
}

// Score-CAM by hand, at a layer as fine as the input (no upsampling): channel 0 = [0, 2] → the
// normalised mask [0, 1] keeps pixel 1 and blackens pixel 0; channel 1 is constant (skipped,
// w = 0). The scorer's logits are [mean of channel 0 of the input, 0]: with input I and black z
// (per channel), masked = [z, I1], baseline = [z, z]; w_0 = p_c(masked) − p_c(baseline).
TEST(Perturbation, ScoreCamByHand) {
  MethodInputs in;
  in.activation = at::tensor({0.0, 2.0, 5.0, 5.0}, at::kDouble).view({1, 2, 1, 1, 2});
  in.input = at::tensor({1.0f, 3.0f, 0.5f, 0.5f, 0.2f, 0.2f}).view({1, 3, 1, 1, 2});
  in.black = {-2.0, -1.0, -1.0};
  in.logitsOf = [](const at::Tensor& x) {
    const at::Tensor m = x.to(at::kDouble).select(1, 0).mean({1, 2, 3});  // M
    return at::stack({m, at::zeros_like(m)}, 1);
  };
  in.classes = {0};
  in.windows = {0};
  in.batch = 8;
  const at::Tensor got = ev::camimpl::findMethod("scorecam").maps(in, nullptr);
  auto p0 = [](double l) { return 1 / (1 + std::exp(-l)); };  // softmax of [l, 0] at class 0
  const double masked = (-2.0 + 3.0) / 2, baseline = (-2.0 - 2.0) / 2;
  const double w0 = p0(masked) - p0(baseline);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{1, 1, 1, 2}));
  EXPECT_NEAR(got[0][0][0][0].item<double>(), 0.0, 1e-12);        // relu(w0·0 + 0·5)
  EXPECT_NEAR(got[0][0][0][1].item<double>(), w0 * 2.0, 1e-12);   // relu(w0·2 + 0·5)
  EXPECT_GT(w0, 0);
}

// RISE's estimator, checked against the masks it drew: a stand-in scorer records every masked
// input (the mask is recovered as L = (masked − black) / (input − black)) and scores it with a
// known function; the map must be Σ_i (S_i − S̄)·M_i / (M·p), relu'd, for each class.
TEST(Perturbation, RiseIsTheCentredScoreWeightedMeanOfItsMasks) {
  const int64_t T = 4, H = 6, W = 5;
  MethodInputs in;
  in.activation = at::zeros({2, 1, 1, 1, 1}, at::kDouble);
  in.input = (at::rand({1, 3, T, H, W}) + 1).expand({2, 3, T, H, W});  // two items: one window, classes 0 and 1
  in.black = {-1.0, -0.5, -2.0};
  std::vector<at::Tensor> seen;  // the masks, as the scorer saw them
  const at::Tensor x0 = in.input[0].to(at::kDouble);
  const at::Tensor z = at::tensor({-1.0, -0.5, -2.0}, at::kDouble).view({3, 1, 1, 1});
  in.logitsOf = [&](const at::Tensor& x) {
    std::vector<at::Tensor> logits;
    for (int64_t i = 0; i < x.size(0); ++i) {
      const at::Tensor L = ((x[i].to(at::kDouble) - z) / (x0 - z))[0];  // T×H×W, the same in every channel
      seen.push_back(L);
      // class 0 likes the top-left voxel of frame 1, class 1 the whole of frame 3
      const double s0 = L[1][0][0].item<double>(), s1 = L[3].mean().item<double>();
      logits.push_back(at::tensor({s0, s1, 0.0}, at::kDouble));
    }
    return at::stack(logits);
  };
  in.classes = {0, 1};
  in.windows = {7, 7};
  in.batch = 3;
  in.params.riseMasks = 40;
  in.params.riseGrid[0] = 2, in.params.riseGrid[1] = 3, in.params.riseGrid[2] = 2;
  const at::Tensor got = ev::camimpl::findMethod("rise").maps(in, nullptr);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, T, H, W}));
  ASSERT_EQ(seen.size(), 40u);  // one forward pass per mask serves both classes
  const at::Tensor masks = at::stack(seen);  // M×T×H×W
  EXPECT_GE(masks.min().item<double>(), -1e-6);
  EXPECT_LE(masks.max().item<double>(), 1 + 1e-6);
  std::vector<at::Tensor> S(2);
  for (int c = 0; c < 2; ++c) {
    std::vector<double> sc;
    for (const auto& L : seen) {
      const at::Tensor p = at::softmax(at::tensor({L[1][0][0].item<double>(), L[3].mean().item<double>(), 0.0}), 0);
      sc.push_back(p[c].item<double>());
    }
    const at::Tensor s = at::tensor(sc, at::kDouble);
    const at::Tensor want = at::relu(((s - s.mean()).view({-1, 1, 1, 1}) * masks).sum(0) / (40 * 0.5));
    EXPECT_LT((got[c] - want).abs().max().item<double>(), 1e-5 * (1 + want.abs().max().item<double>())) << "class " << c;
  }
  // Masks are not all alike: a cell is kept or dropped at random.
  EXPECT_GT(masks.mean({1, 2, 3}).std().item<double>(), 0.05);
}

// With many masks the map finds what the scorer depends on: a scorer that reads one voxel
// puts RISE's peak on (or next to) that voxel, and a different seed gives different masks.
TEST(Perturbation, RiseFindsTheVoxelTheScorerReads) {
  MethodInputs in;
  const int64_t T = 8, H = 14, W = 14;
  in.activation = at::zeros({1, 1, 1, 1, 1}, at::kDouble);
  in.input = at::ones({1, 3, T, H, W});
  in.logitsOf = [](const at::Tensor& x) {
    const at::Tensor v = x.to(at::kDouble).select(1, 0).select(1, 5).select(1, 10).select(1, 3);  // frame 5, row 10, col 3
    return at::stack({4 * v, at::zeros_like(v)}, 1);
  };
  in.classes = {0};
  in.windows = {0};
  in.batch = 16;
  in.params.riseMasks = 400;
  const at::Tensor got = ev::camimpl::findMethod("rise").maps(in, nullptr)[0];
  const int64_t arg = got.argmax().item<int64_t>();
  const int64_t t = arg / (H * W), y = (arg / W) % H, xx = arg % W;
  EXPECT_LE(std::abs(t - 5), 1) << t;
  EXPECT_LE(std::abs(y - 10), 2) << y;
  EXPECT_LE(std::abs(xx - 3), 2) << xx;
  in.params.seed = 1;
  EXPECT_FALSE(at::equal(ev::camimpl::findMethod("rise").maps(in, nullptr)[0], got));
}

// With σ = 0 every noisy copy is the input itself: Smooth Grad-CAM++ is Grad-CAM++ of the
// gradient at the input.
TEST(Perturbation, SmoothGradCamPlusPlusWithoutNoiseIsGradCamPlusPlus) {
  at::manual_seed(4);
  const at::Tensor A = at::rand({2, 3, 2, 2, 2}, at::kDouble);
  const at::Tensor G = at::randn({2, 3, 2, 2, 2}, at::kDouble);
  MethodInputs in;
  in.activation = A;
  in.input = at::rand({2, 3, 4, 4, 4});
  in.classes = {0, 1};
  in.windows = {0, 1};
  in.params.smoothSigma = 0;
  in.params.smoothSamples = 5;
  in.batch = 2;
  in.gradientsAt = [&](const at::Tensor& x, const std::vector<std::vector<int>>& classes) {
    // The gradient of the window whose (noise-free) input this is.
    at::Tensor out = at::zeros({x.size(0), 1, 3, 2, 2, 2}, at::kDouble);
    for (int64_t i = 0; i < x.size(0); ++i) {
      const int64_t w = at::allclose(x[i], in.input[0]) ? 0 : 1;
      out[i][0] = G[w];
      EXPECT_EQ(classes[static_cast<size_t>(i)].size(), 1u);
    }
    return out;
  };
  const at::Tensor got = ev::camimpl::findMethod("smoothgradcam++").maps(in, nullptr);
  MethodInputs plain;
  plain.activation = A;
  plain.gradient = G;
  const at::Tensor want = ev::camimpl::findMethod("gradcam++").maps(plain, nullptr);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-12);
}

// The network from a layer on (Ablation-CAM's scorer): fed the layer's own activation it gives
// forward()'s logits, for a Sequential C3D-style model and at the end of a residual stage; a layer
// whose later part also reads the block's input (the residual branch across it) is refused.
TEST(HeadFunction, GivesTheModelsLogitsAndRefusesResidualsAcrossTheLayer) {
  using ev::modelimpl::ScriptModel;
  for (const char* kind : {"_scripted.pt", "_traced.pt"}) {
    for (const auto& [file, layer] : std::vector<std::pair<std::string, std::string>>{
             {std::string("cap_plain") + kind, "features.3"}, {std::string("cap_residual") + kind, "layer1"}}) {
      ScriptModel m = ScriptModel::load(std::string(evtest::testModelsDir()) + "/" + file);
      m.module().eval();
      at::manual_seed(2);
      const at::Tensor x = at::randn({2, 3, 4, 16, 16});
      const auto cap = m.capture(layer, x);
      at::Tensor fromHead;
      {
        c10::InferenceMode guard;
        fromHead = m.logitsFromLayer(layer, cap.activation.detach());
      }
      EXPECT_LT((fromHead - cap.logits.detach()).abs().max().item<double>(), 1e-5) << file << " " << layer;
    }
    ScriptModel r = ScriptModel::load(std::string(evtest::testModelsDir()) + "/cap_residual" + kind);
    r.module().eval();
    try {
      r.logitsFromLayer("layer1.0.conv2", at::zeros({1, 4, 4, 16, 16}));
      ADD_FAILURE() << "no error";
    } catch (const ev::Error& e) {
      EXPECT_EQ(e.kind(), ev::ErrorKind::Model);
      EXPECT_NE(std::string(e.what()).find("reads a value computed before it"), std::string::npos) << e.what();
    }
  }
}
