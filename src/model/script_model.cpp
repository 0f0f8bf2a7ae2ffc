#include "model/script_model.hpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/peephole.h>

#include <algorithm>
#include <limits>
#include <filesystem>
#include <unordered_map>

#include "explain_video/error.hpp"
#include "model/layer_geometry.hpp"
#include "model/outputs.hpp"
#include "model/torch_text.hpp"

namespace ev {
namespace modelimpl {

const char* const kSupported =
    "explain-video explains models that take one N\xC3\x97" "3\xC3\x97T\xC3\x97H\xC3\x97W clip tensor and have "
    "3D convolutional layers (C3D, R3D, MC3, R(2+1)D and similar)";

ScriptModel ScriptModel::load(const std::string& path) {
  std::error_code ec;
  if (path.empty()) throw Error(ErrorKind::Usage, "--model is required");
  if (!std::filesystem::exists(path, ec)) failModel(path, "file does not exist");
  if (std::filesystem::is_directory(path, ec)) failModel(path, "is a directory, not a TorchScript model");
  jit::Module m;
  try {
    m = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    failModel(path, "not a TorchScript model (" + torchMessage(e) + ")");
  }
  if (!m.find_method("forward")) failModel(path, "not a usable TorchScript model (no forward() method)");
  ScriptModel sm(std::move(m), path);
  sm.checkForwardSignature();
  return sm;
}

ScriptModel::ScriptModel(jit::Module module, std::string path) : module_(std::move(module)), path_(std::move(path)) {}

void ScriptModel::setDevice(const std::string& spec) {
  at::Device d = at::kCPU;
  if (spec == "cpu" || spec.empty()) {
    d = at::kCPU;
  } else if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    const std::string n = spec.size() > 5 ? spec.substr(5) : "0";
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos)
      throw Error(ErrorKind::Usage, "--device '" + spec + "': expected cpu, cuda or cuda:N");
    if (!at::hasCUDA())
      fail("--device " + spec + ": this LibTorch was built without CUDA (Debian's libtorch is CPU-only); use --device cpu");
    d = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(n)));
  } else {
    throw Error(ErrorKind::Usage, "--device '" + spec + "': expected cpu, cuda or cuda:N");
  }
  try {
    module_.to(d);
  } catch (const std::exception& e) {
    fail("--device " + spec + ": cannot move the model there (" + torchMessage(e) + ")");
  }
  device_ = d;
}

at::Tensor ScriptModel::logits(const c10::IValue& out, int64_t batch) const {
  return logitsOf(out, output_, path_, batch);
}

at::Tensor ScriptModel::forwardLogits(const at::Tensor& input) {
  c10::IValue out;
  try {
    out = module_.forward({input.to(device_)});
  } catch (const std::exception& e) {
    fail(forwardFailed(input.sizes(), e));
  }
  return logits(out, input.size(0));
}

// The message for a forward() that threw on our input, with a hint when the model seems to
// take images or another layout.
std::string ScriptModel::forwardFailed(at::IntArrayRef shape, const std::exception& e) const {
  std::string msg = torchMessage(e);
  std::string s = "forward() failed for input " + shapeString(shape) + ": " + msg;
  for (const char* imageHint : {"conv2d", "pool2d", "4-dimensional", "or 4D (batched)", "expected 4D input"})
    if (msg.find(imageHint) != std::string::npos)
      return s + "; the model seems to take 4D images (N\xC3\x97" "C\xC3\x97H\xC3\x97W): " + kSupported;
  return s + " (the input is one clip, N\xC3\x97" "3\xC3\x97T\xC3\x97H\xC3\x97W: do clip length and crop size fit the model?)";
}

// forward() must take one tensor: reject list/tuple/dict inputs (multi-pathway models) and
// several required inputs up front, with what is supported.
void ScriptModel::checkForwardSignature() const {
  auto method = module_.find_method("forward");
  const auto& args = method->function().getSchema().arguments();
  std::vector<const c10::Argument*> inputs;
  for (size_t i = 1; i < args.size(); ++i)
    if (!args[i].default_value()) inputs.push_back(&args[i]);
  if (inputs.empty()) fail(std::string("forward() takes no input; ") + kSupported);
  const auto& type = inputs[0]->type();
  const auto kind = type->kind();
  if (kind == c10::TypeKind::ListType || kind == c10::TypeKind::TupleType)
    fail("forward() takes " + type->annotation_str() + " (several pathways or clips, as in SlowFast-style two-pathway "
         "models), which is not supported: " + kSupported);
  if (kind == c10::TypeKind::DictType)
    fail("forward() takes " + type->annotation_str() + ", which is not supported: " + kSupported);
  if (kind != c10::TypeKind::TensorType)
    fail("forward() takes " + type->annotation_str() + " '" + inputs[0]->name() + "', not a tensor: " + kSupported);
  if (inputs.size() > 1) {
    std::string names;
    for (auto* a : inputs) names += (names.empty() ? "" : ", ") + a->name();
    fail("forward() takes " + std::to_string(inputs.size()) + " inputs (" + names + "), not one: " + kSupported);
  }
}

// For each probed path: the output of its last call (in graph order), or undefined.
ScriptModel::Probe ScriptModel::runProbe(const std::vector<int64_t>& inputShape) {
  if (inputShape.size() != 5 || inputShape[0] != 1)
    fail("input shape must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W, got " + shapeString(inputShape));
  Probe probe;
  c10::IValue result;
  // In eval mode: a model being trained must not update its batch-norm statistics here.
  const bool training = module_.is_training();
  try {
    if (!probe_) probe_ = std::make_shared<LayerProbe>(buildLayerProbe(module_, path_));
    c10::InferenceMode guard;
    module_.eval();
    result = (*probe_->fn)({module_._ivalue(), torch::zeros(inputShape, at::TensorOptions().device(device_))});
    if (training) module_.train();
  } catch (const Error&) {
    if (training) module_.train();
    throw;
  } catch (const std::exception& e) {
    if (training) module_.train();
    fail(forwardFailed(inputShape, e));
  }
  const auto& elems = result.toTupleRef().elements();
  for (size_t k = 0; k < probe_->paths.size(); ++k) {
    const auto& p = probe_->paths[k];
    ++probe.calls[p];
    auto it = probe.order.find(p);
    if (it != probe.order.end() && it->second > probe_->order[k]) continue;  // keep the last call
    probe.order[p] = probe_->order[k];
    probe.out[p] = elems[k].isTensor() ? elems[k].toTensor() : at::Tensor();
  }
  return probe;
}

// In forward order: by the position of each submodule's output in the inlined forward graph,
// a container at its first called descendant's position and before it (a tree in call order);
// those forward() never calls last, in registration order.
std::vector<LayerInfo> ScriptModel::listLayers(const std::vector<int64_t>& inputShape) {
  auto probe = runProbe(inputShape);
  std::vector<LayerInfo> layers;
  std::vector<std::pair<int64_t, size_t>> key;  // (order or max, depth)
  for (const auto& nm : module_.named_modules()) {
    if (nm.name.empty()) continue;
    LayerInfo info;
    info.name = nm.name;
    auto qn = nm.value.type()->name();
    info.type = qn ? qn->name() : std::string("?");
    auto it = probe.out.find(nm.name);
    if (it != probe.out.end() && it->second.defined())
      info.outputShape.assign(it->second.sizes().begin(), it->second.sizes().end());
    const auto ord = probe.order.find(nm.name);
    key.emplace_back(ord != probe.order.end() ? ord->second : std::numeric_limits<int64_t>::max(),
                     static_cast<size_t>(std::count(nm.name.begin(), nm.name.end(), '.')));
    layers.push_back(std::move(info));
  }
  for (size_t i = 0; i < layers.size(); ++i)
    for (size_t j = 0; j < layers.size(); ++j)
      if (layers[j].name.rfind(layers[i].name + ".", 0) == 0) key[i].first = std::min(key[i].first, key[j].first);
  std::vector<size_t> idx(layers.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
  std::vector<LayerInfo> sorted;
  for (size_t i : idx) sorted.push_back(std::move(layers[i]));
  return sorted;
}

// Rule: among submodules whose (last-call) output is 5D with more than one T×H×W cell (a
// global pool's N×C×1×1×1 is no map), take the one whose output value is produced last in the
// fully inlined forward graph. Nested modules that return their last child's output share one
// value (a Sequential and its last pool; r3d_18: layer4, layer4.1, layer4.1.relu); then the
// innermost that forward() calls exactly once wins (the pool, not the Sequential; layer4.1, not
// its ReLU module, which the block calls twice), else the outermost.
std::string ScriptModel::defaultLayer(const std::vector<int64_t>& inputShape) {
  auto probe = runProbe(inputShape);
  std::string best;
  int64_t bestOrder = -1;
  for (const auto& [name, t] : probe.out) {
    if (!t.defined() || t.dim() != 5 || t.size(2) * t.size(3) * t.size(4) <= 1) continue;
    int64_t order = probe.order[name];
    auto depth = [](const std::string& s) { return std::count(s.begin(), s.end(), '.'); };
    // Same value: once-called beats called-more-often, then deeper beats shallower among the
    // once-called (shallower among the others), then the name.
    auto better = [&](const std::string& a, const std::string& b) {
      const bool oa = probe.calls[a] == 1, ob = probe.calls[b] == 1;
      if (oa != ob) return oa;
      if (depth(a) != depth(b)) return oa ? depth(a) > depth(b) : depth(a) < depth(b);
      return a < b;
    };
    if (order > bestOrder || (order == bestOrder && better(name, best))) {
      best = name;
      bestOrder = order;
    }
  }
  if (best.empty()) {
    std::string why = hasSubmoduleCalls(*forwardGraphOf(module_, path_))
                          ? std::string("no submodule outputs a 5D (N,C,T,H,W) activation with more than one "
                                        "T\xC3\x97H\xC3\x97W cell, so there is no map to explain (transformer models "
                                        "whose blocks output tokens are not supported); ") + kSupported
                          : std::string("model is frozen/optimized: it has no submodule calls left; export it "
                                        "without torch.jit.freeze");
    fail("cannot choose a default layer: " + why);
  }
  return best;
}

jit::GraphFunction& ScriptModel::cachedFunction(const std::string& layer, CaptureMode mode, const std::string& what) {
  auto& cache = mode == CaptureMode::Head ? headFns_ : captureFns_;
  auto it = cache.find(layer);
  if (it == cache.end()) {
    std::shared_ptr<jit::GraphFunction> fn;
    try {
      fn = buildCaptureFunction(module_, path_, layer, mode);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(what + " '" + layer + "': " + torchMessage(e));
    }
    it = cache.emplace(layer, fn).first;
  }
  return *it->second;
}

jit::GraphFunction& ScriptModel::captureFunction(const std::string& layer) {
  return cachedFunction(layer, CaptureMode::Leaf, "cannot prepare capture at layer");
}

at::Tensor ScriptModel::logitsFromLayer(const std::string& layer, const at::Tensor& activation) {
  jit::GraphFunction& head = cachedFunction(layer, CaptureMode::Head, "cannot run the network from layer");
  c10::IValue out;
  try {
    // A copy: in-place ops after the layer (ReLU(inplace=True)) must not change the caller's tensor.
    out = head({module_._ivalue(), activation.to(device_).clone()});
  } catch (const std::exception& e) {
    fail("the network from layer '" + layer + "' failed: " + torchMessage(e));
  }
  return logits(out, activation.size(0));
}

std::shared_ptr<jit::GraphFunction> ScriptModel::layerForward(const std::string& layer) {
  try {
    return buildCaptureFunction(module_, path_, layer, CaptureMode::Through);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("cannot prepare capture at layer '" + layer + "': " + torchMessage(e));
  }
}

// The forward graph fully inlined, so that every convolution and pooling is an aten op, with
// the target's output (its last top-level call, as capture takes it) registered as an extra
// graph output; returns that output's index, or -1 when the call was not found.
int64_t inlinedGraphWithLayer(const jit::Module& module, const std::string& path, const std::string& layer,
                              std::shared_ptr<jit::Graph>& g) {
  g = forwardGraphOf(module, path);
  // Outputs are registered as they appear: inlining a nested call later replaces the value.
  std::vector<size_t> slots;
  inlineCalls(
      *g, [](const std::string&, const std::string&) { return true; },
      [&](const std::string& p, const std::string& method, bool topLevel, const std::vector<jit::Value*>& o) {
        if (p == layer && isForwardName(method) && topLevel && o.size() == 1 && isTensorType(o[0]))
          slots.push_back(g->registerOutput(o[0]));
      });
  if (slots.empty()) return -1;
  // Inline the remaining function calls too (F.max_pool3d, F.relu...): they hold the aten ops.
  // Then fold "stride is None" branches and the like, so that kernel sizes, strides and
  // paddings become constants.
  jit::Inline(*g);
  jit::PeepholeOptimize(g);
  jit::ConstantPropagation(g);
  std::unordered_map<const jit::Node*, int64_t> pos;
  int64_t i = 0;
  for (jit::Node* n : g->nodes()) pos[n] = ++i;
  size_t slot = slots.front();
  for (size_t s : slots)
    if (pos[g->outputs().at(s)->node()] > pos[g->outputs().at(slot)->node()]) slot = s;
  return static_cast<int64_t>(slot);
}

// A parameter tensor from its value in an inlined graph: a GetAttr chain from self (or a frozen
// constant); undefined otherwise.
at::Tensor parameterOf(const jit::Module& module, jit::Graph& g, jit::Value* v, std::string* name) {
  if (auto iv = jit::toIValue(v); iv && iv->isTensor()) return iv->toTensor();
  jit::Node* n = v->node();
  if (n->kind() != c10::prim::GetAttr) return {};
  auto owner = modulePath(n->input(0), g.inputs().at(0));
  if (!owner) return {};
  const std::string full = (owner->empty() ? "" : *owner + ".") + n->s(c10::attr::name);
  if (name) *name = *owner;
  for (const auto& p : module.named_parameters(/*recurse=*/true))
    if (p.name == full) return p.value;
  return {};
}

CellCentres ScriptModel::cellCentres(const std::string& layer, const std::vector<int64_t>& inputShape,
                                     std::string* why) {
  std::string reason;
  if (!why) why = &reason;
  try {
    std::shared_ptr<jit::Graph> g;
    const int64_t slot = inlinedGraphWithLayer(module_, path_, layer, g);
    if (slot < 0) {
      *why = "the layer's call was not found";
      return {};
    }
    // Fold what scripting leaves computed (functional pooling's "stride is None" branch) into
    // constants first.
    jit::ConstantPropagation(g);
    jit::Value* target = g->outputs().at(static_cast<size_t>(slot));
    auto weightOf = [&](jit::Value* v) { return parameterOf(module_, *g, v, nullptr); };
    // Kernel sizes and strides kept as module attributes (self.k): read from the module.
    auto constOf = [&](jit::Value* v) -> std::optional<c10::IValue> {
      jit::Node* n = v->node();
      if (n->kind() != c10::prim::GetAttr) return std::nullopt;
      auto owner = modulePath(n->input(0), g->inputs().at(0));
      if (!owner) return std::nullopt;
      jit::Module m = module_;
      std::string rest = *owner;
      while (!rest.empty()) {
        const size_t dot = rest.find('.');
        const std::string part = rest.substr(0, dot);
        if (!m.hasattr(part)) return std::nullopt;
        m = m.attr(part).toModule();
        rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
      }
      const std::string name = n->s(c10::attr::name);
      if (!m.hasattr(name)) return std::nullopt;
      return m.attr(name);
    };
    return cellCentresOf(*g, target, weightOf, inputShape, why, constOf);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    *why = torchMessage(e);
    return {};
  }
}

at::Tensor toTensor(const Volume& v) {
  if (Volume::numel(v.shape) != v.data.size())
    throw Error(ErrorKind::Internal, "input volume: shape does not match its data size");
  return torch::from_blob(const_cast<float*>(v.data.data()), v.shape, torch::kFloat32).clone();
}

Volume toVolume(const at::Tensor& t, bool dropBatch) {
  at::Tensor c = t.detach().to(torch::kFloat32).cpu().contiguous();
  std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
  if (dropBatch && !shape.empty()) shape.erase(shape.begin());
  Volume v;
  v.shape = shape;
  v.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return v;
}

}  // namespace modelimpl
}  // namespace ev

namespace ev {
namespace modelimpl {

ScriptModel::Capture ScriptModel::capture(const std::string& layer, const at::Tensor& input) {
  jit::GraphFunction& fn = captureFunction(layer);
  // The graph switches grad mode itself; the guard restores the caller's mode afterwards, also
  // when the graph throws half way.
  at::AutoGradMode gradGuard(true);
  c10::IValue out;
  try {
    out = fn({module_._ivalue(), input.to(device_)});
  } catch (const std::exception& e) {
    fail(forwardFailed(input.sizes(), e));
  }
  const auto& elems = out.toTupleRef().elements();
  Capture cap;
  cap.activation = elems.at(0).toTensor();
  cap.logits = logits(elems.at(1), input.size(0));
  if (cap.activation.dim() != 5 || cap.activation.size(0) != input.size(0))
    fail("layer '" + layer + "' output is " + std::to_string(cap.activation.dim()) + "D (" +
         shapeString(cap.activation.sizes()) + "), not 5D (N,C,T,H,W); choose a convolutional layer");
  return cap;
}

at::Tensor ScriptModel::batchGradients(const Capture& cap, const std::string& layer,
                                       const std::vector<std::vector<int>>& classes) {
  const int64_t n = cap.activation.size(0), k = cap.logits.size(1);
  if (static_cast<int64_t>(classes.size()) != n) fail("batch gradients: one class list per batch item expected");
  const int64_t K = classes.empty() ? 0 : static_cast<int64_t>(classes[0].size());
  for (const auto& cs : classes) {
    if (static_cast<int64_t>(cs.size()) != K) fail("batch gradients: every item needs the same number of classes");
    for (int c : cs)
      if (c < 0 || c >= k)
        throw Error(ErrorKind::Model,
                    "class id " + std::to_string(c) + " out of range: model has " + std::to_string(k) + " classes");
  }
  std::vector<int64_t> shape(cap.activation.sizes().begin(), cap.activation.sizes().end());
  shape.insert(shape.begin() + 1, K);
  at::Tensor out = at::zeros(shape, cap.activation.options().requires_grad(false));
  if (K == 0 || n == 0) return out;
  if (!cap.logits.requires_grad()) fail("the logits do not depend on layer '" + layer + "'");
  at::AutoGradMode gradGuard(true);
  try {
    for (int64_t j = 0; j < K; ++j) {
      std::vector<int64_t> idx(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = classes[static_cast<size_t>(i)][static_cast<size_t>(j)];
      const at::Tensor picked =
          cap.logits.gather(1, at::tensor(idx, at::TensorOptions().dtype(at::kLong).device(cap.logits.device())).unsqueeze(1));
      auto grads = torch::autograd::grad({picked.sum()}, {cap.activation}, {}, /*retain_graph=*/j + 1 < K,
                                         /*create_graph=*/false, /*allow_unused=*/true);
      if (grads.at(0).defined()) out.select(1, j).copy_(grads[0]);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("gradient at layer '" + layer + "' failed: " + torchMessage(e));
  }
  return out;
}

at::Tensor ScriptModel::gradients(const Capture& cap, const std::string& layer, const std::vector<int>& classes,
                                  bool retain) {
  const int64_t k = cap.logits.size(1);
  for (int c : classes)
    if (c < 0 || c >= k)
      throw Error(ErrorKind::Model,
                  "class id " + std::to_string(c) + " out of range: model has " + std::to_string(k) + " classes");
  std::vector<int64_t> shape(cap.activation.sizes().begin() + 1, cap.activation.sizes().end());
  shape.insert(shape.begin(), static_cast<int64_t>(classes.size()));
  at::Tensor out = at::empty(shape, cap.activation.options().requires_grad(false));
  if (classes.empty()) return out;
  if (!cap.logits.requires_grad()) fail("the logits do not depend on layer '" + layer + "'");
  at::AutoGradMode gradGuard(true);
  try {
    for (size_t i = 0; i < classes.size(); ++i) {
      const bool keep = retain || i + 1 < classes.size();
      auto grads = torch::autograd::grad({cap.logits[0][classes[i]]}, {cap.activation}, {}, keep,
                                         /*create_graph=*/false, /*allow_unused=*/true);
      if (grads.at(0).defined())
        out[static_cast<int64_t>(i)].copy_(grads[0][0]);
      else
        out[static_cast<int64_t>(i)].zero_();
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("gradient at layer '" + layer + "' failed: " + torchMessage(e));
  }
  return out;
}

}  // namespace modelimpl
}  // namespace ev
