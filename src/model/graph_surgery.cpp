// Graph surgery on TorchScript modules: LibTorch has no module hooks for TorchScript, so every
// inner-layer access copies forward()'s graph, inlines the submodule calls on the path to the
// layer and returns the layer's output beside the model's.
#include "model/graph_surgery.hpp"

#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "explain_video/error.hpp"
#include "model/torch_text.hpp"

namespace ev {
namespace modelimpl {

[[noreturn]] void failModel(const std::string& path, const std::string& msg) {
  throw Error(ErrorKind::Model, path + ": " + msg);
}


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

static bool isPrefixPath(const std::string& prefix, const std::string& path) {
  return prefix.empty() || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '.');
}

// The callee of a prim::CallMethod on a concrete module class (not an interface), or null.
static jit::GraphFunction* calleeOf(jit::Node* call) {
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

void inlineCalls(jit::Graph& g, const InlinePredicate& pred, const InlineObserver& onInline) {
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

// Appends `v` to the graph's outputs as part of a tuple with the existing output:
// graph returns (extra..., original).
static void returnTuple(jit::Graph& g, const std::vector<jit::Value*>& first) {
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

std::shared_ptr<jit::Graph> forwardGraphOf(const jit::Module& module, const std::string& path) {
  auto method = module.find_method("forward");
  if (!method) failModel(path, "model has no forward() method");
  return jit::toGraphFunction(method->function()).graph()->copy();
}

static std::vector<std::string> submoduleNamesOf(const jit::Module& module) {
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
  if (mode == CaptureMode::Head) {
    // A new graph (self, activation) -> forward()'s output holding the nodes after the target.
    // What they read from before the target must be re-derivable from self (submodules,
    // parameters, constants): another tensor, such as a residual branch that skips the layer,
    // is not available, and the head is refused.
    auto h = std::make_shared<jit::Graph>();
    jit::Value* hself = h->addInput("self");
    hself->setType(self->type());
    jit::Value* hact = h->addInput("activation");
    hact->setType(a->type());
    std::unordered_map<jit::Value*, jit::Value*> map{{self, hself}, {a, hact}};
    std::function<jit::Value*(jit::Value*)> valueFor = [&](jit::Value* v) -> jit::Value* {
      auto it = map.find(v);
      if (it != map.end()) return it->second;
      jit::Node* n = v->node();
      const auto kind = n->kind();
      const bool clonable = kind == c10::prim::Constant || kind == c10::prim::GetAttr ||
                            kind == c10::prim::ListConstruct || kind == c10::prim::TupleConstruct ||
                            kind == c10::prim::DictConstruct;
      if (!clonable || isTensorType(v))
        fail("the network after layer '" + layer + "' reads a value computed before it (" +
             std::string(kind.toQualString()) + ", e.g. a residual connection across the layer), so it cannot be run "
             "from the layer alone; choose a layer whose output is all the rest reads");
      jit::Node* c = h->createClone(n, valueFor);
      h->insertNode(c);
      for (size_t i = 0; i < n->outputs().size(); ++i) map[n->output(i)] = c->output(i);
      return map.at(v);
    };
    for (jit::Node* n = target->next(); n != g->return_node(); n = n->next()) {
      jit::Node* c = h->createClone(n, valueFor);
      h->insertNode(c);
      for (size_t i = 0; i < n->outputs().size(); ++i) map[n->output(i)] = c->output(i);
    }
    for (jit::Value* out : g->outputs()) h->registerOutput(valueFor(out));
    return makeFunction("head." + layer, h);
  }
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


LayerProbe buildLayerProbe(const jit::Module& module, const std::string& path) {
  auto g = forwardGraphOf(module, path);
  LayerProbe probe;
  std::vector<size_t> outIdx;  // index in graph outputs for each probe path entry
  inlineCalls(
      *g, [](const std::string&, const std::string&) { return true; },
      [&](const std::string& p, const std::string& method, bool topLevel, const std::vector<jit::Value*>& outs) {
        if (p.empty() || !isForwardName(method) || !topLevel || outs.size() != 1 || !isTensorType(outs[0])) return;
        probe.paths.push_back(p);
        outIdx.push_back(g->registerOutput(outs[0]));
      });
  // Outputs so far: [model output, layer outputs...]. Rebuild as one tuple:
  // (layer outputs..., model output).
  std::vector<jit::Value*> vals;
  for (size_t i : outIdx) vals.push_back(g->outputs().at(i));
  while (g->outputs().size() > 1) g->eraseOutput(g->outputs().size() - 1);
  returnTuple(*g, vals);
  // Position of each value's producer in the top-level block (graph inputs come first).
  std::unordered_map<const jit::Node*, int64_t> pos;
  int64_t i = 0;
  for (jit::Node* n : g->nodes()) pos[n] = ++i;
  for (jit::Value* v : vals) {
    auto it = pos.find(v->node());
    probe.order.push_back(it == pos.end() ? 0 : it->second);
  }
  probe.fn = makeFunction("probe", g);
  return probe;
}

}  // namespace modelimpl
}  // namespace ev
