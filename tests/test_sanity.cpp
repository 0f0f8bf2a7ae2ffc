// The sanity checks (eval --sanity): the similarity measures against hand-computed values, the
// in-memory parameter randomisation, and the driver on a model whose maps provably depend on
// its layers (tests/models/sanity_models.py) beside a method registered here that ignores the
// model, which must keep correlation 1 and be reported.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "cam/method.hpp"
#include "cli_runner.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/model.hpp"
#include "explain_video/sanity.hpp"
#include "explain_video/video.hpp"
#include "model/parameter_randomizer.hpp"
#include "model/script_model.hpp"
#include "scratch_dir.hpp"
#include "test_paths.hpp"

namespace {

const std::string kModels = evtest::testModelsDir();

ev::Volume vol(std::vector<int64_t> shape, std::vector<float> v) {
  ev::Volume x(std::move(shape));
  x.data = std::move(v);
  return x;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// ------------------------------------------------------------------ the measures, by hand

TEST(SanityMeasures, SpearmanByHand) {
  // No ties: d² = 0, 1, 1, 0, so ρ = 1 − 6·2 / (4·(16 − 1)) = 0.8.
  EXPECT_NEAR(ev::spearman({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
  // Ties get their mean rank: a's ranks 1.5, 1.5, 3, 4 against 1, 2, 3, 4 (means 2.5):
  // Σ da·db = 4.5, Σ da² = 4.5, Σ db² = 5, ρ = 4.5 / √22.5.
  EXPECT_NEAR(ev::spearman({1, 1, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(22.5), 1e-12);
  EXPECT_NEAR(ev::spearman({0.1, 0.5, 0.2}, {-3, 7, 1}), 1.0, 1e-12);  // ranks only
  EXPECT_NEAR(ev::spearman({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(ev::spearman({2, 2, 2}, {1, 2, 3})));  // a constant map has no ranks
  EXPECT_TRUE(std::isnan(ev::spearman({1}, {1})));
  EXPECT_TRUE(std::isnan(ev::spearman({1, 2}, {1, 2, 3})));
}

TEST(SanityMeasures, SsimByHand) {
  // Constant maps a and b: every local variance and covariance is 0, so each pixel's SSIM is
  // (2ab + C1) / (a² + b² + C1) with C1 = 1e-4: (0.24 + 1e-4) / (0.4 + 1e-4).
  ev::Volume a({2, 16, 16}, 0.2f), b({2, 16, 16}, 0.6f);
  EXPECT_NEAR(ev::ssim(a, b), (2 * 0.2 * 0.6 + 1e-4) / (0.04 + 0.36 + 1e-4), 1e-6);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  ev::Volume r({3, 20, 24});
  for (float& v : r.data) v = u(rng);
  EXPECT_NEAR(ev::ssim(r, r), 1.0, 1e-9);
  ev::Volume flipped = r;  // the same values elsewhere: far from 1
  for (size_t i = 0; i < r.size(); ++i) flipped.data[i] = 1.0f - r.data[i];
  EXPECT_LT(ev::ssim(r, flipped), 0.0);
  EXPECT_THROW(ev::ssim(r, a), ev::Error);
}

TEST(SanityMeasures, TopKIntersectionByHand) {
  std::vector<float> up(10);
  for (int i = 0; i < 10; ++i) up[static_cast<size_t>(i)] = static_cast<float>(i);
  std::vector<float> down(up.rbegin(), up.rend());
  const ev::Volume a = vol({1, 1, 10}, up);
  // k = ⌈0.3·10⌉ = 3: a's top is {7, 8, 9}, the reversed map's {0, 1, 2}.
  EXPECT_DOUBLE_EQ(ev::topKIntersection(a, vol({1, 1, 10}, down), 0.3), 0.0);
  std::vector<float> swapped = up;
  std::swap(swapped[0], swapped[7]);  // top {0, 8, 9}: 2 of 3 shared
  EXPECT_DOUBLE_EQ(ev::topKIntersection(a, vol({1, 1, 10}, swapped), 0.3), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ev::topKIntersection(a, a, 0.25), 1.0);  // k = ⌈2.5⌉ = 3
  // Ties go to the lower index: {5, 0, 1} against {5, 9, 8}.
  std::vector<float> spike(10, 0.f);
  spike[5] = 1.f;
  EXPECT_DOUBLE_EQ(ev::topKIntersection(vol({1, 1, 10}, spike), a, 0.3), 0.0);
  EXPECT_DOUBLE_EQ(ev::topKIntersection(vol({1, 1, 10}, spike), vol({1, 1, 10}, spike), 0.3), 1.0);
  EXPECT_TRUE(std::isnan(ev::topKIntersection(ev::Volume({1, 1, 10}, 0.f), a, 0.3)));
}

// ------------------------------------------------------------------ the randomisation

TEST(SanityRandomizer, ChangesOnlyTheLayerAndRestoresExactly) {
  ev::Model model(kModels + "/noise_conv.pt", 1);
  torch::jit::Module m = ev::modelimpl::scriptModelOf(model).module();
  auto param = [&](const std::string& name) {
    for (const auto& p : m.named_parameters()) if (p.name == name) return p.value.detach().clone();
    return at::Tensor();
  };
  const at::Tensor conv0 = param("conv.weight"), fc0 = param("fc.weight");
  const std::string before = slurp(kModels + "/noise_conv.pt");
  at::Tensor first;
  {
    ev::modelimpl::ParameterRandomizer r(m, "noise_conv.pt");
    ASSERT_EQ(r.layers(), (std::vector<std::string>{"conv", "fc"}));
    EXPECT_EQ(r.randomize("conv", 7), 1);
    first = param("conv.weight");
    EXPECT_FALSE(at::equal(first, conv0));
    EXPECT_TRUE(at::equal(param("fc.weight"), fc0));  // only the layer asked for
    // N(m, s²) with the original's mean and std: 441 draws, their std within 25 % of s, their
    // mean within 4 standard errors of m.
    const double s = conv0.std().item<double>(), mean = conv0.mean().item<double>();
    EXPECT_NEAR(first.std().item<double>(), s, 0.25 * s);
    EXPECT_NEAR(first.mean().item<double>(), mean, 4 * s / std::sqrt(441.0));
    r.restore();
    EXPECT_TRUE(at::equal(param("conv.weight"), conv0));
    // The same seed gives the same values, whatever was randomised before.
    r.randomize("fc", 7);
    r.randomize("conv", 7);
    EXPECT_TRUE(at::equal(param("conv.weight"), first));
    r.randomize("conv", 8);
    EXPECT_FALSE(at::equal(param("conv.weight"), first));
    EXPECT_THROW(r.randomize("gap", 7), ev::Error);  // no parameters of its own
  }  // the destructor restores
  EXPECT_TRUE(at::equal(param("conv.weight"), conv0));
  EXPECT_TRUE(at::equal(param("fc.weight"), fc0));
  EXPECT_EQ(slurp(kModels + "/noise_conv.pt"), before);  // the file is never written
}

TEST(SanityRandomizer, FrozenModelIsRefusedWithTheReason) {
  ev::Model model(kModels + "/noise_conv_frozen.pt", 1);
  try {
    ev::modelimpl::ParameterRandomizer r(ev::modelimpl::scriptModelOf(model).module(), "noise_conv_frozen.pt");
    FAIL() << "a frozen model has no parameters to randomise";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Model);
    EXPECT_NE(std::string(e.what()).find("noise_conv_frozen.pt: the model has no parameters"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------ the driver

// A map that ignores the model: the input's edges (|horizontal| + |vertical| differences of the
// channel mean), registered only in this test. The sanity check must find it unchanged.
class InputEdges : public ev::camimpl::Method {
 public:
  const ev::CamMethodInfo& info() const override {
    static const ev::CamMethodInfo i{"test-input-edges", "edges of the input (test only)", "-", ev::kNeedModelScores,
                                     "none", false, true};
    return i;
  }
  at::Tensor maps(const ev::camimpl::MethodInputs& in, ev::camimpl::MethodNotes*) const override {
    const at::Tensor x = in.input.to(at::kDouble).mean(1);  // N×T×H×W
    at::Tensor e = at::zeros_like(x);
    e.narrow(3, 0, x.size(3) - 1).add_((x.narrow(3, 1, x.size(3) - 1) - x.narrow(3, 0, x.size(3) - 1)).abs());
    e.narrow(2, 0, x.size(2) - 1).add_((x.narrow(2, 1, x.size(2) - 1) - x.narrow(2, 0, x.size(2) - 1)).abs());
    return e;
  }
};

void registerInputEdges() {
  static InputEdges m;
  static bool done = false;
  if (!done) ev::camimpl::addMethodForTesting(m), done = true;
}

// Independent grey noise in every pixel and frame, 112×112 (fed without resizing).
std::string writeNoiseClip(const evtest::ScratchDir& dir) {
  const std::string path = dir.file("noise.mp4");
  ev::VideoWriterOptions o;
  o.width = 112, o.height = 112, o.fpsNum = 25, o.fpsDen = 1, o.crf = 4;
  ev::VideoWriter w(path, o);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> u(0, 255);
  for (int i = 0; i < 24; ++i) {
    ev::Frame f;
    f.width = 112, f.height = 112, f.index = i;
    f.rgb.resize(112 * 112 * 3);
    for (size_t p = 0; p < 112 * 112; ++p) f.rgb[3 * p] = f.rgb[3 * p + 1] = f.rgb[3 * p + 2] = static_cast<uint8_t>(u(rng));
    w.write(f);
  }
  w.close();
  return path;
}

ev::SanityParams noiseParams(const std::string& clip, ev::SanityMode mode) {
  ev::SanityParams sp;
  sp.mode = mode;
  sp.seed = 1;
  sp.eval.inputs = {clip};
  sp.eval.model = kModels + "/noise_conv.pt";
  sp.eval.methods = {"gradcam", "test-input-edges"};
  sp.eval.preprocess.resizeHeight = sp.eval.preprocess.resizeWidth = 112;
  sp.eval.windows.clipLen = 16;
  sp.eval.windows.stride = 8;
  sp.eval.threads = 1;
  return sp;
}

bool hasWarning(const ev::SanityResult& r, const std::string& part) {
  for (const std::string& w : r.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

TEST(SanityCheck, CascadeSeparatesAModelDependentMapFromOneThatIgnoresTheModel) {
  registerInputEdges();
  evtest::ScratchDir dir;
  const std::string clip = writeNoiseClip(dir);
  const std::string modelBytes = slurp(kModels + "/noise_conv.pt");
  const ev::SanityResult r = ev::runSanityCheck(noiseParams(clip, ev::SanityMode::Cascade));
  EXPECT_EQ(r.targetLayer, "conv");
  ASSERT_EQ(r.layers, (std::vector<std::string>{"conv", "fc"}));
  ASSERT_EQ(r.steps.size(), 3u);  // original, fc, fc + conv
  EXPECT_EQ(r.steps[1].randomised, (std::vector<std::string>{"fc"}));
  EXPECT_EQ(r.steps[2].randomised, (std::vector<std::string>{"fc", "conv"}));
  EXPECT_EQ(r.windows, 2);
  for (size_t m = 0; m < 2; ++m) {  // the model as loaded, against itself: the same maps
    EXPECT_NEAR(r.steps[0].scores[m].spearman, 1.0, 1e-9);
    EXPECT_NEAR(r.steps[0].scores[m].ssim, 1.0, 1e-9);
    EXPECT_NEAR(r.steps[0].scores[m].topK, 1.0, 1e-9);
    EXPECT_EQ(r.steps[0].scores[m].windows, 2);
  }
  // Grad-CAM's map relu(A') after conv's re-initialisation: |Spearman| < 0.5 (the module's
  // docstring derives the bound: about 6 standard deviations of the correlation).
  const ev::SanityScore& g = r.steps[2].scores[0];
  EXPECT_EQ(g.undefined, 0);
  EXPECT_LT(std::abs(g.spearman), 0.5);
  EXPECT_LT(g.topK, 0.5);  // independent maps share about 10 % of their top 10 %
  EXPECT_LT(g.ssim, 0.5);
  // The input's edges do not change at all, at every step, and the run says so.
  for (const ev::SanityStep& s : r.steps) {
    EXPECT_NEAR(s.scores[1].spearman, 1.0, 1e-9);
    EXPECT_NEAR(s.scores[1].topK, 1.0, 1e-9);
    EXPECT_NEAR(s.scores[1].ssim, 1.0, 1e-9);
  }
  EXPECT_TRUE(hasWarning(r, "test-input-edges: Spearman 1.000 after every layer was randomised"));
  EXPECT_FALSE(hasWarning(r, "gradcam: Spearman"));
  EXPECT_EQ(slurp(kModels + "/noise_conv.pt"), modelBytes);
}

TEST(SanityCheck, IndependentRandomisesOneLayerAtATime) {
  registerInputEdges();
  evtest::ScratchDir dir;
  const ev::SanityResult r = ev::runSanityCheck(noiseParams(writeNoiseClip(dir), ev::SanityMode::Independent));
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[1].randomised, (std::vector<std::string>{"fc"}));
  EXPECT_EQ(r.steps[2].randomised, (std::vector<std::string>{"conv"}));
  // conv alone: fc as trained keeps class 0's gradient positive, so the map is relu(A').
  EXPECT_LT(std::abs(r.steps[2].scores[0].spearman), 0.5);
  EXPECT_NEAR(r.steps[2].scores[1].spearman, 1.0, 1e-9);
}

TEST(SanityCheck, LabelsComparesTheExplanationOfAnotherClass) {
  registerInputEdges();
  evtest::ScratchDir dir;
  const ev::SanityResult r = ev::runSanityCheck(noiseParams(writeNoiseClip(dir), ev::SanityMode::Labels));
  ASSERT_EQ(r.steps.size(), 1u);
  // Two classes: the random one is class 1, whose map relu(-A) is zero wherever class 0's
  // relu(A) is not. Their top 10 % are disjoint, and the rank correlation is strongly negative:
  // with a share p of positive voxels it is -6/7 for p = 1/2 (ranks uniform, each map's zeros
  // tied); the noise clip's p is about 0.57.
  const ev::SanityScore& g = r.steps[0].scores[0];
  EXPECT_DOUBLE_EQ(g.topK, 0.0);
  EXPECT_LT(g.spearman, -0.7);
  EXPECT_NEAR(r.steps[0].scores[1].spearman, 1.0, 1e-9);  // the edges know no class
  EXPECT_TRUE(hasWarning(r, "test-input-edges: Spearman 1.000 between the predicted and a random class's maps"));
}

TEST(SanityCheck, UnknownLayerIsAUsageErrorNamingTheLayers) {
  evtest::ScratchDir dir;
  ev::SanityParams sp = noiseParams(writeNoiseClip(dir), ev::SanityMode::Cascade);
  sp.eval.methods = {"gradcam"};
  sp.layers = {"gap"};
  try {
    ev::runSanityCheck(sp);
    FAIL() << "gap has no parameters";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Usage);
    EXPECT_STREQ(e.what(), "eval: --sanity-layers: the model has no layer 'gap' with parameters; its layers are conv, fc");
  }
}

TEST(SanityCli, WritesTheCsvPlotsAndJsonAndRefusesBadModes) {
  evtest::ScratchDir dir;
  const std::string clip = writeNoiseClip(dir);
  const std::string base = "eval " + evtest::shellQuote(clip) + " -m " + evtest::shellQuote(kModels + "/noise_conv.pt") +
                           " --resize 112x112 --methods gradcam,gradcam++ --threads 1 -q";
  const evtest::CliRun ok = evtest::runCli(base + " --sanity cascade --csv-dir " + evtest::shellQuote(dir.file("csv")) +
                                               " --plots " + evtest::shellQuote(dir.file("plots")) + " --json " +
                                               evtest::shellQuote(dir.file("s.json")),
                                           dir.file("err"));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Sanity check (cascade)"), std::string::npos) << ok.out;
  std::ifstream csv(dir.file("csv/sanity.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "mode,step,layer,randomised,method,spearman,ssim,topk,windows,undefined");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 3 * 2);  // 3 steps × 2 methods
  for (const char* png : {"sanity_spearman.png", "sanity_ssim.png", "sanity_topk.png"})
    EXPECT_GT(std::filesystem::file_size(dir.file(std::string("plots/") + png)), 1000u) << png;
  EXPECT_NE(slurp(dir.file("s.json")).find("\"format\": \"explain-video-sanity\""), std::string::npos);

  const evtest::CliRun bad = evtest::runCli(base + " --sanity shuffle", dir.file("err"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err, "explain-video: error: eval: unknown --sanity 'shuffle': choose cascade, independent or labels\n");
  const evtest::CliRun stray = evtest::runCli(base + " --sanity-seed 3", dir.file("err"));
  EXPECT_EQ(stray.code, 2);
  EXPECT_EQ(stray.err, "explain-video: error: eval: --sanity-seed needs --sanity\n");
  const evtest::CliRun plot = evtest::runCli(base + " --sanity labels --plots " + evtest::shellQuote(dir.file("p2")), dir.file("err"));
  EXPECT_EQ(plot.code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("p2")));
}

}  // namespace
