// Sanity checks for the explanations (Adebayo et al., "Sanity Checks for Saliency Maps",
// NeurIPS 2018), on video models: how much does a method's map change when the model's
// parameters are randomised (cascading from the logits down, or one layer at a time), or when
// another class is explained? A method whose maps barely change explains the input, not the
// model. docs/eval.md ("Sanity checks") defines every number.
//
// Two layers, as eval.hpp: pure similarity functions on plain data, and the driver.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "explain_video/eval.hpp"
#include "explain_video/volume.hpp"

namespace ev {

// ---------------------------------------------------------------- similarity of two maps

// Spearman's rank correlation of a and b (the same length): Pearson's correlation of their
// ranks, tied values getting the mean of their ranks. NaN when either is constant (no ranks to
// correlate) or the lengths differ or are < 2.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// Structural similarity (Wang et al. 2004) of two maps in [0,1] of shape T×H×W, as the mean over
// every frame's pixels of the 2D SSIM map: Gaussian window σ = 1.5 truncated at 11×11 (replicated
// borders), C1 = (0.01·L)², C2 = (0.03·L)², L = 1. 1 for identical maps.
double ssim(const Volume& a, const Volume& b);

// The share of the k = ⌈share·N⌉ voxels of a with the largest values that are also among the k
// largest of b (ties by index, as saliencyOrder). NaN when either map is constant (its top k
// would be arbitrary).
double topKIntersection(const Volume& a, const Volume& b, double share);

// ---------------------------------------------------------------- the driver

enum class SanityMode {
  Cascade,      // randomise the layers from the top (the logits) down, one more at each step
  Independent,  // randomise one layer at a time, the others as trained
  Labels,       // explain a random other class instead (Random Logit test)
};
SanityMode parseSanityMode(const std::string& s);  // Error(Usage) naming the choices
std::string sanityModeName(SanityMode m);

struct SanityParams {
  EvalParams eval;  // clips, model, layer, methods, class, preprocessing, windows (metrics ignored)
  SanityMode mode = SanityMode::Cascade;
  uint64_t seed = 0;                // re-initialisation (and the random classes of Labels)
  std::vector<std::string> layers;  // the layers to randomise (empty: every layer with parameters)
  double topK = 0.1;                // share of the voxels in the top-k intersection
};

// One method at one step, averaged over the windows.
struct SanityScore {
  double spearman = 0, ssim = 0, topK = 0;  // NaN: no window where it is defined
  int windows = 0;                          // windows compared
  int undefined = 0;                        // of those, left out of Spearman and top-k (a constant map)
};

struct SanityStep {
  std::string layer;                    // randomised at this step ("" for the original model)
  std::vector<std::string> randomised;  // every layer randomised at this step
  std::vector<SanityScore> scores;      // per method, in SanityResult::methods order
};

struct SanityResult {
  SanityParams params;
  std::string targetLayer;           // the layer the CAM methods read
  std::vector<std::string> methods;
  std::vector<std::string> layers;   // the model's layers with parameters, in forward()'s call order
  // Cascade and Independent: step 0 is the original model against itself (1 everywhere), then one
  // step per randomised layer (Cascade: top first). Labels: one step, the random class.
  std::vector<SanityStep> steps;
  int clips = 0, windows = 0;
  std::vector<std::string> warnings;
  double secondsTotal = 0;
};

// Runs the check: per clip, the maps of the model as loaded (the explained class chosen as eval
// chooses it), then per step the maps of the randomised model (or of another class) for the
// same windows and class. The model file is never written: the randomised parameters live in
// memory. Errors: as runEvaluation; Model (a model without parameters); Usage (an unknown layer).
SanityResult runSanityCheck(const SanityParams& params, const EvalProgressFn& progress = {});

// sanity.csv: one row per step and method.
void writeSanityCsv(const SanityResult& r, const std::string& dir);
// sanity_spearman.png, sanity_ssim.png, sanity_topk.png: one line per method against the steps
// (Cascade, Independent; Adebayo et al.'s Fig. 2). Labels has one step: no plot.
void writeSanityPlots(const SanityResult& r, const std::string& dir);
void writeSanityJson(const SanityResult& r, const std::string& path);
std::string formatSanityTable(const SanityResult& r);

}  // namespace ev
