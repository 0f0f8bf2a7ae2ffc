// Stage 3: a TorchScript video classifier (scripted or traced) with access to one inner
// layer's activation and the gradient of class logits with respect to it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explain_video/volume.hpp"

namespace ev {

class Model;
namespace modelimpl {  // src/model/script_model.hpp: the engine's access to the loaded graph
class ScriptModel;
ScriptModel& scriptModelOf(Model& model);
}  // namespace modelimpl

struct LayerInfo {
  std::string name;                  // dotted path as PyTorch names it, e.g. "layer4.1.conv2"
  std::string type;                  // the submodule's class name, e.g. "Conv3d"
  std::vector<int64_t> outputShape;  // empty if the submodule is not called by forward()
                                     // or does not return a single tensor
};

// What one forward/backward pass at the target layer yields, batch dimension removed.
struct LayerCapture {
  std::vector<float> logits;     // pre-softmax class scores
  Volume activation;             // C×T×H×W at the target layer
  std::vector<int> classIds;     // classes whose gradients were taken
  std::vector<Volume> gradients; // dS_c/dA for each of classIds, C×T×H×W
};

class Model {
 public:
  // Loads a TorchScript file and puts it in eval mode. `threads` <= 0 uses every core.
  // Throws ev::Error(ErrorKind::Model, "<path>: ...") if the file is missing or not TorchScript,
  // or if forward() does not take one tensor (a list of pathways as in SlowFast, several
  // inputs): the model is fed one N×3×T×H×W clip.
  // `device`: "cpu", "cuda" or "cuda:N" (a one-line Model error on a LibTorch without CUDA).
  explicit Model(const std::string& path, int threads = 0, const std::string& device = "cpu");
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const std::string& path() const;

  // Every submodule (depth-first, in definition order) with its output shape for an input
  // of `inputShape` (N×C×T×H×W).
  std::vector<LayerInfo> listLayers(const std::vector<int64_t>& inputShape);

  // The last submodule, in call order, whose output is 5D (N,C,T,H,W).
  std::string defaultLayer(const std::vector<int64_t>& inputShape);

  // Chooses the layer to capture. Throws ErrorKind::Model for a name that does not exist, a
  // frozen model without submodule calls, or a layer called inside control flow. A layer whose
  // output is not 5D is reported by the first capture().
  void setTargetLayer(const std::string& dottedPath);
  const std::string& targetLayer() const;

  // Where the target layer's cells sit in an input of `inputShape` (N×C×T×H×W), from the
  // convolutions and poolings between the input and the layer (src/model/layer_geometry.hpp).
  // Empty, with the reason in *why, when the path holds an op whose geometry is not modelled;
  // callers then assume the cells tile the input evenly.
  CellCentres cellCentres(const std::vector<int64_t>& inputShape, std::string* why = nullptr);

  // Which part of forward()'s output holds the class scores, for models that return a tuple,
  // list or dict: "" (the default) is the first tensor, depth-first; otherwise a dotted path of
  // tuple/list indices and dict keys, e.g. "1", "logits", "0.scores". A path that does not
  // exist is reported (with what forward() does return) by the next predict() or capture().
  void setOutput(const std::string& selector);
  const std::string& output() const;

  // Logits only, no gradients (inference mode). Input is 1×3×T×H×W.
  std::vector<float> predict(const Volume& input);
  // Several inputs (each 1×3×T×H×W, the same shape) in one forward pass; one logit vector each.
  std::vector<std::vector<float>> predict(const std::vector<const Volume*>& inputs);

  // Forward pass with the target layer's activation, then one gradient per class that
  // `chooseClasses(logits)` returns (gradients only down to the target layer; no parameter
  // gradients). Throws ErrorKind::Model for a class id out of range.
  LayerCapture capture(const Volume& input,
                       const std::function<std::vector<int>(const std::vector<float>&)>& chooseClasses);

 private:
  friend modelimpl::ScriptModel& modelimpl::scriptModelOf(Model& model);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ev
