#include "train/loss_terms.hpp"

#include "explain_video/error.hpp"

namespace ev {
namespace trainimpl {
namespace {

// Cross-entropy of the logits against the clip's class (mean over the batch), with optional
// label smoothing.
class CrossEntropyTerm : public LossTerm {
 public:
  explicit CrossEntropyTerm(double labelSmoothing) : labelSmoothing_(labelSmoothing) {}
  std::string name() const override { return "ce"; }
  at::Tensor compute(const Batch& batch, const at::Tensor& logits, torch::jit::Module&) override {
    return at::cross_entropy_loss(logits, batch.labels, /*weight=*/{}, at::Reduction::Mean, /*ignore_index=*/-100,
                                  labelSmoothing_);
  }

 private:
  double labelSmoothing_;
};

}  // namespace

std::vector<std::string> knownLossTerms() { return {"ce"}; }

std::unique_ptr<LossTerm> makeLossTerm(const LossSpec& spec, const TrainOptions& options) {
  if (spec.name == "ce") {
    if (!(options.labelSmoothing >= 0.0 && options.labelSmoothing < 1.0))
      throw Error(ErrorKind::Usage, "--label-smoothing must be in [0, 1)");
    return std::make_unique<CrossEntropyTerm>(options.labelSmoothing);
  }
  std::string known;
  for (const auto& n : knownLossTerms()) known += (known.empty() ? "" : ", ") + n;
  throw Error(ErrorKind::Usage, "--loss: unknown loss term '" + spec.name + "' (known: " + known + ")");
}

}  // namespace trainimpl
}  // namespace ev
