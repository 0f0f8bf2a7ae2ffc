// Ablation-CAM (Desai & Ramaswamy, WACV 2020): w_k = (S^c − S^c_k) / S^c, S^c the class's
// pre-softmax logit and S^c_k the same with channel k of the layer's activation set to zero,
// scored from the layer onward (the layer's output replaced; the network before it is not run
// again); map = relu(Σ_k w_k A^k); w_k = 0 where S^c = 0. One head pass per ablated channel
// serves every class of the window. --score-channels K ablates only the K channels of largest
// mean activation (the others get w_k = 0): an approximation that trades fidelity for speed.
// For a linear classifier after global average pooling, w_k = W[c,k]·mean(A^k) / S^c.
#include <algorithm>
#include <map>

#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class AblationCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"ablationcam",
                                 "w_k = (S_c - S_c with channel k zeroed) / S_c, scored from the layer on",
                                 "Desai & Ramaswamy, WACV 2020", kNeedActivation | kNeedLayerScores,
                                 "C + 1 passes of the network after the layer per window (--score-channels K: K + 1)",
                                 false};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    const at::Tensor& a = in.activation;
    const int64_t items = a.size(0), C = a.size(1);
    at::Tensor out = at::zeros({items, a.size(2), a.size(3), a.size(4)}, a.options());
    std::map<int64_t, std::pair<at::Tensor, at::Tensor>> scoresOf;  // window → (S: K, S_k: C×K)
    for (int64_t n = 0; n < items; ++n) {
      const int64_t w = in.windows[static_cast<size_t>(n)];
      auto it = scoresOf.find(w);
      if (it == scoresOf.end()) {
        const at::Tensor act = a[n].to(at::kFloat);
        const at::Tensor S = in.logitsFromLayer(act.unsqueeze(0)).to(at::kDouble)[0];
        const std::vector<int64_t> channels = scoredChannels(a[n], in.params.scoreChannels);
        at::Tensor Sk = S.unsqueeze(0).repeat({C, 1});  // channels left out: S_k = S, w_k = 0
        for (size_t b = 0; b < channels.size(); b += static_cast<size_t>(in.batch)) {
          const size_t e = std::min(channels.size(), b + static_cast<size_t>(in.batch));
          at::Tensor ablated = act.unsqueeze(0).repeat({static_cast<int64_t>(e - b), 1, 1, 1, 1});
          for (size_t j = b; j < e; ++j) ablated[static_cast<int64_t>(j - b)][channels[j]].zero_();
          const at::Tensor s = in.logitsFromLayer(ablated).to(at::kDouble);
          for (size_t j = b; j < e; ++j) Sk[channels[j]] = s[static_cast<int64_t>(j - b)];
        }
        it = scoresOf.emplace(w, std::make_pair(S, Sk)).first;
      }
      const auto& [S, Sk] = it->second;
      const int c = in.classes[static_cast<size_t>(n)];
      const double sc = S[c].item<double>();
      if (sc == 0) continue;  // w = 0: the map stays zero
      const at::Tensor wk = (sc - Sk.select(1, c)) / sc;  // C
      out[n] = at::relu((wk.view({C, 1, 1, 1}) * a[n]).sum(0));
    }
    return out;
  }
};

}  // namespace

const Method& ablationCam() {
  static const AblationCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
