// Graph surgery on TorchScript modules (graph_surgery.cpp): copies of forward()'s graph that
// also return an inner layer's output. What works for scripted and traced models, residual
// ones included: inline only the submodule calls on the path to the target (passing the
// callee's own graph to inlineCallTo), find the prim::CallMethod whose prim::GetAttr chain from
// self spells the target path, and return its output together with the model's output.
//
// Private header: includes torch.
#pragma once
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ev {
namespace modelimpl {

namespace jit = torch::jit;

// ev::Error(Model, "<path>: <msg>").
[[noreturn]] void failModel(const std::string& path, const std::string& msg);

// A copy of forward()'s graph. Errors: Model (no forward()).
std::shared_ptr<jit::Graph> forwardGraphOf(const jit::Module& module, const std::string& path);

// True for the methods that stand for "calling the module": forward, and the forward1,
// forward2, ... that tracing creates when one module instance is called several times.
bool isForwardName(const std::string& name);

// Dotted module path of a module-typed value: the prim::GetAttr chain from the graph's self.
std::optional<std::string> modulePath(jit::Value* v, jit::Value* self);

bool hasSubmoduleCalls(jit::Graph& g);
bool isTensorType(jit::Value* v);

// Inline, anywhere in the graph, every call on a module whose path satisfies `pred(path,
// method)`; `onInline(path, method, topLevel, outputs)` is told about each inlined call.
using InlinePredicate = std::function<bool(const std::string& path, const std::string& method)>;
using InlineObserver = std::function<void(const std::string& path, const std::string& method, bool topLevel,
                                          const std::vector<jit::Value*>& outputs)>;
void inlineCalls(jit::Graph& g, const InlinePredicate& pred, const InlineObserver& onInline);

// A function run with the SIMPLE executor: the graph as built, no profiling-driven rewrites
// (autodiff subgraphs, fusion), so the logits are computed exactly as written.
std::shared_ptr<jit::GraphFunction> makeFunction(const std::string& name, std::shared_ptr<jit::Graph> g);

enum class CaptureMode {
  Leaf,     // the activation is a fresh autograd leaf; nothing before it records autograd state
  Through,  // the activation stays on the autograd graph back to the parameters (training)
  Head,     // a function (self, activation) -> forward()'s output: the network from the layer on
};

// A function (self, input) -> (output of submodule `layer`, forward()'s output). In-place ops
// after the layer (ReLU(inplace=True), out += identity) get a copy, so the returned activation
// is the layer's output as it was produced. Errors: Model (unknown layer with the list of
// layers, frozen model, layer in control flow, not a single tensor, not 5D).
std::shared_ptr<jit::GraphFunction> buildCaptureFunction(const jit::Module& module, const std::string& path,
                                                         const std::string& layer, CaptureMode mode);

// Every top-level submodule call's output at once: fn(self, input) returns the tuple
// (output of paths[0], ..., output of paths[n-1], forward()'s output); order[i] is the position
// of paths[i]'s producer in the graph (a module called twice appears twice).
struct LayerProbe {
  std::shared_ptr<jit::GraphFunction> fn;
  std::vector<std::string> paths;
  std::vector<int64_t> order;
};
LayerProbe buildLayerProbe(const jit::Module& module, const std::string& path);

}  // namespace modelimpl
}  // namespace ev
