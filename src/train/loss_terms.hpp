// The training loss as a list of weighted terms behind one small interface, so new terms
// (an explanation loss against a teacher's Grad-CAM++ maps, knowledge distillation, ...) plug
// in without touching the training loop. docs/training.md, "Adding a loss term".
//
// Private header: includes torch. Only the torch translation units of src/train include it.
#pragma once
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "explain_video/train.hpp"
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

class LossTerm {
 public:
  virtual ~LossTerm() = default;
  // Short name shown in progress and logs ("ce", "distill", "cam").
  virtual std::string name() const = 0;
  // A scalar tensor, differentiable with respect to the model parameters (through `logits`,
  // which is model.forward(batch.input) in train mode, or through further passes of `model`).
  virtual at::Tensor compute(const Batch& batch, const at::Tensor& logits, torch::jit::Module& model) = 0;
};

// Builds the term named spec.name ("ce"); throws ev::Error(Usage) for an unknown name.
std::unique_ptr<LossTerm> makeLossTerm(const LossSpec& spec, const TrainOptions& options);

// Names makeLossTerm knows, for help texts and errors.
std::vector<std::string> knownLossTerms();

}  // namespace trainimpl
}  // namespace ev
