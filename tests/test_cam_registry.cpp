// One harness over the whole method registry (every method registered in src/cam/registry.cpp
// runs through it): shapes, non-negative finite maps, zero gradient → zero map, the batched
// tensor form against the per-map Volume form, and gradients through the differentiable ones.
#include <gtest/gtest.h>

#include <fstream>

#include "cam/method.hpp"
#include "explain_video/cam.hpp"

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

MethodInputs of(const ev::CamMethodInfo& info, const Inputs& in) {
  MethodInputs mi;
  mi.activation = in.a;
  if (info.has(ev::kNeedGradient)) mi.gradient = in.g;
  if (info.has(ev::kNeedClassifierWeights)) mi.classWeights = in.w;
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

TEST_P(EveryMethod, DescribesItself) {
  const ev::CamMethodInfo& i = ev::camMethod(GetParam());
  EXPECT_EQ(i.name, GetParam());
  EXPECT_FALSE(i.summary.empty());
  EXPECT_FALSE(i.reference.empty());
  EXPECT_FALSE(i.cost.empty());
  EXPECT_TRUE(i.has(ev::kNeedActivation));
}

TEST_P(EveryMethod, MapsHaveTheLayersShapeAndAreFiniteAndNonNegative) {
  const ev::camimpl::Method& m = ev::camimpl::findMethod(GetParam());
  for (int64_t seed : {1, 2, 3}) {
    const Inputs in = randomInputs(4, seed);
    const at::Tensor maps = m.maps(of(m.info(), in), nullptr);
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
  std::ifstream in(std::string(EV_SOURCE_DIR) + "/README.md");
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
