// A loaded TorchScript video classifier and everything the tool reads from its graph: the
// layer table, the default layer, a layer's cell geometry, capture functions, the classifier
// head after a layer. One implementation for explain, eval, train and distill.
//
// Private header: includes torch. ev::Model (include/explain_video/model.hpp) is the public,
// torch-free face of it.
#pragma once
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "explain_video/model.hpp"
#include "explain_video/volume.hpp"
#include "model/graph_surgery.hpp"

namespace ev {
namespace modelimpl {

// What explain-video supports, appended to errors about models it cannot use.
extern const char* const kSupported;

// The linear classifier right after global average pooling of a layer's output (CAM, Zhou et
// al. 2016): weight is K×C, bias K (undefined without one). Undefined weight, with the reason in
// `why`, when the path from the layer to the logits holds anything else. The graph walk does not
// know which tuple element --output selects: callers check logits = W·mean(A) + b per window.
struct ClassifierHead {
  at::Tensor weight, bias;
  std::string linear;  // the linear layer's module path, e.g. "fc"
  std::string why;
};

class ScriptModel {
 public:
  // Loads a TorchScript file on the CPU and checks that forward() takes one tensor.
  // Errors: Model ("<path>: file does not exist", "...: not a TorchScript model (...)", a
  // forward() taking a list/tuple/dict or several inputs, with what is supported).
  static ScriptModel load(const std::string& path);
  // Wraps a module loaded elsewhere (shares it: jit::Module is a handle).
  ScriptModel(jit::Module module, std::string path);

  const std::string& path() const { return path_; }
  jit::Module& module() { return module_; }

  // Where the model and every tensor it sees live: "cpu" (the default), "cuda" or "cuda:N".
  // Errors: Usage (malformed), Model ("--device cuda: this LibTorch has no CUDA ...").
  void setDevice(const std::string& spec);
  const at::Device& device() const { return device_; }

  // Which part of forward()'s output holds the logits ("" the first tensor; outputs.hpp).
  void setOutput(const std::string& selector) { output_ = selector; }
  const std::string& output() const { return output_; }

  // N×K logits out of forward()'s output for a batch of n clips.
  at::Tensor logits(const c10::IValue& forwardOutput, int64_t batch) const;
  // forward() and its logits, in whatever grad mode the caller set. Errors: Model, with a hint
  // when the model seems to take images or another clip size.
  at::Tensor forwardLogits(const at::Tensor& input);

  std::vector<LayerInfo> listLayers(const std::vector<int64_t>& inputShape);
  // The last submodule, in call order, whose output is 5D with more than one T×H×W cell.
  std::string defaultLayer(const std::vector<int64_t>& inputShape);
  // Where `layer`'s cells sit in an input of `inputShape` (layer_geometry.hpp); empty, with
  // the reason in *why, when the path holds an op whose geometry is not modelled.
  CellCentres cellCentres(const std::string& layer, const std::vector<int64_t>& inputShape, std::string* why);
  // (self, input) -> (activation as an autograd leaf, forward()'s output); cached per layer.
  jit::GraphFunction& captureFunction(const std::string& layer);
  // (self, input) -> (activation on the parameters' autograd graph, forward()'s output).
  std::shared_ptr<jit::GraphFunction> layerForward(const std::string& layer);
  ClassifierHead classifierHead(const std::string& layer);
  // The network from `layer` on, fed activations: N×C×T'×H'×W' → N×K logits (grad mode as the
  // caller set it). Errors: Model (the rest of the network reads other values than the layer's
  // output, e.g. a residual branch across it).
  at::Tensor logitsFromLayer(const std::string& layer, const at::Tensor& activation);

  // One forward pass through captureFunction(layer) on an N×3×T×H×W input: the layer's
  // activation (N×C×T'×H'×W', an autograd leaf) and the logits (N×K, on its autograd graph).
  // Errors: Model (forward failed, layer output not 5D).
  struct Capture {
    at::Tensor activation, logits;
  };
  Capture capture(const std::string& layer, const at::Tensor& input);
  // dS_c/dA for batch item 0 and each class of `classes`: K×C×T'×H'×W' (zeros where the class
  // does not depend on the layer). The last call may free the autograd graph (retain = false).
  // Errors: Model (class id out of range, logits independent of the layer).
  at::Tensor gradients(const Capture& cap, const std::string& layer, const std::vector<int>& classes, bool retain);
  // The same for a batch: classes[n][k] is item n's k-th class (every item has K of them).
  // Returns N×K×C×T'×H'×W'. One backward pass per k serves the whole batch: the windows of a
  // batch are independent (eval mode), so the gradient of Σ_n S_{n,classes[n][k]} with respect to
  // the batch's activation holds each item's own gradient.
  at::Tensor batchGradients(const Capture& cap, const std::string& layer, const std::vector<std::vector<int>>& classes);

  // "forward() failed for input 1×3×16×112×112: <reason>" with a hint.
  std::string forwardFailed(at::IntArrayRef shape, const std::exception& e) const;
  [[noreturn]] void fail(const std::string& msg) const { failModel(path_, msg); }

 private:
  void checkForwardSignature() const;
  struct Probe {
    std::map<std::string, at::Tensor> out;
    std::map<std::string, int64_t> order;
    std::map<std::string, int> calls;  // how many times forward() calls the submodule
  };
  Probe runProbe(const std::vector<int64_t>& inputShape);
  // The graph function of `mode` at `layer`, built once per layer (Leaf: captureFns_, Head:
  // headFns_); a build failure is one line "<what> '<layer>': <torch's reason>".
  jit::GraphFunction& cachedFunction(const std::string& layer, CaptureMode mode, const std::string& what);

  jit::Module module_;
  std::string path_;
  at::Device device_ = at::kCPU;
  std::string output_;
  std::map<std::string, std::shared_ptr<jit::GraphFunction>> captureFns_, headFns_;
  std::shared_ptr<LayerProbe> probe_;
};

// forward()'s graph fully inlined (every convolution and pooling an aten op, constants
// folded), with `layer`'s output (its last top-level call) registered as an extra graph
// output; returns that output's index, or -1 when the call was not found.
int64_t inlinedGraphWithLayer(const jit::Module& module, const std::string& path, const std::string& layer,
                              std::shared_ptr<jit::Graph>& graph);
// A parameter tensor from its value in such a graph (a GetAttr chain from self, or a frozen
// constant), undefined otherwise; *owner gets the owning module's path.
at::Tensor parameterOf(const jit::Module& module, jit::Graph& graph, jit::Value* v, std::string* owner);

// Shared by ev::Model and the engine: the ScriptModel inside a public Model.
ScriptModel& scriptModelOf(Model& model);

// Volume <-> tensor (float32, copies).
at::Tensor toTensor(const Volume& v);
Volume toVolume(const at::Tensor& t, bool dropBatch);

}  // namespace modelimpl
}  // namespace ev
