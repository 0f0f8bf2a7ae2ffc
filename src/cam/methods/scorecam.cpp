// Score-CAM (Wang et al., CVPR Workshops 2020): each channel's activation, upsampled to the
// window (the heatmaps' cell geometry) and min-max normalised to [0,1], masks the input in pixel
// space; w_k = softmax score of c on that masked input − on the baseline, a black window (every
// pixel 0: the mask all 0); map = relu(Σ_k w_k A^k). A channel whose upsampled map is constant
// is skipped (w_k = 0). The masked inputs are class-independent: one forward pass each serves
// every class of the window. --score-channels K keeps the K channels of largest mean
// activation (the others get w_k = 0): an approximation that trades fidelity for speed.
#include <algorithm>
#include <map>

#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class ScoreCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"scorecam",
                                 "w_k = p_c(input masked by upsampled, normalised A^k) - p_c(black input)",
                                 "Wang et al., CVPR Workshops 2020", kNeedActivation | kNeedModelScores,
                                 "C + 1 forward passes per window (--score-channels K: K + 1)", false};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    const at::Tensor& a = in.activation;  // items × C × T'×H'×W'
    const int64_t items = a.size(0), C = a.size(1);
    const int64_t T = in.input.size(2), H = in.input.size(3), W = in.input.size(4);
    at::Tensor out = at::zeros({items, a.size(2), a.size(3), a.size(4)}, a.options());
    std::map<int64_t, at::Tensor> probsOf;  // window → (channels + 1)×K softmax scores
    for (int64_t n = 0; n < items; ++n) {
      const int64_t w = in.windows[static_cast<size_t>(n)];
      auto it = probsOf.find(w);
      if (it == probsOf.end()) {
        const at::Tensor act = a[n];
        const std::vector<int64_t> channels = scoredChannels(act, in.params.scoreChannels);
        std::vector<at::Tensor> rows(static_cast<size_t>(C + 1));
        const at::Tensor x = in.input[n].unsqueeze(0);
        // The baseline first (row C), then the channels in batches: never all masked inputs at once.
        rows[static_cast<size_t>(C)] = at::softmax(in.logitsOf(maskInputs(x, at::zeros({1, T, H, W}, a.options()), in.black)).to(at::kDouble), 1)[0];
        for (size_t b = 0; b < channels.size(); b += static_cast<size_t>(in.batch)) {
          const size_t e = std::min(channels.size(), b + static_cast<size_t>(in.batch));
          const at::Tensor idx = at::tensor(std::vector<int64_t>(channels.begin() + b, channels.begin() + e), at::kLong).to(a.device());
          at::Tensor up = upsampleToInput(act.index_select(0, idx), T, H, W, in.centres);
          const at::Tensor lo = up.amin({1, 2, 3}, true), hi = up.amax({1, 2, 3}, true);
          const at::Tensor live = (hi - lo).gt(0).flatten();
          up = (up - lo) / (hi - lo).clamp_min(1e-300);
          const at::Tensor p = at::softmax(in.logitsOf(maskInputs(x, up, in.black)).to(at::kDouble), 1);
          for (size_t j = b; j < e; ++j)
            rows[static_cast<size_t>(channels[j])] = live[static_cast<int64_t>(j - b)].item<bool>() ? p[static_cast<int64_t>(j - b)]
                                                                                                 : rows[static_cast<size_t>(C)];
        }
        for (auto& r : rows)
          if (!r.defined()) r = rows[static_cast<size_t>(C)];  // channels left out: w_k = 0
        it = probsOf.emplace(w, at::stack(rows)).first;
      }
      const at::Tensor& probs = it->second;
      const int c = in.classes[static_cast<size_t>(n)];
      const at::Tensor wk = probs.slice(0, 0, C).select(1, c) - probs[C][c];  // C
      out[n] = at::relu((wk.view({C, 1, 1, 1}) * a[n]).sum(0));
    }
    return out;
  }
};

}  // namespace

const Method& scoreCam() {
  static const ScoreCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
