// Stage 3: TorchScript model loading, prediction, layer listing and activation/gradient
// capture at an inner layer.
//
// LibTorch has no module hooks for TorchScript modules, so capture works by graph surgery:
// copy forward()'s graph, inline only the submodule calls on the path to the target layer,
// find the call of the target module and return its output together with the model output.
// Everything torch-related lives in this one translation unit (compile time).
#include "explain_video/model.hpp"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/peephole.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "explain_video/error.hpp"
#include "model/layer_forward.hpp"
#include "model/layer_geometry.hpp"
#include "model/outputs.hpp"

namespace ev {
namespace {

namespace jit = torch::jit;

// c10::Error messages are multi-line with a backtrace; keep the first meaningful line.
std::string firstLine(const std::string& what) {
  std::istringstream in(what);
  std::string line;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.size() > 300) line = line.substr(0, 300) + "...";
    return line;
  }
  return "unknown error";
}

// Errors raised inside the TorchScript interpreter start with a generic header and a
// TorchScript traceback; the actual reason ("RuntimeError: ...") is the last line.
std::string torchMessage(const std::exception& e) {
  auto* ce = dynamic_cast<const c10::Error*>(&e);
  std::string text = ce ? ce->what_without_backtrace() : e.what();
  std::string first = firstLine(text);
  if (first.find("failed in the TorchScript interpreter") == std::string::npos) return first;
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  last = firstLine(last);
  for (const char* prefix : {"RuntimeError: ", "Exception: "})
    if (last.rfind(prefix, 0) == 0) last = last.substr(std::char_traits<char>::length(prefix));
  return last;
}

std::string shapeString(at::IntArrayRef sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += "\xC3\x97";  // ×
    s += std::to_string(sizes[i]);
  }
  return s;
}

std::string shapeString(const std::vector<int64_t>& sizes) { return shapeString(at::IntArrayRef(sizes)); }

// What a forward() output is made of, for error messages: "Tensor 1×10",
// "(Tensor 1×10, Tensor 1×4)", "{feat: Tensor 1×4, logits: Tensor 1×5}".
std::string describe(const c10::IValue& v, int depth = 0) {
  if (v.isTensor()) return "Tensor " + shapeString(v.toTensor().sizes());
  if (depth > 3) return "...";
  auto join = [&](const auto& range, const char* open, const char* close) {
    std::string s = open;
    size_t i = 0;
    for (const auto& e : range) {
      if (i++) s += ", ";
      if (i > 8) { s += "..."; break; }
      s += describe(e, depth + 1);
    }
    return s + close;
  };
  if (v.isTuple()) return join(v.toTupleRef().elements(), "(", ")");
  if (v.isList()) return join(v.toListRef(), "[", "]");
  if (v.isGenericDict()) {
    std::string s = "{";
    size_t i = 0;
    for (const auto& kv : v.toGenericDict()) {
      if (i++) s += ", ";
      if (i > 8) { s += "..."; break; }
      s += (kv.key().isString() ? kv.key().toStringRef() : kv.key().tagKind()) + ": " + describe(kv.value(), depth + 1);
    }
    return s + "}";
  }
  if (v.isNone()) return "None";
  return v.tagKind();
}

std::vector<std::string> splitDotted(const std::string& s) {
  std::vector<std::string> parts;
  std::istringstream in(s);
  for (std::string p; std::getline(in, p, '.');) parts.push_back(p);
  return parts;
}

std::optional<int64_t> parseIndex(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(s);
}

// What explain-video supports, appended to errors about models it cannot use.
const char* kSupported =
    "explain-video explains models that take one N\xC3\x97" "3\xC3\x97T\xC3\x97H\xC3\x97W clip tensor and have "
    "3D convolutional layers (C3D, R3D, MC3, R(2+1)D and similar)";

// True for the methods that stand for "calling the module": forward, and the forward1,
// forward2, ... that tracing creates when one module instance is called several times.
bool isForwardName(const std::string& name) {
  if (name.rfind("forward", 0) != 0) return false;
  return std::all_of(name.begin() + 7, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Dotted module path of a module-typed value: the prim::GetAttr chain from the graph's self.
std::optional<std::string> modulePath(jit::Value* v, jit::Value* self) {
  std::vector<std::string> parts;
  while (v != self) {
    jit::Node* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return std::nullopt;
    parts.push_back(n->s(c10::attr::name));
    v = n->input(0);
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path.empty()) path += '.';
    path += *it;
  }
  return path;
}

bool isPrefixPath(const std::string& prefix, const std::string& path) {
  return prefix.empty() || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '.');
}

// The callee of a prim::CallMethod on a concrete module class (not an interface), or null.
jit::GraphFunction* calleeOf(jit::Node* call) {
  auto cls = call->input(0)->type()->cast<c10::ClassType>();
  if (!cls) return nullptr;
  auto* fn = cls->findMethod(call->s(c10::attr::name));
  if (!fn) return nullptr;
  return jit::tryToGraphFunction(*fn);
}

bool hasSubmoduleCalls(jit::Graph& g) {
  return !jit::findAllNodes(g, c10::prim::CallMethod, /*recurse=*/true).empty();
}

bool isTensorType(jit::Value* v) { return v->type()->kind() == c10::TypeKind::TensorType; }

// Inline, anywhere in the graph, every call on a module whose path satisfies `pred(path,
// method)`. `onInline(node, path, outputs)` is told about each inlined call and its outputs.
template <class Pred, class OnInline>
void inlineCalls(jit::Graph& g, Pred pred, OnInline onInline) {
  jit::Value* self = g.inputs().at(0);
  for (;;) {
    bool changed = false;
    for (jit::Node* n : jit::findAllNodes(g, c10::prim::CallMethod, /*recurse=*/true)) {
      auto path = modulePath(n->input(0), self);
      if (!path) continue;
      const std::string method = n->s(c10::attr::name);
      if (!pred(*path, method)) continue;
      jit::GraphFunction* callee = calleeOf(n);
      if (!callee) continue;
      const bool topLevel = n->owningBlock() == g.block();
      // Pass the callee's own graph (not its inlined/optimized one) so that its submodule
      // calls stay visible for the next round.
      auto outs = jit::inlineCallTo(n, callee, callee->graph().get());
      onInline(*path, method, topLevel, outs);
      changed = true;
      break;  // node list is stale now
    }
    if (!changed) return;
  }
}

// Appends `v` to the graph's outputs as part of a tuple with the existing output:
// graph returns (extra..., original).
void returnTuple(jit::Graph& g, const std::vector<jit::Value*>& first) {
  jit::WithInsertPoint guard(g.return_node());
  std::vector<jit::Value*> items = first;
  items.push_back(g.outputs().at(0));
  jit::Node* tup = g.insertNode(g.createTuple(items));
  while (!g.outputs().empty()) g.eraseOutput(0);
  g.registerOutput(tup->output());
}

std::shared_ptr<jit::GraphFunction> makeFunction(const std::string& name, std::shared_ptr<jit::Graph> g) {
  // SIMPLE executor: run the graph as built, no profiling-driven rewrites (autodiff
  // subgraphs, fusion), so the logits are computed exactly as written.
  return std::make_shared<jit::GraphFunction>(c10::QualifiedName("__ev__." + name), std::move(g), nullptr,
                                              jit::ExecutorExecutionMode::SIMPLE);
}

at::Tensor toTensor(const Volume& v) {
  if (Volume::numel(v.shape) != v.data.size())
    throw Error(ErrorKind::Internal, "input volume: shape does not match its data size");
  return torch::from_blob(const_cast<float*>(v.data.data()), v.shape, torch::kFloat32).clone();
}

Volume toVolume(const at::Tensor& t, bool dropBatch) {
  at::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
  if (dropBatch && !shape.empty()) shape.erase(shape.begin());
  Volume v;
  v.shape = shape;
  v.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return v;
}

// The first tensor in a (possibly nested) tuple/list/dict output, or undefined.
at::Tensor firstTensor(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor();
  if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) {
      auto t = firstTensor(e);
      if (t.defined()) return t;
    }
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) {
      auto t = firstTensor(e);
      if (t.defined()) return t;
    }
  } else if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      auto t = firstTensor(kv.value());
      if (t.defined()) return t;
    }
  }
  return {};
}

enum class CaptureMode {
  Leaf,     // the activation is a fresh autograd leaf; nothing before it records autograd state
  Through,  // the activation stays on the autograd graph back to the parameters (training)
};

[[noreturn]] void failModel(const std::string& path, const std::string& msg) {
  throw Error(ErrorKind::Model, path + ": " + msg);
}

// The tensor `outputSelector` names in forward()'s output (modelimpl::selectOutput).
at::Tensor selectOutputIn(const c10::IValue& out, const std::string& outputSelector, const std::string& path) {
  if (outputSelector.empty()) {
    at::Tensor t = firstTensor(out);
    if (!t.defined()) failModel(path, "forward() returned no tensor (it returns " + describe(out) + ")");
    return t;
  }
  const c10::IValue* v = &out;
  std::string walked;
  for (const std::string& part : splitDotted(outputSelector)) {
    const std::string here = walked.empty() ? "forward()'s output" : "output '" + walked + "'";
    const c10::IValue* next = nullptr;
    if (v->isTuple() || v->isList()) {
      const size_t n = v->isTuple() ? v->toTupleRef().elements().size() : v->toListRef().size();
      auto idx = parseIndex(part);
      if (!idx || *idx >= static_cast<int64_t>(n))
        failModel(path, "output '" + outputSelector + "' does not exist: " + here + " is " + describe(*v) +
             "; give an index 0.." + std::to_string(static_cast<int64_t>(n) - 1));
      next = v->isTuple() ? &v->toTupleRef().elements()[*idx] : &v->toListRef()[*idx];
    } else if (v->isGenericDict()) {
      std::string keys;
      for (const auto& kv : v->toGenericDict()) {
        if (kv.key().isString() && kv.key().toStringRef() == part) next = &kv.value();
        if (kv.key().isInt() && parseIndex(part) && kv.key().toInt() == *parseIndex(part)) next = &kv.value();
        keys += (keys.empty() ? "" : ", ") + (kv.key().isString() ? kv.key().toStringRef()
                                                                  : std::to_string(kv.key().isInt() ? kv.key().toInt() : 0));
      }
      if (!next)
        failModel(path, "output '" + outputSelector + "' does not exist: " + here + " is a dict with keys " +
             (keys.empty() ? "(none)" : keys));
    } else {
      failModel(path, "output '" + outputSelector + "' does not exist: " + here + " is " + describe(*v) +
           ", not a tuple, list or dict");
    }
    v = next;
    walked += (walked.empty() ? "" : ".") + part;
  }
  if (!v->isTensor())
    failModel(path, "output '" + outputSelector + "' is " + describe(*v) + ", not a tensor; select one of its elements");
  return v->toTensor();
}

std::shared_ptr<jit::Graph> forwardGraphOf(const jit::Module& module, const std::string& path) {
  auto method = module.find_method("forward");
  if (!method) failModel(path, "model has no forward() method");
  return jit::toGraphFunction(method->function()).graph()->copy();
}

std::vector<std::string> submoduleNamesOf(const jit::Module& module) {
  std::vector<std::string> names;
  for (const auto& nm : module.named_modules())
    if (!nm.name.empty()) names.push_back(nm.name);
  return names;
}

// A function (self, input) -> (output of submodule `layer`, forward()'s output).
std::shared_ptr<jit::GraphFunction> buildCaptureFunction(const jit::Module& module, const std::string& path,
                                                         const std::string& layer, CaptureMode mode) {
  auto fail = [&](const std::string& msg) { failModel(path, msg); };
  auto g = forwardGraphOf(module, path);
  if (!hasSubmoduleCalls(*g))
    fail("model is frozen/optimized: it has no submodule calls left, so layer '" + layer +
         "' cannot be captured; export it without torch.jit.freeze");
  auto names = submoduleNamesOf(module);
  if (std::find(names.begin(), names.end(), layer) == names.end()) {
    std::string list;
    for (size_t i = 0; i < names.size() && i < 12; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 12) list += ", ... (" + std::to_string(names.size()) + " in all)";
    fail("layer '" + layer + "' does not exist; layers: " + (list.empty() ? "(none)" : list));
  }
  // Inline calls on modules that contain the target (and non-forward helper methods of them).
  inlineCalls(
      *g, [&](const std::string& p, const std::string&) { return isPrefixPath(p, layer); },
      [](const std::string&, const std::string&, bool, const std::vector<jit::Value*>&) {});

  jit::Value* self = g->inputs().at(0);
  jit::Node* target = nullptr;
  bool inControlFlow = false;
  for (jit::Node* n : jit::findAllNodes(*g, c10::prim::CallMethod, /*recurse=*/true)) {
    if (!isForwardName(n->s(c10::attr::name))) continue;
    auto p = modulePath(n->input(0), self);
    if (!p || *p != layer) continue;
    if (n->owningBlock() != g->block()) {
      inControlFlow = true;
    } else if (!target || n->isAfter(target)) {
      target = n;  // last call wins
    }
  }
  if (inControlFlow)
    fail("layer '" + layer + "' is called inside control flow (prim::If/Loop), which cannot be captured");
  if (!target) fail("layer '" + layer + "' is not called by forward(), so it cannot be captured");
  if (target->outputs().size() != 1 || !isTensorType(target->output()))
    fail("layer '" + layer + "' does not return a single tensor (" + target->output(0)->type()->str() +
         "); choose a convolutional layer");
  if (auto tt = target->output()->type()->cast<c10::TensorType>()) {
    auto dim = tt->dim();
    if (dim && *dim != 5) {
      std::string shape = std::to_string(*dim) + "D";
      if (auto sizes = tt->sizes().concrete_sizes()) shape += " (" + shapeString(*sizes) + ")";
      fail("layer '" + layer + "' output is " + shape +
           ", not 5D (N,C,T,H,W); choose a convolutional layer");
    }
  }

  jit::Value* a = target->output();
  if (mode == CaptureMode::Through) {
    // a = target(...); c = clone(a) and every later user of a reads c; return a. Autograd
    // flows from a to the parameters, and in-place ops after the target modify c, never a.
    jit::WithInsertPoint guard(target->next());
    jit::Value* copy = g->insert(c10::aten::clone, {a});
    a->replaceAllUsesAfterNodeWith(copy->node(), copy);
    returnTuple(*g, {a});
    return makeFunction("forward_with." + layer, g);
  }

  // Surgery (Leaf):
  //   set_grad_enabled(false) at the top: nothing below the target records autograd state;
  //   a = target(...)
  //   set_grad_enabled(true)
  //   r = requires_grad_(clone(a))     -- the returned activation, a fresh autograd leaf
  //   c = clone(r)                     -- every later user of a reads c instead
  // In-place ops after the target (ReLU(inplace=True), out += identity) then modify c, never
  // r, and dS/dr is the gradient with respect to the activation as the target produced it.
  const auto setGrad = c10::Symbol::fromQualString("aten::set_grad_enabled");
  {
    jit::Node* first = g->block()->nodes().front();
    jit::WithInsertPoint guard(first);
    jit::Value* off = g->insertConstant(false);
    g->insertNode(g->create(setGrad, {off}, 0));
  }
  jit::Value* copy = nullptr;
  {
    jit::WithInsertPoint guard(target->next());
    jit::Value* on = g->insertConstant(true);
    g->insertNode(g->create(setGrad, {on}, 0));
    jit::Value* fresh = g->insert(c10::aten::clone, {a});
    jit::Value* leaf = g->insert(c10::Symbol::fromQualString("aten::requires_grad_"), {fresh, true});
    copy = g->insert(c10::aten::clone, {leaf});
    a->replaceAllUsesAfterNodeWith(copy->node(), copy);
    copy = leaf;
  }
  returnTuple(*g, {copy});
  return makeFunction("capture." + layer, g);
}

}  // namespace

namespace modelimpl {

std::string torchMessage(const std::exception& e) { return ev::torchMessage(e); }
std::string describeOutput(const c10::IValue& v) { return describe(v); }
at::Tensor selectOutput(const c10::IValue& out, const std::string& selector, const std::string& modelPath) {
  return selectOutputIn(out, selector, modelPath);
}

std::shared_ptr<torch::jit::GraphFunction> buildLayerForward(const torch::jit::Module& module,
                                                             const std::string& modelPath, const std::string& layer) {
  try {
    return buildCaptureFunction(module, modelPath, layer, CaptureMode::Through);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    failModel(modelPath, "cannot prepare capture at layer '" + layer + "': " + torchMessage(e));
  }
}
}  // namespace modelimpl

struct Model::Impl {
  std::string path;
  jit::Module module;
  std::string target;
  // Capture functions per target layer: graph returns (activation, model output).
  std::map<std::string, std::shared_ptr<jit::GraphFunction>> captureFns;
  // Layer probe: graph returns (out_1, ..., out_n, model output) for probePaths.
  std::shared_ptr<jit::GraphFunction> probeFn;
  std::vector<std::string> probePaths;
  std::vector<int64_t> probeOrder;  // position of each output's producer in the graph
  std::string outputSelector;       // setOutput(): "" = first tensor

  [[noreturn]] void fail(const std::string& msg) const { failModel(path, msg); }

  std::shared_ptr<jit::Graph> forwardGraphCopy() const { return forwardGraphOf(module, path); }

  // The tensor setOutput() chose from forward()'s output.
  at::Tensor selectOutput(const c10::IValue& out) const { return selectOutputIn(out, outputSelector, path); }

  at::Tensor logitsOf(const c10::IValue& out) const {
    at::Tensor t = selectOutput(out);
    if (t.dim() == 2 && t.size(0) == 1) return t.reshape({-1});
    if (t.dim() == 1) return t;
    std::string which = outputSelector.empty() ? "forward() output" : "output '" + outputSelector + "'";
    std::string hint = out.isTensor() ? "" : " (forward() returns " + describe(out) + "; choose the logits with --output)";
    fail(which + " is " + std::to_string(t.dim()) + "D (" + shapeString(t.sizes()) +
         "), expected logits 1\xC3\x97K or K" + hint);
  }

  // The message for a forward() that threw on our input, with a hint when the model seems to
  // take images or another layout.
  std::string forwardFailed(at::IntArrayRef shape, const std::exception& e) const {
    std::string msg = torchMessage(e);
    std::string s = "forward() failed for input " + shapeString(shape) + ": " + msg;
    for (const char* imageHint : {"conv2d", "pool2d", "4-dimensional", "or 4D (batched)", "expected 4D input"})
      if (msg.find(imageHint) != std::string::npos)
        return s + "; the model seems to take 4D images (N\xC3\x97" "C\xC3\x97H\xC3\x97W): " + kSupported;
    return s + " (the input is one clip, N\xC3\x97" "3\xC3\x97T\xC3\x97H\xC3\x97W: do clip length and crop size fit the model?)";
  }

  // forward() must take one tensor: reject list/tuple/dict inputs (multi-pathway models) and
  // several required inputs up front, with what is supported.
  void checkForwardSignature() const {
    auto method = module.find_method("forward");
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

  at::Tensor inputTensor(const Volume& input) const {
    if (input.shape.size() != 5 || input.shape[0] != 1)
      fail("input must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W, got " + shapeString(input.shape));
    return toTensor(input);
  }

  std::shared_ptr<jit::GraphFunction> buildCapture(const std::string& layer) {
    return buildCaptureFunction(module, path, layer, CaptureMode::Leaf);
  }

  void buildProbe() {
    if (probeFn) return;
    auto g = forwardGraphCopy();
    probePaths.clear();
    std::vector<size_t> outIdx;  // index in graph outputs for each probe path entry
    inlineCalls(
        *g, [](const std::string&, const std::string&) { return true; },
        [&](const std::string& p, const std::string& method, bool topLevel, const std::vector<jit::Value*>& outs) {
          if (p.empty() || !isForwardName(method) || !topLevel || outs.size() != 1 || !isTensorType(outs[0]))
            return;
          probePaths.push_back(p);
          outIdx.push_back(g->registerOutput(outs[0]));
        });
    // Outputs so far: [model output, layer outputs...]. Rebuild as one tuple:
    // (layer outputs..., model output).
    std::vector<jit::Value*> vals;
    for (size_t i : outIdx) vals.push_back(g->outputs().at(i));
    jit::Value* modelOut = g->outputs().at(0);
    while (g->outputs().size() > 1) g->eraseOutput(g->outputs().size() - 1);
    {
      jit::WithInsertPoint guard(g->return_node());
      std::vector<jit::Value*> items = vals;
      items.push_back(modelOut);
      jit::Node* tup = g->insertNode(g->createTuple(items));
      g->eraseOutput(0);
      g->registerOutput(tup->output());
    }
    // Position of each value's producer in the top-level block (graph inputs come first).
    std::unordered_map<const jit::Node*, int64_t> pos;
    int64_t i = 0;
    for (jit::Node* n : g->nodes()) pos[n] = ++i;
    probeOrder.clear();
    for (jit::Value* v : vals) {
      auto it = pos.find(v->node());
      probeOrder.push_back(it == pos.end() ? 0 : it->second);
    }
    probeFn = makeFunction("probe", g);
  }

  // For each probed path: the output of its last call (in graph order), or undefined.
  struct Probe {
    std::map<std::string, at::Tensor> out;
    std::map<std::string, int64_t> order;
  };

  Probe runProbe(const std::vector<int64_t>& inputShape) {
    if (inputShape.size() != 5 || inputShape[0] != 1)
      fail("input shape must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W, got " + shapeString(inputShape));
    Probe probe;
    c10::IValue result;
    try {
      buildProbe();
      c10::InferenceMode guard;
      result = (*probeFn)({module._ivalue(), torch::zeros(inputShape)});
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(forwardFailed(inputShape, e));
    }
    const auto& elems = result.toTupleRef().elements();
    for (size_t k = 0; k < probePaths.size(); ++k) {
      const auto& p = probePaths[k];
      auto it = probe.order.find(p);
      if (it != probe.order.end() && it->second > probeOrder[k]) continue;  // keep the last call
      probe.order[p] = probeOrder[k];
      probe.out[p] = elems[k].isTensor() ? elems[k].toTensor() : at::Tensor();
    }
    return probe;
  }
};

Model::Model(const std::string& path, int threads) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) impl_->fail("file does not exist");
  if (std::filesystem::is_directory(path, ec)) impl_->fail("is a directory, not a TorchScript model");
  try {
    impl_->module = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    impl_->fail("not a TorchScript model (" + torchMessage(e) + ")");
  }
  if (!impl_->module.find_method("forward")) impl_->fail("not a usable TorchScript model (no forward() method)");
  impl_->checkForwardSignature();
  impl_->module.eval();
  int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(std::max(1, n));
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const std::string& Model::path() const { return impl_->path; }

std::vector<LayerInfo> Model::listLayers(const std::vector<int64_t>& inputShape) {
  auto probe = impl_->runProbe(inputShape);
  std::vector<LayerInfo> layers;
  for (const auto& nm : impl_->module.named_modules()) {
    if (nm.name.empty()) continue;
    LayerInfo info;
    info.name = nm.name;
    auto qn = nm.value.type()->name();
    info.type = qn ? qn->name() : std::string("?");
    auto it = probe.out.find(nm.name);
    if (it != probe.out.end() && it->second.defined())
      info.outputShape.assign(it->second.sizes().begin(), it->second.sizes().end());
    layers.push_back(std::move(info));
  }
  return layers;
}

// Rule: among submodules whose (last-call) output is 5D with more than one T×H×W cell (a
// global pool's N×C×1×1×1 is no map), take the one whose output value is produced last in the
// fully inlined forward graph. Nested modules that return their last
// child's output share one value (r3d_18: layer4, layer4.1, layer4.1.relu); then the
// outermost (shortest path) wins, so the answer is "layer4".
std::string Model::defaultLayer(const std::vector<int64_t>& inputShape) {
  auto probe = impl_->runProbe(inputShape);
  std::string best;
  int64_t bestOrder = -1;
  for (const auto& [name, t] : probe.out) {
    if (!t.defined() || t.dim() != 5 || t.size(2) * t.size(3) * t.size(4) <= 1) continue;
    int64_t order = probe.order[name];
    auto depth = [](const std::string& s) { return std::count(s.begin(), s.end(), '.'); };
    if (order > bestOrder || (order == bestOrder && (depth(name) < depth(best) ||
                                                     (depth(name) == depth(best) && name < best)))) {
      best = name;
      bestOrder = order;
    }
  }
  if (best.empty()) {
    std::string why = hasSubmoduleCalls(*impl_->forwardGraphCopy())
                          ? std::string("no submodule outputs a 5D (N,C,T,H,W) activation with more than one "
                                        "T\xC3\x97H\xC3\x97W cell, so there is no map to explain (transformer models "
                                        "whose blocks output tokens are not supported); ") + kSupported
                          : std::string("model is frozen/optimized: it has no submodule calls left; export it "
                                        "without torch.jit.freeze");
    impl_->fail("cannot choose a default layer: " + why);
  }
  return best;
}

void Model::setTargetLayer(const std::string& dottedPath) {
  auto it = impl_->captureFns.find(dottedPath);
  if (it == impl_->captureFns.end()) {
    std::shared_ptr<jit::GraphFunction> fn;
    try {
      fn = impl_->buildCapture(dottedPath);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      impl_->fail("cannot prepare capture at layer '" + dottedPath + "': " + torchMessage(e));
    }
    impl_->captureFns.emplace(dottedPath, fn);
  }
  impl_->target = dottedPath;
}

const std::string& Model::targetLayer() const { return impl_->target; }

CellCentres Model::cellCentres(const std::vector<int64_t>& inputShape, std::string* why) {
  std::string reason;
  if (!why) why = &reason;
  if (impl_->target.empty()) impl_->fail("no target layer set; call setTargetLayer() first");
  try {
    auto g = impl_->forwardGraphCopy();
    // Fully inlined, so that every convolution and pooling is an aten op; the target's output
    // is its last top-level call (as capture takes it).
    // Outputs are registered as they appear: inlining a nested call later replaces the value.
    std::vector<size_t> slots;
    inlineCalls(
        *g, [](const std::string&, const std::string&) { return true; },
        [&](const std::string& p, const std::string& method, bool topLevel, const std::vector<jit::Value*>& o) {
          if (p == impl_->target && isForwardName(method) && topLevel && o.size() == 1 && isTensorType(o[0]))
            slots.push_back(g->registerOutput(o[0]));
        });
    if (slots.empty()) {
      *why = "the layer's call was not found";
      return {};
    }
    // Inline the remaining function calls too (F.max_pool3d, F.relu...): they hold the aten
    // ops. Then fold "stride is None" branches and the like, so that kernel sizes, strides and
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
    jit::Value* target = g->outputs().at(slot);
    std::map<std::string, at::Tensor> params;
    for (const auto& p : impl_->module.named_parameters(/*recurse=*/true)) params[p.name] = p.value;
    jit::Value* self = g->inputs().at(0);
    auto weightOf = [&](jit::Value* v) -> at::Tensor {
      if (auto iv = jit::toIValue(v); iv && iv->isTensor()) return iv->toTensor();  // frozen constant
      jit::Node* n = v->node();
      if (n->kind() != c10::prim::GetAttr) return {};
      auto owner = modulePath(n->input(0), self);
      if (!owner) return {};
      auto it = params.find((owner->empty() ? "" : *owner + ".") + n->s(c10::attr::name));
      return it == params.end() ? at::Tensor() : it->second;
    };
    return modelimpl::cellCentresOf(*g, target, weightOf, inputShape, why);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    *why = torchMessage(e);
    return {};
  }
}

void Model::setOutput(const std::string& selector) { impl_->outputSelector = selector; }
const std::string& Model::output() const { return impl_->outputSelector; }

std::vector<float> Model::predict(const Volume& input) {
  at::Tensor x = impl_->inputTensor(input);
  c10::IValue out;
  try {
    c10::InferenceMode guard;
    out = impl_->module.forward({x});
  } catch (const std::exception& e) {
    impl_->fail(impl_->forwardFailed(input.shape, e));
  }
  at::Tensor logits = impl_->logitsOf(out).to(torch::kFloat32).contiguous();
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

LayerCapture Model::capture(const Volume& input,
                            const std::function<std::vector<int>(const std::vector<float>&)>& chooseClasses) {
  if (impl_->target.empty()) impl_->fail("no target layer set; call setTargetLayer() first");
  auto fn = impl_->captureFns.at(impl_->target);
  at::Tensor x = impl_->inputTensor(input);
  const std::string& layer = impl_->target;

  // The graph switches grad mode itself; the guard restores the caller's mode afterwards,
  // also when the graph throws half way.
  at::AutoGradMode gradGuard(true);
  c10::IValue out;
  try {
    out = (*fn)({impl_->module._ivalue(), x});
  } catch (const std::exception& e) {
    impl_->fail(impl_->forwardFailed(input.shape, e));
  }
  const auto& elems = out.toTupleRef().elements();
  at::Tensor act = elems.at(0).toTensor();
  at::Tensor logits = impl_->logitsOf(elems.at(1));
  if (act.dim() != 5 || act.size(0) != 1)
    impl_->fail("layer '" + layer + "' output is " + std::to_string(act.dim()) + "D (" + shapeString(act.sizes()) +
                "), not 5D (N,C,T,H,W); choose a convolutional layer");

  LayerCapture cap;
  {
    at::Tensor l = logits.detach().to(torch::kFloat32).contiguous();
    cap.logits.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
  }
  cap.activation = toVolume(act, /*dropBatch=*/true);
  cap.classIds = chooseClasses(cap.logits);
  const int64_t k = logits.numel();
  for (int c : cap.classIds)
    if (c < 0 || c >= k)
      throw Error(ErrorKind::Model,
                  "class id " + std::to_string(c) + " out of range: model has " + std::to_string(k) + " classes");
  if (!cap.classIds.empty() && !logits.requires_grad())
    impl_->fail("the logits do not depend on layer '" + layer + "'");
  try {
    for (size_t i = 0; i < cap.classIds.size(); ++i) {
      const bool last = i + 1 == cap.classIds.size();
      auto grads = torch::autograd::grad({logits[cap.classIds[i]]}, {act}, {}, /*retain_graph=*/!last,
                                         /*create_graph=*/false, /*allow_unused=*/true);
      at::Tensor g = grads.at(0).defined() ? grads[0] : torch::zeros_like(act);
      cap.gradients.push_back(toVolume(g, /*dropBatch=*/true));
    }
  } catch (const std::exception& e) {
    impl_->fail("gradient at layer '" + layer + "' failed: " + torchMessage(e));
  }
  return cap;
}

}  // namespace ev
