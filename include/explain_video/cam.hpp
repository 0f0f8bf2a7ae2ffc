// Stage 4: class activation maps from one layer's activation (and gradient) over T×H×W.
//
// Every method is registered once (src/cam/registry.cpp) with its name, a one-line summary,
// its source paper, what it needs and what it costs; the CLI's --method, its help, the README
// table and the tests enumerate this registry. A method is one function from its inputs to a
// T'×H'×W' map, written once with tensor operations (src/cam/methods/): the same definition
// serves the explain pipeline (here, in double precision) and the differentiable explanation
// loss of `distill`/`train`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "explain_video/volume.hpp"

namespace ev {

// What a method needs per window and class, besides the model's forward pass.
enum CamNeed : unsigned {
  kNeedActivation = 1u << 0,        // the layer's activation A (C×T'×H'×W')
  kNeedGradient = 1u << 1,          // g = ∂S^c/∂A, one backward pass per class
  kNeedClassifierWeights = 1u << 2, // W[c,:] of the linear classifier after global average pooling
  kNeedModelScores = 1u << 3,       // the class score of perturbed inputs (perturbation methods)
  kNeedPerturbedGradients = 1u << 4,  // ∂S^c/∂A at perturbed inputs (Smooth Grad-CAM++)
  kNeedLayerScores = 1u << 5,       // the logits of modified activations, the network run from the layer on
};

// What the perturbation methods draw and how many passes they make (documented in the README).
struct PerturbationParams {
  uint64_t seed = 0;          // --seed: the same seed gives the same maps (per window: seed and window index)
  int smoothSamples = 8;      // --smooth-samples: noisy copies for smoothgradcam++
  double smoothSigma = 0.15;  // --smooth-sigma: noise std as a share of the input's max − min
  int scoreChannels = 0;      // --score-channels K: scorecam and ablationcam use only the K channels
                              // with the largest mean activation (0: every channel)
  int riseMasks = 1000;       // --rise-masks M: random masks per window for rise
  int riseGrid[3] = {4, 7, 7};  // --rise-grid TxHxW: the masks' coarse cells along t, h, w
  double riseKeep = 0.5;      // the chance that a coarse cell is kept (Petsiuk et al.'s p)
};

struct CamMethodInfo {
  std::string name;       // as --method spells it: "gradcam++"
  std::string summary;    // one line: what the map is
  std::string reference;  // the source paper: "Chattopadhyay et al., WACV 2018"
  unsigned needs = 0;     // CamNeed bits
  std::string cost;       // model passes per window and class, e.g. "1 backward per class"
  bool differentiable = false;  // usable in the training explanation losses (exp, box)
  bool inputResolution = false; // the map is on the input's own T×H×W voxels, not on the layer's cells (rise)
  bool has(CamNeed n) const { return (needs & n) != 0; }
  bool classIndependent() const {
    return !(needs & (kNeedGradient | kNeedClassifierWeights | kNeedModelScores | kNeedPerturbedGradients | kNeedLayerScores));
  }
  // Needs model passes of its own beyond the one capture per window (left out of `all`).
  bool perturbation() const { return (needs & (kNeedModelScores | kNeedPerturbedGradients | kNeedLayerScores)) != 0; }
};

// The registry, in the order --help lists it (the default, gradcam++, first).
const std::vector<CamMethodInfo>& camMethods();
std::vector<std::string> camMethodNames();
// Throws Error(Usage) "unknown method 'x': registered methods are gradcam++, gradcam, ...".
const CamMethodInfo& camMethod(const std::string& name);
// "gradcam++", "gradcam,layercam" or "all" (every method that needs no perturbation passes;
// *all is set when the list used it). Throws Error(Usage) for an unknown or repeated name, or an
// empty list; `flag` names the option.
std::vector<std::string> parseCamMethods(const std::string& spec, const std::string& flag = "--method",
                                         bool* all = nullptr);
// A table for --help: one line per method with its summary, paper and cost.
std::string camMethodTable(size_t indent = 2);

// The model passes a method makes per window beyond the shared capture, for a layer of
// `channels` channels and `classes` explained classes: forward passes of the whole network, and
// backward passes or head passes (the network from the layer on). Used for the JSON summary and
// eval's progress estimate.
int64_t methodPassesPerWindow(const CamMethodInfo& method, int64_t channels, int64_t classes,
                              const PerturbationParams& params);

// Inputs of one map, batch dimension removed. Which are needed: CamMethodInfo::needs.
struct CamInputs {
  const Volume* activation = nullptr;          // C×T'×H'×W'
  const Volume* gradient = nullptr;            // C×T'×H'×W'
  const std::vector<float>* classWeights = nullptr;  // C: W[c,:]
};

// Why a map is all zero, diagnosed from the tensors it came from (README "Empty maps"; the
// JSON's windows[].maps[].empty). Checked in this order:
enum class EmptyReason {
  None = 0,            // the map has heat
  ZeroActivation,      // "zero_activation": the layer's activation is zero in the window
  ZeroGradient,        // "zero_gradient": the class score's gradient at the layer is zero
  NoPositiveGradient,  // "no_positive_gradient": every gradient entry is <= 0
  NegativeEvidence,    // "negative_evidence": the weighted channel sum is <= 0 at every cell
};
std::string emptyReasonCode(EmptyReason r);  // "zero_activation", ... ("" for None)
std::string emptyReasonText(EmptyReason r);  // "the layer's activation is zero", ...

// What a method noticed while computing a map (reported in the JSON summary).
struct CamNotes {
  EmptyReason empty = EmptyReason::None;
  // gradcam++: cells with a positive gradient whose α denominator 2g² + (ΣA)·g³ was ≤ 0 (only
  // on a layer with negative activations, before its ReLU); α is 0 there.
  int64_t clampedAlphaCells = 0;
};

// map = the method's T'×H'×W' volume (relu applied, not normalised), computed in double
// precision. Throws Error(Usage) for an unknown method, Internal for missing or mismatched inputs.
Volume computeCam(const std::string& method, const CamInputs& inputs, CamNotes* notes = nullptr);

}  // namespace ev
