// Tests for ev::Model (src/model/model.cpp) against Python references written by
// tests/models/capture_models.py: activations and gradients from hooks + autograd on the
// eager nn.Module, for scripted and traced exports of the same weights.
#include <gtest/gtest.h>

#include <map>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "explain_video/error.hpp"
#include "explain_video/model.hpp"
#include "test_paths.hpp"

namespace {

const std::string kDir = evtest::testModelsDir();

std::string file(const std::string& name) { return kDir + "/" + name; }

// Compares a layer table with the one Python's forward hooks wrote (tests/models: one line per
// submodule, "name type d0 d1 ..."); returns the number of layers. Tracing records no call for
// a module that computes nothing (C3D's nn.Identity placeholders for batch norm), so with
// `traced` those must show no output shape.
size_t checkLayerTable(const std::vector<ev::LayerInfo>& layers, const std::string& reference, bool traced) {
  // Python lists in registration order, the tool in forward order: matched by name.
  std::map<std::string, const ev::LayerInfo*> byName;
  for (const ev::LayerInfo& l : layers) byName[l.name] = &l;
  std::ifstream in(reference);
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name, type;
    ls >> name >> type;
    std::vector<int64_t> shape;
    int64_t d;
    while (ls >> d) shape.push_back(d);
    const auto it = byName.find(name);
    if (it == byName.end()) {
      ADD_FAILURE() << reference << ": the model does not list " << name;
      continue;
    }
    const ev::LayerInfo& l = *it->second;
    EXPECT_EQ(l.type, type) << name;
    if (traced && type == "Identity")
      EXPECT_TRUE(l.outputShape.empty()) << name;
    else
      EXPECT_EQ(l.outputShape, shape) << name;
    ++i;
  }
  EXPECT_EQ(i, layers.size()) << reference;
  return i;
}

std::vector<float> readRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(in) << "missing reference " << path;
  if (!in) return {};
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

struct LayerRef {
  std::string layer;
  std::vector<int> classes;
  std::vector<int64_t> shape;  // with batch dimension
};

struct Reference {
  ev::Volume input;
  std::vector<float> logits;
  std::vector<LayerRef> layers;
};

Reference readReference(const std::string& base) {
  Reference r;
  std::ifstream in(file(base + ".ref.txt"));
  EXPECT_TRUE(in) << "missing " << base << ".ref.txt";
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    if (key == "input") {
      int64_t d;
      while (ls >> d) r.input.shape.push_back(d);
    } else if (key == "layer") {
      LayerRef lr;
      std::string word;
      ls >> lr.layer >> word;  // "classes"
      while (ls >> word && word != "shape") lr.classes.push_back(std::stoi(word));
      int64_t d;
      while (ls >> d) lr.shape.push_back(d);
      r.layers.push_back(lr);
    }
  }
  r.input.data = readRaw(file(base + ".input.bin"));
  r.logits = readRaw(file(base + ".logits.bin"));
  return r;
}

// Max |a-b| relative to the largest magnitude of the reference.
void expectClose(const std::vector<float>& got, const std::vector<float>& want, const std::string& what,
                 double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0, err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, double(std::fabs(want[i])));
    err = std::max(err, double(std::fabs(got[i] - want[i])));
  }
  EXPECT_LE(err, rel * std::max(scale, 1e-6)) << what << ": max abs error " << err << ", scale " << scale;
}

std::vector<int64_t> dropBatch(std::vector<int64_t> s) {
  s.erase(s.begin());
  return s;
}

// Expects an ev::Error of kind Model whose one-line message contains every fragment.
template <class F>
void expectModelError(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no ev::Error thrown";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Model) << e.what();
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// Checks every reference layer of `base` against the model file `pt`.
void checkAgainstReference(const std::string& base, const std::string& pt) {
  Reference ref = readReference(base);
  ASSERT_FALSE(ref.layers.empty());
  ev::Model model(file(pt), 1);
  std::vector<float> predicted = model.predict(ref.input);
  expectClose(predicted, ref.logits, pt + " predict vs python");
  for (const auto& lr : ref.layers) {
    SCOPED_TRACE(pt + " layer " + lr.layer);
    model.setTargetLayer(lr.layer);
    EXPECT_EQ(model.targetLayer(), lr.layer);
    std::vector<float> seen;
    ev::LayerCapture cap = model.capture(ref.input, [&](const std::vector<float>& logits) {
      seen = logits;
      return lr.classes;
    });
    EXPECT_EQ(seen, cap.logits);
    EXPECT_EQ(cap.logits, predicted) << "capture logits must be bit-identical to predict";
    EXPECT_EQ(cap.classIds, lr.classes);
    EXPECT_EQ(cap.activation.shape, dropBatch(lr.shape));
    expectClose(cap.activation.data, readRaw(file(base + "." + lr.layer + ".act.bin")), "activation");
    ASSERT_EQ(cap.gradients.size(), lr.classes.size());
    std::vector<float> grads;
    for (const auto& g : cap.gradients) {
      EXPECT_EQ(g.shape, dropBatch(lr.shape));
      grads.insert(grads.end(), g.data.begin(), g.data.end());
    }
    expectClose(grads, readRaw(file(base + "." + lr.layer + ".grad.bin")), "gradient");
  }
}

}  // namespace

TEST(ModelCapture, PlainScriptedMatchesPython) { checkAgainstReference("cap_plain", "cap_plain_scripted.pt"); }
TEST(ModelCapture, PlainTracedMatchesPython) { checkAgainstReference("cap_plain", "cap_plain_traced.pt"); }
TEST(ModelCapture, ResidualScriptedMatchesPython) {
  checkAgainstReference("cap_residual", "cap_residual_scripted.pt");
}
TEST(ModelCapture, ResidualTracedMatchesPython) { checkAgainstReference("cap_residual", "cap_residual_traced.pt"); }
TEST(ModelCapture, TupleOutputScriptedMatchesPython) { checkAgainstReference("cap_tuple", "cap_tuple_scripted.pt"); }
TEST(ModelCapture, TupleOutputTracedMatchesPython) { checkAgainstReference("cap_tuple", "cap_tuple_traced.pt"); }
TEST(ModelCapture, ControlFlowModelLayerBeforeTheIf) {
  checkAgainstReference("cap_control", "cap_control_scripted.pt");
}

TEST(ModelCapture, ParametersWithoutRequiresGrad) {
  // cap_plain's weights saved with requires_grad=False: nothing upstream requires grad, yet
  // the activation still gets the same gradient as with trainable weights.
  checkAgainstReference("cap_plain", "cap_nograd_scripted.pt");
}

TEST(ModelCapture, RepeatedCaptureIsIdenticalAndLayersSwitch) {
  Reference ref = readReference("cap_residual");
  ev::Model model(file("cap_residual_scripted.pt"), 1);
  auto choose = [](const std::vector<float>&) { return std::vector<int>{3, 1, 3}; };
  model.setTargetLayer("layer1.0.conv2");
  auto a = model.capture(ref.input, choose);
  auto b = model.capture(ref.input, choose);
  EXPECT_EQ(a.logits, b.logits);
  EXPECT_EQ(a.activation.data, b.activation.data);
  ASSERT_EQ(a.gradients.size(), 3u);
  ASSERT_EQ(b.gradients.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a.gradients[i].data, b.gradients[i].data);
  EXPECT_EQ(a.gradients[0].data, a.gradients[2].data);
  EXPECT_NE(a.gradients[0].data, a.gradients[1].data);

  model.setTargetLayer("layer1");
  auto c = model.capture(ref.input, choose);
  EXPECT_EQ(c.logits, a.logits);
  EXPECT_NE(c.activation.data, a.activation.data);
  model.setTargetLayer("layer1.0.conv2");  // cached function, same result again
  auto d = model.capture(ref.input, choose);
  EXPECT_EQ(d.activation.data, a.activation.data);
  EXPECT_EQ(d.gradients[1].data, a.gradients[1].data);
  // predict in between does not disturb anything either; repeated predicts (the profiling
  // executor optimizes the forward graph after a few runs) stay bit-identical.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(model.predict(ref.input), a.logits);
  auto e = model.capture(ref.input, choose);
  EXPECT_EQ(e.logits, a.logits);
  EXPECT_EQ(e.gradients[2].data, a.gradients[2].data);
}

TEST(ModelCapture, NoClassesMeansNoGradients) {
  Reference ref = readReference("cap_plain");
  ev::Model model(file("cap_plain_traced.pt"), 1);
  model.setTargetLayer("features.4");
  auto cap = model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{}; });
  EXPECT_TRUE(cap.gradients.empty());
  EXPECT_EQ(cap.activation.shape, (std::vector<int64_t>{8, 4, 8, 8}));
}

TEST(ModelLayers, ListLayersMatchesPythonHooks) {
  for (const char* base : {"cap_plain", "cap_residual"}) {
    for (const char* kind : {"_scripted.pt", "_traced.pt"}) {
      SCOPED_TRACE(std::string(base) + kind);
      ev::Model model(file(std::string(base) + kind), 1);
      checkLayerTable(model.listLayers({1, 3, 4, 16, 16}), file(std::string(base) + ".layers.txt"), false);
    }
  }
}

TEST(ModelLayers, ListLayersPlainExplicit) {
  ev::Model model(file("cap_plain_scripted.pt"), 1);
  auto layers = model.listLayers({1, 3, 4, 16, 16});
  ASSERT_EQ(layers.size(), 13u);
  EXPECT_EQ(layers[0].name, "features");
  EXPECT_EQ(layers[0].type, "Sequential");
  EXPECT_EQ(layers[4].name, "features.3");
  EXPECT_EQ(layers[4].type, "Conv3d");
  EXPECT_EQ(layers[4].outputShape, (std::vector<int64_t>{1, 8, 4, 8, 8}));
  EXPECT_EQ(layers[12].name, "unused");
  EXPECT_TRUE(layers[12].outputShape.empty());
  // 64x64 input gives a flatten size the classifier does not accept: a clean error.
  expectModelError([&] { model.listLayers({1, 3, 4, 64, 64}); }, {"cap_plain_scripted.pt", "forward() failed"});
}

TEST(ModelLayers, ControlFlowLayersHaveEmptyShape) {
  ev::Model model(file("cap_control_scripted.pt"), 1);
  auto layers = model.listLayers({1, 3, 4, 16, 16});
  // Forward order: the calls the probe sees, then (registration order) those inside control flow.
  ASSERT_EQ(layers.size(), 4u);
  EXPECT_EQ(layers[0].name, "conv_a");
  EXPECT_EQ(layers[0].outputShape, (std::vector<int64_t>{1, 4, 4, 16, 16}));
  EXPECT_EQ(layers[1].outputShape, (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(layers[2].name, "branch");
  EXPECT_TRUE(layers[2].outputShape.empty());
  EXPECT_EQ(layers[3].name, "looped");
  EXPECT_TRUE(layers[3].outputShape.empty());
  EXPECT_EQ(model.defaultLayer({1, 3, 4, 16, 16}), "conv_a");
}

TEST(ModelLayers, DefaultLayer) {
  // Last 5D output (more than one T×H×W cell, so not avgpool's 1×1×1) in call order; among
  // modules sharing that value the innermost called once wins: the Sequential's last pool,
  // not the Sequential; the residual stage's last block, not the stage, nor the block's ReLU
  // module (called twice in the block).
  for (const char* kind : {"_scripted.pt", "_traced.pt"}) {
    ev::Model plain(file(std::string("cap_plain") + kind), 1);
    EXPECT_EQ(plain.defaultLayer({1, 3, 4, 16, 16}), "features.5") << kind;
    ev::Model residual(file(std::string("cap_residual") + kind), 1);
    EXPECT_EQ(residual.defaultLayer({1, 3, 4, 16, 16}), "layer1.1") << kind;
    // Forward order: a container before its children, children in call order, the never-called
    // submodule last.
    std::vector<std::string> names;
    for (const ev::LayerInfo& l : plain.listLayers({1, 3, 4, 16, 16})) names.push_back(l.name);
    EXPECT_EQ(names, (std::vector<std::string>{"features", "features.0", "features.1", "features.2", "features.3",
                                               "features.4", "features.5", "classifier", "classifier.0",
                                               "classifier.1", "classifier.2", "classifier.3", "unused"}))
        << kind;
    ev::Model tuple(file(std::string("cap_tuple") + kind), 1);
    EXPECT_EQ(tuple.defaultLayer({1, 3, 4, 16, 16}), "relu") << kind;
  }
}

TEST(ModelErrors, MissingFile) {
  expectModelError([] { ev::Model m(file("no_such_model.pt")); }, {"no_such_model.pt", "does not exist"});
}

TEST(ModelErrors, TextFileIsNotTorchScript) {
  expectModelError([] { ev::Model m(file("not_a_model.pt")); }, {"not_a_model.pt", "not a TorchScript model"});
}

TEST(ModelErrors, TruncatedFile) {
  expectModelError([] { ev::Model m(file("cap_truncated.pt")); }, {"cap_truncated.pt", "not a TorchScript model"});
}

TEST(ModelErrors, LayerDoesNotExist) {
  ev::Model model(file("cap_plain_scripted.pt"), 1);
  expectModelError([&] { model.setTargetLayer("features.conv9"); },
                   {"cap_plain_scripted.pt", "layer 'features.conv9' does not exist", "features.0"});
  expectModelError([&] { model.setTargetLayer(""); }, {"does not exist"});
}

TEST(ModelErrors, NonVolumetricLayer) {
  Reference ref = readReference("cap_plain");
  for (const char* pt : {"cap_plain_scripted.pt", "cap_plain_traced.pt"}) {
    ev::Model model(file(pt), 1);
    // Scripted graphs carry no shapes, so the error may come at setTargetLayer (traced) or
    // at the first capture (scripted).
    expectModelError(
        [&] {
          model.setTargetLayer("classifier.0");
          model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{0}; });
        },
        {pt, "layer 'classifier.0' output is 2D", "not 5D"});
  }
}

TEST(ModelErrors, UncalledLayer) {
  ev::Model model(file("cap_plain_scripted.pt"), 1);
  expectModelError([&] { model.setTargetLayer("unused"); }, {"layer 'unused' is not called"});
}

TEST(ModelErrors, FrozenModel) {
  ev::Model model(file("cap_frozen_scripted.pt"), 1);
  expectModelError([&] { model.setTargetLayer("features.3"); },
                   {"cap_frozen_scripted.pt", "frozen", "features.3", "torch.jit.freeze"});
  // It still predicts.
  Reference ref = readReference("cap_plain");
  EXPECT_EQ(model.predict(ref.input).size(), 10u);
  expectModelError([&] { model.defaultLayer({1, 3, 4, 16, 16}); }, {"frozen"});
}

TEST(ModelErrors, ControlFlow) {
  ev::Model model(file("cap_control_scripted.pt"), 1);
  expectModelError([&] { model.setTargetLayer("branch"); },
                   {"cap_control_scripted.pt", "layer 'branch' is called inside control flow"});
  expectModelError([&] { model.setTargetLayer("looped"); }, {"layer 'looped' is called inside control flow"});
}

TEST(ModelErrors, ClassOutOfRange) {
  Reference ref = readReference("cap_plain");
  ev::Model model(file("cap_plain_scripted.pt"), 1);
  model.setTargetLayer("features.3");
  expectModelError(
      [&] { model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{1, 12}; }); },
      {"class id 12 out of range: model has 10 classes"});
  expectModelError(
      [&] { model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{-1}; }); },
      {"class id -1 out of range"});
  // The model is still usable afterwards.
  auto cap = model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{9}; });
  EXPECT_EQ(cap.gradients.size(), 1u);
}

TEST(ModelErrors, CaptureWithoutTargetAndBadInput) {
  Reference ref = readReference("cap_plain");
  ev::Model model(file("cap_plain_scripted.pt"), 1);
  expectModelError([&] { model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{}; }); },
                   {"no target layer"});
  ev::Volume bad({1, 3, 16, 16});
  expectModelError([&] { model.predict(bad); }, {"input must be"});
  ev::Volume wrongChannels({1, 2, 4, 16, 16});
  expectModelError([&] { model.predict(wrongChannels); },
                   {"cap_plain_scripted.pt", "forward() failed", "to have 3 channels, but got 2 channels"});
}

TEST(ModelBasics, MoveAndPath) {
  ev::Model a(file("cap_tuple_scripted.pt"), 1);
  ev::Model b(std::move(a));
  EXPECT_EQ(b.path(), file("cap_tuple_scripted.pt"));
  Reference ref = readReference("cap_tuple");
  expectClose(b.predict(ref.input), ref.logits, "tuple predict");
}

// ---- Output selection: tuple and dict outputs (Model::setOutput) ----

TEST(ModelOutput, TupleElementsByIndex) {
  Reference ref = readReference("cap_tuple");
  const std::vector<float> second = readRaw(file("cap_tuple.out1.bin"));
  ASSERT_EQ(second.size(), 4u);
  for (const char* pt : {"cap_tuple_scripted.pt", "cap_tuple_traced.pt"}) {
    SCOPED_TRACE(pt);
    ev::Model model(file(pt), 1);
    const auto first = model.predict(ref.input);  // default: the first tensor
    model.setOutput("0");
    EXPECT_EQ(model.output(), "0");
    EXPECT_EQ(model.predict(ref.input), first);
    model.setOutput("1");
    expectClose(model.predict(ref.input), second, "element 1");
    // Capture explains the chosen output: 4 "classes" now.
    model.setTargetLayer("relu");
    auto cap = model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{3}; });
    EXPECT_EQ(cap.logits.size(), 4u);
    expectModelError([&] { model.capture(ref.input, [](const std::vector<float>&) { return std::vector<int>{4}; }); },
                     {"class id 4 out of range: model has 4 classes"});
    model.setOutput("2");
    expectModelError([&] { model.predict(ref.input); },
                     {pt, "output '2' does not exist", "(Tensor 1\xC3\x97" "10, Tensor 1\xC3\x97" "4)", "index 0..1"});
    model.setOutput("logits");
    expectModelError([&] { model.predict(ref.input); }, {"output 'logits' does not exist", "index 0..1"});
    model.setOutput("0.1");
    expectModelError([&] { model.predict(ref.input); }, {"output '0.1' does not exist", "not a tuple, list or dict"});
  }
}

TEST(ModelOutput, DictByKey) {
  ev::Volume x({1, 3, 8, 32, 32});
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = static_cast<float>((i * 7919) % 101) / 50.0f - 1.0f;
  for (const char* pt : {"dict_out_scripted.pt", "dict_out_traced.pt"}) {
    SCOPED_TRACE(pt);
    ev::Model model(file(pt), 1);
    // The first tensor is the 5D feature map, not logits: the error says what there is.
    expectModelError([&] { model.predict(x); },
                     {pt, "forward() output is 5D", "{features: Tensor 1\xC3\x97" "4\xC3\x97" "8\xC3\x97" "32\xC3\x97" "32, logits: Tensor 1\xC3\x97" "5}",
                      "--output"});
    model.setOutput("logits");
    EXPECT_EQ(model.predict(x).size(), 5u);
    EXPECT_EQ(model.defaultLayer({1, 3, 8, 32, 32}), "relu");
    model.setTargetLayer("relu");
    auto cap = model.capture(x, [](const std::vector<float>&) { return std::vector<int>{0, 4}; });
    EXPECT_EQ(cap.logits, model.predict(x));
    EXPECT_EQ(cap.activation.shape, (std::vector<int64_t>{4, 8, 32, 32}));
    ASSERT_EQ(cap.gradients.size(), 2u);
    model.setOutput("scores");
    expectModelError([&] { model.predict(x); }, {"output 'scores' does not exist", "dict with keys features, logits"});
  }
}

// ---- Models explain-video does not support: one clear line saying what is supported ----

TEST(ModelUnsupported, TwoPathwayListInput) {
  for (const char* pt : {"two_pathway_scripted.pt", "two_pathway_traced.pt"}) {
    SCOPED_TRACE(pt);
    expectModelError([&] { ev::Model m(file(pt), 1); },
                     {pt, "forward() takes List[Tensor]", "SlowFast", "not supported",
                      "one N\xC3\x97" "3\xC3\x97T\xC3\x97H\xC3\x97W clip tensor"});
  }
}

TEST(ModelUnsupported, ImageModelWith4DInput) {
  ev::Model model(file("image2d_scripted.pt"), 1);
  expectModelError([&] { model.defaultLayer({1, 3, 8, 32, 32}); },
                   {"image2d_scripted.pt", "forward() failed for input 1\xC3\x97" "3\xC3\x97" "8\xC3\x97" "32\xC3\x97" "32",
                    "4D images", "N\xC3\x97" "3\xC3\x97T\xC3\x97H\xC3\x97W"});
  expectModelError([&] { model.predict(ev::Volume({1, 3, 8, 32, 32})); }, {"4D images"});
}

TEST(ModelUnsupported, TransformerWithout5DActivations) {
  for (const char* pt : {"tokens_scripted.pt", "tokens_traced.pt"}) {
    SCOPED_TRACE(pt);
    ev::Model model(file(pt), 1);
    EXPECT_EQ(model.predict(ev::Volume({1, 3, 8, 32, 32})).size(), 5u);  // it does run
    expectModelError([&] { model.defaultLayer({1, 3, 8, 32, 32}); },
                     {pt, "cannot choose a default layer", "no submodule outputs a 5D", "transformer",
                      "3D convolutional layers"});
    expectModelError(
        [&] {
          model.setTargetLayer("embed");
          model.capture(ev::Volume({1, 3, 8, 32, 32}), [](const std::vector<float>&) { return std::vector<int>{0}; });
        },
        {"layer 'embed' output is 3D", "not 5D"});
  }
}

// ---- The architectures users bring (tests/models/zoo_models.py, exported by scripts/) ----

class ZooModel : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

// Activations and gradients at several layers (the default block, an inner conv, a layer
// followed by in-place ReLU, the stem) equal autograd's on the whole eager graph.
TEST_P(ZooModel, CaptureMatchesAutograd) {
  const std::string base = std::get<0>(GetParam());
  checkAgainstReference(base, base + std::get<1>(GetParam()));
}

// The default layer is the last 5D block (the ReLU ending layer4's last block of the video ResNets, the leaf whose output layer4 returns; pool5 of C3D), and
// the layer table matches Python's hooks.
TEST_P(ZooModel, DefaultLayerAndLayerTable) {
  const std::string base = std::get<0>(GetParam());
  const bool c3d = base == "zoo_c3d";
  const std::vector<int64_t> shape = c3d ? std::vector<int64_t>{1, 3, 16, 112, 112} : std::vector<int64_t>{1, 3, 8, 32, 32};
  const bool traced = std::string(std::get<1>(GetParam())) == "_traced.pt";
  ev::Model model(file(base + std::get<1>(GetParam())), 1);
  EXPECT_EQ(model.defaultLayer(shape), c3d ? "pool5" : "layer4.1.relu");
  EXPECT_GT(checkLayerTable(model.listLayers(shape), file(base + ".layers.txt"), traced), 10u);
}

INSTANTIATE_TEST_SUITE_P(Archs, ZooModel,
                         ::testing::Combine(::testing::Values("zoo_r3d_18", "zoo_mc3_18", "zoo_r2plus1d_18", "zoo_c3d"),
                                            ::testing::Values("_scripted.pt", "_traced.pt")),
                         [](const auto& info) {
                           std::string n = std::string(std::get<0>(info.param)).substr(4) + std::get<1>(info.param);
                           n = n.substr(0, n.size() - 3);
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
