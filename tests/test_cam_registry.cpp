// One harness over the whole method registry (every method registered in src/cam/registry.cpp
// runs through it): shapes, non-negative finite maps, zero gradient → zero map, the batched
// tensor form against the per-map Volume form, and gradients through the differentiable ones.
#include <gtest/gtest.h>

#include <fstream>

#include "cam/method.hpp"
#include "explain_video/heatmap.hpp"
#include "explain_video/cam.hpp"
#include "test_paths.hpp"

namespace {

using ev::camimpl::MethodInputs;

struct Inputs {
  at::Tensor a, g, w;  // N×C×T×H×W, N×C×T×H×W, N×C
};

Inputs randomInputs(int64_t n, int64_t seed) {
  at::manual_seed(seed);
  Inputs in;
  in.a = at::randn({n, 6, 2, 3, 4}, at::kDouble);
  in.a.slice(1, 0, 3).relu_();  // some channels after a ReLU, some not
  in.g = at::randn({n, 6, 2, 3, 4}, at::kDouble);
  in.g.select(1, 4).zero_();                   // a channel without gradient
  in.g.select(1, 5).copy_(-in.g.select(1, 5).abs());  // one with only negative gradients
  in.w = at::randn({n, 6}, at::kDouble);
  return in;
}

// A stand-in model for the perturbation methods: logits = Wx·(per-channel mean of the input) for
// inputs, and W·mean(A) + b from the layer; gradients at an input: W[c,k]/cells everywhere.
const at::Tensor& mockW() {
  static const at::Tensor w = at::tensor({0.5, -1.0, 2.0, 0.25, 1.5, -0.5, 1.0, 0.75, -2.0, 0.3, 0.1, 1.2}, at::kDouble).view({2, 6});
  return w;
}

MethodInputs of(const ev::CamMethodInfo& info, const Inputs& in) {
  MethodInputs mi;
  mi.activation = in.a;
  if (info.has(ev::kNeedGradient)) mi.gradient = in.g;
  if (info.has(ev::kNeedClassifierWeights)) mi.classWeights = in.w;
  if (info.perturbation()) {
    const int64_t n = in.a.size(0);
    mi.input = at::rand({n, 3, 2, 6, 8}, at::TensorOptions().dtype(at::kFloat));
    for (int64_t i = 0; i < n; ++i) mi.classes.push_back(static_cast<int>(i % 2)), mi.windows.push_back(i);
    mi.logitsOf = [](const at::Tensor& x) {
      const at::Tensor m = x.to(at::kDouble).mean({2, 3, 4});  // M×3
      return at::stack({3 * m.select(1, 0) - m.select(1, 2), m.select(1, 1) + 0.5}, 1);
    };
    mi.logitsFromLayer = [](const at::Tensor& acts) {
      return at::matmul(acts.to(at::kDouble).mean({2, 3, 4}), mockW().t()) + 0.25;
    };
    const std::vector<int64_t> cells(in.a.sizes().begin() + 2, in.a.sizes().end());
    mi.gradientsAt = [cells](const at::Tensor& x, const std::vector<std::vector<int>>& classes) {
      const int64_t M = x.size(0), K = static_cast<int64_t>(classes.front().size());
      at::Tensor g = at::zeros({M, K, 6, cells[0], cells[1], cells[2]}, at::kDouble);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k)
          g[i][k] = (mockW()[classes[static_cast<size_t>(i)][static_cast<size_t>(k)]] * (1 + x[i].mean().item<double>()))
                        .view({6, 1, 1, 1})
                        .expand({6, cells[0], cells[1], cells[2]});
      return g;
    };
    mi.black = {-1.9, -1.8, -1.7};
    mi.params.smoothSamples = 3;
    mi.batch = 3;
  }
  return mi;
}

ev::Volume volumeOf(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  ev::Volume v(std::vector<int64_t>(c.sizes().begin(), c.sizes().end()));
  std::copy(c.data_ptr<float>(), c.data_ptr<float>() + c.numel(), v.data.begin());
  return v;
}

}  // namespace

class EveryMethod : public ::testing::TestWithParam<std::string> {};

// The perturbation methods draw at random: the same seed gives the same maps, at any batch size.
TEST_P(EveryMethod, SameSeedSameMapsAtAnyBatchSize) {
  const ev::camimpl::Method& m = ev::camimpl::findMethod(GetParam());
  if (!m.info().perturbation()) GTEST_SKIP() << "draws nothing";
  const Inputs in = randomInputs(2, 8);
  at::manual_seed(1);
  MethodInputs a = of(m.info(), in);
  MethodInputs b = a;
  b.batch = 7;
  MethodInputs c = a;
  c.params.seed = 99;
  const at::Tensor ma = m.maps(a, nullptr), mb = m.maps(b, nullptr), mc = m.maps(c, nullptr);
  EXPECT_LT((ma - mb).abs().max().item<double>(), 1e-9);
  if (GetParam() == "smoothgradcam++") EXPECT_GT((ma - mc).abs().max().item<double>(), 0.0);
}

TEST_P(EveryMethod, DescribesItself) {
  const ev::CamMethodInfo& i = ev::camMethod(GetParam());
  EXPECT_EQ(i.name, GetParam());
  EXPECT_FALSE(i.summary.empty());
  EXPECT_FALSE(i.reference.empty());
  EXPECT_FALSE(i.cost.empty());
  // A method reads the layer, or makes a map on the input's own voxels (rise), not both.
  EXPECT_NE(i.has(ev::kNeedActivation), i.inputResolution);
}

TEST_P(EveryMethod, MapsHaveTheLayersShapeAndAreFiniteAndNonNegative) {
  const ev::camimpl::Method& m = ev::camimpl::findMethod(GetParam());
  for (int64_t seed : {1, 2, 3}) {
    const Inputs in = randomInputs(4, seed);
    const MethodInputs mi = of(m.info(), in);
    const at::Tensor maps = m.maps(mi, nullptr);
    if (m.info().inputResolution)  // the window's T×H×W
      ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{4, mi.input.size(2), mi.input.size(3), mi.input.size(4)}));
    else
      ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{4, 2, 3, 4}));
    EXPECT_TRUE(at::isfinite(maps).all().item<bool>());
    EXPECT_GE(maps.min().item<double>(), 0.0);
  }
}

TEST_P(EveryMethod, ZeroGradientGivesZeroMapForGradientMethods) {
  const ev::camimpl::Method& m = ev::camimpl::findMethod(GetParam());
  if (!m.info().has(ev::kNeedGradient)) GTEST_SKIP() << "needs no gradient";
  Inputs in = randomInputs(2, 4);
  in.g.zero_();
  EXPECT_EQ(m.maps(of(m.info(), in), nullptr).abs().max().item<double>(), 0.0);
}

// The batched tensor form, item by item, equals the Volume form the explain pipeline reports
// (computeCam, float inputs computed in double): batch items never mix.
TEST_P(EveryMethod, TensorFormEqualsVolumeFormItemByItem) {
  const ev::camimpl::Method& m = ev::camimpl::findMethod(GetParam());
  if (m.info().perturbation()) GTEST_SKIP() << "needs model passes: runs in the pipeline only";
  Inputs in = randomInputs(3, 5);
  // Inputs exactly representable in float, so both forms see the same numbers.
  in.a = in.a.to(at::kFloat).to(at::kDouble);
  in.g = in.g.to(at::kFloat).to(at::kDouble);
  in.w = in.w.to(at::kFloat).to(at::kDouble);
  const at::Tensor maps = m.maps(of(m.info(), in), nullptr);
  for (int64_t n = 0; n < 3; ++n) {
    const ev::Volume a = volumeOf(in.a[n]), g = volumeOf(in.g[n]);
    const ev::Volume wv = volumeOf(in.w[n]);
    ev::CamInputs ci;
    ci.activation = &a;
    ci.gradient = &g;
    ci.classWeights = &wv.data;
    const ev::Volume ref = ev::computeCam(GetParam(), ci);
    const ev::Volume got = volumeOf(maps[n]);
    ASSERT_EQ(ref.shape, got.shape);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(got.data[i], ref.data[i], 1e-5 * (1 + std::abs(ref.data[i])));
  }
}

// What the explanation losses rely on: a map from a gradient taken with create_graph can be
// differentiated again, with finite results.
TEST_P(EveryMethod, DifferentiableMethodsHaveFiniteGradients) {
  const ev::camimpl::Method& m = ev::camimpl::findMethod(GetParam());
  if (!m.info().differentiable) GTEST_SKIP() << "not offered to the explanation losses";
  Inputs in = randomInputs(2, 6);
  in.a.requires_grad_(true);
  in.g.requires_grad_(true);
  const at::Tensor maps = m.maps(of(m.info(), in), nullptr);
  maps.pow(2).sum().backward();
  ASSERT_TRUE(in.a.grad().defined());
  EXPECT_TRUE(at::isfinite(in.a.grad()).all().item<bool>());
  EXPECT_TRUE(at::isfinite(in.g.grad()).all().item<bool>());
  EXPECT_GT(in.a.grad().abs().sum().item<double>(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryMethod, ::testing::ValuesIn(ev::camMethodNames()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string s;
                           for (char c : i.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : c == '+' ? 'P' : '_';
                           return s;
                         });

// The README's method table is the registry: a row for each method, no row for anything else.
TEST(Registry, ReadmeTableListsEveryMethod) {
  std::ifstream in(std::string(evtest::sourceDir()) + "/README.md");
  std::string line, table;
  bool inside = false;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.rfind("| method | map | paper |", 0) == 0) inside = true;
    else if (inside && line.rfind("|---", 0) != 0 && line.rfind("| `", 0) != 0) break;
    else if (inside && line.rfind("| `", 0) == 0) {
      table += line + "\n";
      ++rows;
    }
  }
  ASSERT_TRUE(inside) << "no method table in README.md";
  EXPECT_EQ(rows, static_cast<int>(ev::camMethodNames().size()));
  for (const auto& i : ev::camMethods()) EXPECT_NE(table.find("| `" + i.name + "`"), std::string::npos) << i.name;
}
