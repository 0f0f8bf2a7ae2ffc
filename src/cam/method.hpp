// The interface every CAM method implements, on batched LibTorch tensors. A method is one
// small file in src/cam/methods/ plus one line in src/cam/registry.cpp.
//
// Written with differentiable tensor ops: a map computed from an activation and a gradient
// taken with create_graph=true can be trained through (the explanation losses), and the
// explain pipeline runs the very same function in double precision.
//
// Private header: includes torch.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"

namespace ev {
namespace camimpl {

// Batched inputs: item n is one (window, class) pair. Only what the method's info().needs
// declares is set; the rest is undefined.
struct MethodInputs {
  at::Tensor activation;    // N×C×T×H×W
  at::Tensor gradient;      // N×C×T×H×W, ∂S^c/∂A for item n's class (kNeedGradient)
  at::Tensor classWeights;  // N×C, the classifier row W[c,:] for item n's class (kNeedClassifierWeights)
  // The perturbation methods (perturbation()): item n's window input (N×3×T×H×W, float, a view
  // shared by the items of one window), its class and window index (seeds), and model passes
  // the engine runs in batches of its batch size:
  at::Tensor input;
  std::vector<int> classes;
  std::vector<int64_t> windows;
  // M×3×T×H×W inputs → M×K logits (kNeedModelScores).
  std::function<at::Tensor(const at::Tensor&)> logitsOf;
  // M inputs and the classes of each (K' per input) → M×K'×C×T'×H'×W' gradients at the layer
  // (kNeedPerturbedGradients).
  std::function<at::Tensor(const at::Tensor&, const std::vector<std::vector<int>>&)> gradientsAt;
  // M×C×T'×H'×W' activations → M×K logits, the network run from the layer on (kNeedLayerScores).
  std::function<at::Tensor(const at::Tensor&)> logitsFromLayer;
  std::array<double, 3> black{0, 0, 0};  // per channel: a black pixel in normalised units (−mean/std)
  CellCentres centres;                   // the layer's cells in the input (as the heatmaps are drawn)
  PerturbationParams params;
  int batch = 8;                         // inputs per model pass
};

// Pixel-space masking, as eval masks (docs/eval.md): L·I + (1 − L)·black per channel, for maps
// M×T×H×W in [0,1] and one input 1×3×T×H×W; returns M×3×T×H×W float.
at::Tensor maskInputs(const at::Tensor& input, const at::Tensor& maps, const std::array<double, 3>& black);

// Maps M×T'×H'×W' onto the input's T×H×W, linearly between the layer's cell centres (as the
// heatmap stage draws them; even tiling where an axis's centres are missing).
at::Tensor upsampleToInput(const at::Tensor& maps, int64_t T, int64_t H, int64_t W, const CellCentres& centres);
// The channels scorecam and ablationcam score for one window's activation act (C×T'×H'×W'):
// every one, or with --score-channels K (0 < K < C) the K of largest mean activation.
std::vector<int64_t> scoredChannels(const at::Tensor& act, int scoreChannels);

// Per item n of maps (N×T×H×W): EmptyReason::None where the map has heat, else why not, from the
// item's activation and (when the method took one) gradient.
std::vector<EmptyReason> emptyReasons(const at::Tensor& maps, const at::Tensor& activation, const at::Tensor& gradient);

// Per item n, what the method noticed (sized N by the method when not null).
struct MethodNotes {
  std::vector<int64_t> clampedAlphaCells;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual const CamMethodInfo& info() const = 0;
  // N×T×H×W maps, relu applied, not normalised; differentiable where info().differentiable.
  virtual at::Tensor maps(const MethodInputs& in, MethodNotes* notes) const = 0;
};

// The registry (registry.cpp), and lookup by name (Error(Usage) listing the names).
const std::vector<const Method*>& registry();
const Method& findMethod(const std::string& name);
// Appends a method to the registry for the rest of the process: for tests only (a method that
// must fail a check, e.g. one that ignores the model). Not thread-safe; call before any run.
void addMethodForTesting(const Method& m);

// ---- shared pieces of the formulas ----

// relu(Σ_k w_k·A^k): weights N×C broadcast over T×H×W, or N×C×T×1×1 (per time step).
inline at::Tensor weightedMap(const at::Tensor& weights, const at::Tensor& a) {
  at::Tensor w = weights;
  while (w.dim() < a.dim()) w = w.unsqueeze(-1);
  return at::relu((w * a).sum(1));
}

// num / den where den != 0, else 0, without inf/NaN in either pass (the unused branch divides
// by 1). `positive` = true: only where den > 0.
inline at::Tensor safeDivide(const at::Tensor& num, const at::Tensor& den, bool positive = false) {
  const at::Tensor ok = positive ? den.gt(0) : den.ne(0);
  return at::where(ok, num / at::where(ok, den, at::ones_like(den)), at::zeros_like(num));
}

// Error(Internal) unless the tensors the method declared are there with matching shapes.
void checkInputs(const CamMethodInfo& info, const MethodInputs& in);

}  // namespace camimpl
}  // namespace ev
