// Distillation with explanations (issue 6): the differentiable Grad-CAM/Grad-CAM++ maps, the
// explanation loss ("exp") and knowledge distillation ("kd") terms, and the distill command.
// Tiny networks from tests/models/distill_models.py; the tiny synth split of test_train.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>

#include <torch/optim/adam.h>

#include "cam/method.hpp"
#include "cli_runner.hpp"
#include "test_paths.hpp"
#include "tiny_split.hpp"
#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/synth.hpp"
#include "explain_video/train.hpp"
#include "explain_video/volume.hpp"
#include "model/script_model.hpp"
#include "train/loss_terms.hpp"

namespace fs = std::filesystem;
using namespace ev;
using namespace ev::trainimpl;

namespace {

const std::string& dir() { return evtest::processDir(); }

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

const std::string& split() { return evtest::tinyTrainSplit(); }

TrainOptions options(const std::string& name, std::vector<std::string> losses) {
  TrainOptions o = evtest::tinyTrainOptions(model("tiny_student.pt"), name);
  o.teacherPath = model("tiny_teacher.pt");
  o.losses.clear();
  for (const auto& l : losses) o.losses.push_back(LossSpec{l, 1.0});
  o.expLayer = "conv3";
  o.teacherLayer = "conv3";
  return o;
}

const std::vector<int64_t> kInput{1, 3, 8, 32, 32};

// The student's forward pass with its conv3 output on the graph, as the trainer runs it.
struct Student {
  torch::jit::Module module;
  std::shared_ptr<torch::jit::GraphFunction> fn;
  explicit Student(const std::string& path, at::ScalarType dtype = at::kFloat) {
    modelimpl::ScriptModel sm = modelimpl::ScriptModel::load(path);
    module = sm.module();
    module.to(dtype);
    module.train(true);
    fn = sm.layerForward("conv3");
  }
  Forward run(const at::Tensor& x) {
    const auto out = (*fn)({module._ivalue(), x}).toTuple();
    return Forward{out->elements().at(1).toTensor(), out->elements().at(0).toTensor()};
  }
};

// The loss terms of `o` for the student file o.modelPath, as the trainer builds them.
std::vector<std::unique_ptr<LossTerm>> termsFor(const TrainOptions& o) {
  modelimpl::ScriptModel m = modelimpl::ScriptModel::load(o.modelPath);
  return makeLossTerms(o, LossContext{&m, kInput});
}

Batch batchOf(const at::Tensor& x, std::vector<int64_t> labels) {
  Batch b;
  b.input = x;
  b.labels = at::tensor(labels, at::kLong);
  b.epoch = 1;
  b.step = 1;
  return b;
}

}  // namespace

// ---- differentiable maps ----

TEST(CamTensor, ZeroDenominatorsGiveZeroAlphaAndFiniteSecondOrderGradients) {
  // Channel 0: Σ A = -2 and g = 1 → 2g² + ΣA·g³ = 0, alpha is 0 by definition.
  at::Tensor a = at::zeros({1, 2, 1, 1, 2}, at::kDouble);
  a.index_put_({0, 0, 0, 0, 0}, -2.0);
  a.index_put_({0, 1}, 1.0);
  at::Tensor g = at::ones({1, 2, 1, 1, 2}, at::kDouble).requires_grad_(true);
  camimpl::MethodInputs in;
  in.activation = a;
  in.gradient = g;
  const at::Tensor maps = camimpl::findMethod("gradcam++").maps(in, nullptr);
  // Channel 1: ΣA = 2, alpha = 1/(2+2) per cell, w = 2 · 1/4 = 0.5; channel 0 contributes 0.
  EXPECT_NEAR(maps[0][0][0][0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(maps[0][0][0][1].item<double>(), 0.5, 1e-12);
  maps.sum().backward();
  EXPECT_TRUE(at::isfinite(g.grad()).all().item<bool>());
}

// ---- the loss terms ----

TEST(Distill, ExplanationLossGradientMatchesFiniteDifferences) {
  // Double precision end to end: the student, the teacher (converted by the term) and the input.
  TrainOptions o = options("fd", {"exp"});
  auto terms = termsFor(o);
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0]->activationLayer(), "conv3");
  Student s(o.modelPath, at::kDouble);
  at::manual_seed(3);
  const Batch b = batchOf(at::randn({2, 3, 8, 32, 32}, at::kDouble), {2, 5});
  auto lossAt = [&] { return terms[0]->compute(b, s.run(b.input), s.module); };

  const at::Tensor loss = lossAt();
  ASSERT_GT(loss.item<double>(), 1e-4) << "a random student should not match the teacher";
  at::Tensor w;
  for (const auto& p : s.module.named_parameters())
    if (p.name == "conv2.weight") w = p.value;
  ASSERT_TRUE(w.defined());
  const at::Tensor grad = torch::autograd::grad({loss}, {w}).at(0);
  // Five entries with the largest analytic gradient (a kink of a ReLU or a max is unlikely to
  // sit within ±h of them).
  const at::Tensor top = std::get<1>(grad.abs().flatten().topk(5));
  const double h = 1e-6;
  for (int i = 0; i < 5; ++i) {
    const int64_t k = top[i].item<int64_t>();
    double plus, minus;
    {
      at::NoGradGuard ng;
      w.view(-1)[k] += h;
    }
    plus = lossAt().item<double>();
    {
      at::NoGradGuard ng;
      w.view(-1)[k] -= 2 * h;
    }
    minus = lossAt().item<double>();
    {
      at::NoGradGuard ng;
      w.view(-1)[k] += h;
    }
    const double fd = (plus - minus) / (2 * h), analytic = grad.view(-1)[k].item<double>();
    EXPECT_NEAR(analytic, fd, 1e-5 * std::max(1.0, std::abs(fd))) << "entry " << k;
    EXPECT_GT(std::abs(analytic), 1e-8);
  }
}

TEST(Distill, LossesAreZeroWhenStudentAndTeacherAreTheSameNetwork) {
  for (const char* method : {"gradcam++", "gradcam"}) {
    TrainOptions o = options("same", {"exp", "kd"});
    o.modelPath = o.teacherPath;  // the student is the teacher
    o.expMethod = method;
    auto terms = termsFor(o);
    Student s(o.modelPath);
    at::manual_seed(5);
    const Batch b = batchOf(at::randn({3, 3, 8, 32, 32}), {0, 3, 7});
    const Forward f = s.run(b.input);
    EXPECT_NEAR(terms[0]->compute(b, f, s.module).item<double>(), 0.0, 1e-12) << method;
    EXPECT_NEAR(terms[1]->compute(b, f, s.module).item<double>(), 0.0, 1e-9) << method;
    // And a different student is not at zero.
    Student other(model("tiny_student.pt"));
    const Forward g = other.run(b.input);
    EXPECT_GT(terms[0]->compute(b, g, other.module).item<double>(), 1e-4) << method;
    EXPECT_GT(terms[1]->compute(b, g, other.module).item<double>(), 1e-6) << method;
  }
}

TEST(Distill, DistillationTermIsTemperatureScaledKl) {
  TrainOptions o = options("kd", {"kd"});
  o.kdTemperature = 2.0;
  auto terms = termsFor(o);
  Student s(o.modelPath);
  at::manual_seed(9);
  const Batch b = batchOf(at::randn({2, 3, 8, 32, 32}), {1, 4});
  const Forward f = s.run(b.input);
  const double got = terms[0]->compute(b, f, s.module).item<double>();
  // By hand from both networks' logits.
  torch::jit::Module t = modelimpl::ScriptModel::load(o.teacherPath).module();
  t.eval();
  const at::Tensor tl = t.forward({b.input}).toTensor().to(at::kDouble);
  const at::Tensor sl = f.logits.detach().to(at::kDouble);
  double want = 0;
  for (int n = 0; n < 2; ++n) {
    const at::Tensor q = at::softmax(tl[n] / 2.0, 0), p = at::softmax(sl[n] / 2.0, 0);
    for (int k = 0; k < 8; ++k) {
      const double qk = q[k].item<double>(), pk = p[k].item<double>();
      want += qk * std::log(qk / pk);
    }
  }
  want = want / 2 * 4;  // mean over the batch, times T²
  EXPECT_NEAR(got, want, 1e-5 * std::max(1.0, want));
}

TEST(Distill, EveryLossFallsInAFewSteps) {
  // Each loss (alone and combined) as the only objective on one fixed batch: 20 Adam steps on
  // the student's weights must bring it well down.
  const std::vector<std::vector<std::string>> runs{{"ce"}, {"kd"}, {"exp"}, {"ce", "kd"}, {"ce", "exp"}, {"ce", "kd", "exp"}};
  at::manual_seed(11);
  const Batch b = batchOf(at::randn({4, 3, 8, 32, 32}), {0, 2, 5, 7});
  for (const auto& losses : runs) {
    std::string name;
    for (const auto& l : losses) name += (name.empty() ? "" : "+") + l;
    TrainOptions o = options("fall", losses);
    auto terms = termsFor(o);
    Student s(o.modelPath);
    std::vector<at::Tensor> params;
    for (at::Tensor p : s.module.parameters()) params.push_back(p);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(0.01));
    std::vector<double> totals;
    for (int step = 0; step < 21; ++step) {
      opt.zero_grad();
      const Forward f = s.run(b.input);
      at::Tensor total = at::zeros({}, at::kFloat);
      for (auto& t : terms) total = total + t->compute(b, f, s.module);
      totals.push_back(total.item<double>());
      if (step < 20) {
        total.backward();
        opt.step();
      }
    }
    // A single term must halve; in a sum the terms may pull apart (a random teacher disagrees
    // with the labels, so kd can rise while ce falls), but the sum must fall.
    const double factor = losses.size() == 1 ? 0.5 : 0.8;
    EXPECT_LT(totals.back(), factor * totals.front()) << name << ": " << totals.front() << " -> " << totals.back();
  }
}

TEST(Distill, TrainingRunsShowEveryTermAndStayFinite) {
  TrainOptions o = options("run", {"ce", "kd", "exp"});
  o.epochs = 2;  // 8 steps of 4 clips
  const TrainResult r = trainModel(o);
  ASSERT_EQ(r.termNames, (std::vector<std::string>{"ce", "kd", "exp"}));
  ASSERT_EQ(r.steps.size(), 8u);
  for (const auto& st : r.steps) {
    ASSERT_EQ(st.terms.size(), 3u);
    EXPECT_NEAR(st.loss, st.terms[0] + st.terms[1] + st.terms[2], 1e-4 * (1 + st.loss));
    for (double v : st.terms) EXPECT_TRUE(std::isfinite(v) && v >= 0);
  }
  EXPECT_TRUE(fs::exists(o.outPath));
}

TEST(Distill, SameSeedSameLosses) {
  TrainOptions a = options("seed_a", {"ce", "exp"});
  TrainOptions b = options("seed_b", {"ce", "exp"});
  a.epochs = b.epochs = 1;
  const TrainResult ra = trainModel(a), rb = trainModel(b);
  ASSERT_EQ(ra.steps.size(), rb.steps.size());
  for (size_t i = 0; i < ra.steps.size(); ++i) EXPECT_EQ(ra.steps[i].terms, rb.steps[i].terms) << "step " << i;
}

TEST(Distill, BadOptionsGiveClearErrors) {
  auto messageOf = [](const TrainOptions& o) -> std::string {
    try {
      trainModel(o);
    } catch (const Error& e) {
      return std::to_string(static_cast<int>(e.kind())) + " " + e.what();
    }
    return "no error";
  };
  TrainOptions o = options("bad", {"ce", "exp"});
  o.teacherPath.clear();
  EXPECT_EQ(messageOf(o), std::to_string(static_cast<int>(ErrorKind::Usage)) +
                              " --loss exp needs a teacher model (--teacher)");
  o = options("bad", {"kd"});
  o.teacherPath = dir() + "/missing.pt";
  EXPECT_NE(messageOf(o).find("missing.pt: file does not exist"), std::string::npos) << messageOf(o);
  o = options("bad", {"exp"});
  o.expMethod = "smoothgrad";
  EXPECT_NE(messageOf(o).find("--exp-method: unknown method 'smoothgrad'"), std::string::npos) << messageOf(o);
  o = options("bad", {"exp"});
  o.expLayer = "conv9";
  EXPECT_NE(messageOf(o).find("layer 'conv9' does not exist"), std::string::npos) << messageOf(o);
}

TEST(DistillCli, TrainsAStudentAndShowsEachTerm) {
  const std::string out = dir() + "/cli_student.pt";
  const auto r = evtest::runCli("distill --teacher " + model("tiny_teacher.pt") + " --model " + model("tiny_student.pt") +
                                    " --data " + split() + " --out " + out +
                                    " --loss ce,kd:0.5,exp:2 --exp-layer conv3 --teacher-layer conv3 --epochs 1"
                                    " --batch-size 4 --optimizer adam --lr 0.003 --resize 36x48 --crop 32x32 --clip-len 8"
                                    " --threads 1",
                                dir() + "/cli_stderr.txt");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, out + "\n");
  EXPECT_NE(r.err.find("(ce "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", kd "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", exp "), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out));

  const auto missing = evtest::runCli("distill --model " + model("tiny_student.pt") + " --data " + split() + " --out " +
                                          dir() + "/never.pt",
                                      dir() + "/cli_stderr.txt");
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, "explain-video: error: distill: --teacher is required\n");
  EXPECT_FALSE(fs::exists(dir() + "/never.pt"));
}

// ---- explanation supervision from ground-truth boxes ("box") ----

TEST(BoxLoss, CropBoxFollowsTheResizeAndCentreCrop) {
  PreprocessParams pre;
  pre.resizeWidth = 96;  // a 48×36 source doubled, then the centre 64×64 cut at (16, 4)
  pre.resizeHeight = 72;
  pre.cropWidth = 64;
  pre.cropHeight = 64;
  const CropGeometry g = centreCropGeometry(48, 36, pre);
  EXPECT_EQ(cropBox(Box{10, 5, 4, 3}, g), (Box{4, 6, 8, 6}));
  EXPECT_EQ(cropBox(Box{0, 0, 10, 4}, g), (Box{0, 0, 4, 4}));    // clipped at the crop's top-left
  EXPECT_EQ(cropBox(Box{36, 30, 6, 6}, g), (Box{56, 56, 8, 8})); // and bottom-right
  EXPECT_TRUE(cropBox(Box{0, 10, 6, 4}, g).empty());             // left of the crop
  EXPECT_TRUE(cropBox(Box{}, g).empty());
  // A non-integer scale rounds outward: 160 → 171 is ×1.06875, so x 40..50 → 42.75..53.44;
  // y uses 128/120: 60..70 → 64..74.67.
  PreprocessParams def;
  const CropGeometry d = centreCropGeometry(160, 120, def);
  ASSERT_EQ(d.cropX, 29);
  EXPECT_EQ(cropBox(Box{40, 60, 10, 10}, d), (Box{42 - 29, 64 - 8, 54 - 42, 75 - 64}));
}

TEST(BoxLoss, TargetIsTheActorsShareOfEachCellInTheActionFrames) {
  // 8 frames of 8×8 onto a 2×2×2 grid (cells of 4 frames × 4×4 pixels). The actor covers the
  // top-left 4×4 quadrant in frames 0-3, then 2×4 pixels of the bottom-right one; the action
  // is frames 2..6, so frames 0-1 and 7 count as empty.
  std::vector<Box> boxes(8);
  for (int f = 0; f < 4; ++f) boxes[f] = Box{0, 0, 4, 4};
  for (int f = 4; f < 8; ++f) boxes[f] = Box{4, 4, 2, 4};
  const at::Tensor t = boxTarget(boxes, 2, 7, 0, 8, 8, 8, {2, 2, 2});
  ASSERT_EQ(t.sizes(), (at::IntArrayRef{2, 2, 2}));
  EXPECT_FLOAT_EQ(t[0][0][0].item<float>(), 2.f / 4.f);          // frames 2,3 of 0-3, whole cell
  EXPECT_FLOAT_EQ(t[1][1][1].item<float>(), 3.f / 4.f * 8 / 16); // frames 4-6 of 4-7, 8 of 16 px
  EXPECT_FLOAT_EQ(t.sum().item<float>(), 0.5f + 0.375f);
  // Starting at frame 6 of the 8: frames past the end repeat frame 7 (outside the action).
  const at::Tensor late = boxTarget(boxes, 2, 7, 6, 8, 8, 8, {2, 2, 2});
  EXPECT_FLOAT_EQ(late.sum().item<float>(), 1.f / 4.f * 8 / 16);  // only frame 6
  EXPECT_FLOAT_EQ(late[0][1][1].item<float>(), 1.f / 4.f * 8 / 16);
}

TEST(BoxLoss, TrainingOnTheBoxesBringsTheMapsOntoTheActor) {
  TrainOptions o = options("box", {"box"});
  o.epochs = 8;  // 4 steps of 4 clips each
  o.seed = 3;
  const TrainResult r = trainModel(o);
  ASSERT_EQ(r.termNames, (std::vector<std::string>{"box"}));
  ASSERT_EQ(r.epochs.size(), 8u);
  const double first = r.epochs.front().trainTerms.at(0), last = r.epochs.back().trainTerms.at(0);
  for (const auto& e : r.epochs) EXPECT_TRUE(std::isfinite(e.trainTerms.at(0)));
  std::cout << "box loss, epoch 1 -> 8: " << first << " -> " << last << "\n";
  EXPECT_LT(last, 0.7 * first) << first << " -> " << last;
}

TEST(BoxLoss, UnknownTermsNameTheKnownOnes) {
  TrainOptions o = options("unknown", {"ce", "boxes"});
  try {
    termsFor(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_STREQ(e.what(), "--loss: unknown loss term 'boxes' (known: ce, kd, exp, box)");
  }
}

TEST(BoxLoss, TargetBinsPixelsByTheNearestCellCentre) {
  // 8 pixels onto 2 cells centred at 1 and 3 (not the even 1.5 and 5.5): pixels 0-2 go to cell
  // 0 (pixel 2 is a tie, which goes to the lower cell), 3-7 to cell 1. A box on pixels 0-1 of
  // every row and frame covers 2 of cell 0's 3 columns and none of cell 1's.
  std::vector<Box> boxes(2, Box{0, 0, 2, 8});
  CellCentres c;
  c.w = {1, 3};
  const at::Tensor t = boxTarget(boxes, 0, 2, 0, 2, 8, 8, {1, 1, 2}, c);
  EXPECT_FLOAT_EQ(t[0][0][0].item<float>(), 2.f / 3.f);
  EXPECT_FLOAT_EQ(t[0][0][1].item<float>(), 0.f);
  // Without centres: even halves, 2 of 4 columns.
  const at::Tensor even = boxTarget(boxes, 0, 2, 0, 2, 8, 8, {1, 1, 2});
  EXPECT_FLOAT_EQ(even[0][0][0].item<float>(), 0.5f);
}

// The exp term brings the student's map onto the teacher's cells by their centres: a signal
// known at 0.5 and 2.5 (values 0 and 1) is 0, 0.5 and 1 at 0.5, 1.5 and 2.5, and holds its end
// values outside (at 0 and 3).
TEST(Distill, InterpolationBetweenCellCentres) {
  const at::Tensor m = interpolationMatrix({0.5, 2.5}, {0.0, 0.5, 1.5, 2.5, 3.0});
  ASSERT_EQ(m.sizes(), (at::IntArrayRef{5, 2}));
  const at::Tensor v = at::matmul(m, at::tensor({0.0, 1.0}, at::kDouble));
  const std::vector<double> expect{0, 0, 0.5, 1, 1};
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(v[i].item<double>(), expect[i]) << i;
  // One student cell: every teacher cell takes its value.
  EXPECT_TRUE(at::equal(interpolationMatrix({7.5}, {3.5, 11.5}), at::ones({2, 1}, at::kDouble)));
}
