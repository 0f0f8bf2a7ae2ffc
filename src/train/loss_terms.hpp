// The training loss as a list of weighted terms behind one small interface, so new terms plug
// in without touching the training loop. Built in: "ce" (cross-entropy), "kd" (knowledge
// distillation from a teacher's softened outputs), "exp" (the Grad-CAM++ paper's
// explanation loss against a teacher's maps) and "box" (the model's own map against the ground-truth
// boxes of the acting object). docs/training.md, docs/distill.md.
//
// Private header: includes torch. Only the torch translation units of src/train include it.
#pragma once
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "explain_video/synth.hpp"
#include "explain_video/train.hpp"
#include "model/script_model.hpp"
#include "train/dataset.hpp"

namespace ev {
namespace trainimpl {

// One training batch: N windows of clipLen frames.
struct Batch {
  at::Tensor input;              // N×3×T×H×W float32, normalised exactly as the explain pipeline
  at::Tensor labels;             // N int64 class ids
  std::vector<int> clips;        // index of each window's clip in split->clips
  std::vector<int64_t> starts;   // first frame of each window (frames past the end repeat the last)
  int clipLen = 0;
  const SplitData* split = nullptr;  // ground truth: split->clips[clips[i]] (stem, truth path...)
  int epoch = 0;                 // 1-based
  int step = 0;                  // 1-based within the epoch
};

// The model's forward pass on the batch (train mode).
struct Forward {
  at::Tensor logits;      // N×K
  at::Tensor activation;  // N×C×T×H×W output of activationLayer(), on the autograd graph to the
                          // parameters; undefined unless some term asked for a layer
};

class LossTerm {
 public:
  virtual ~LossTerm() = default;
  // Short name shown in progress and logs ("ce", "kd", "exp").
  virtual std::string name() const = 0;
  // The model layer whose output this term needs in Forward::activation ("" for none). The
  // trainer supports one such layer per run.
  virtual std::string activationLayer() const { return {}; }
  // A scalar tensor, differentiable with respect to the model parameters (through the forward
  // pass, or through further passes of `model`).
  virtual at::Tensor compute(const Batch& batch, const Forward& forward, torch::jit::Module& model) = 0;
};

// What the terms may need besides the options: the model being trained (for its default
// layer) and the input geometry.
struct LossContext {
  modelimpl::ScriptModel* model = nullptr;  // the model being trained, as loaded
  std::vector<int64_t> inputShape;        // 1×3×T×H×W of one window
};

// Builds the terms of options.losses in order; "kd" and "exp" share one teacher
// (options.teacherPath). Throws ev::Error(Usage) for an unknown name or a missing teacher,
// Model for an unusable teacher or layer.
std::vector<std::unique_ptr<LossTerm>> makeLossTerms(const TrainOptions& options, const LossContext& context);

// The "box" term's target, exposed for tests. cropBox maps a box in source-frame pixels through
// the resize and centre crop of `g` (outward rounding, clipped to the crop; empty if outside).
// boxTarget rasterises the crop-space boxes of frames start … start+clipLen-1 (frames past the
// end repeat the last) that lie in [actionStart, actionEnd) into a clipLen×height×width 0/1
// volume and averages it onto `grid` (T'×H'×W'), each sample going to the cell whose centre
// (`centres`, Model::cellCentres; even tiling where empty) is nearest: the share of each cell's
// samples the actor covers.
Box cropBox(const Box& box, const CropGeometry& g);
at::Tensor boxTarget(const std::vector<Box>& boxes, int actionStart, int actionEnd, int64_t start, int64_t clipLen,
                     int64_t height, int64_t width, at::IntArrayRef grid, const CellCentres& centres = {});

// The "exp" term's resampling of the student's map to the teacher's cells, exposed for tests:
// the matrix (to.size() × from.size()) that evaluates a signal known at the cell centres `from`
// (increasing) at the positions `to`, linearly, holding the end values beyond them.
at::Tensor interpolationMatrix(const std::vector<double>& from, const std::vector<double>& to);

// Names the built-in terms, for help texts and errors.
std::vector<std::string> knownLossTerms();

}  // namespace trainimpl
}  // namespace ev
