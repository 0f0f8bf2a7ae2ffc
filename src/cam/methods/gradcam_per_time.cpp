// Grad-CAM with separate weights for every time step t of the layer, as mmaction2's and
// SlowFast's video Grad-CAM compute it: w_{k,t} = mean over (i,j) of g,
// map[t] = relu(Σ_k w_{k,t} A^k[t]).
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class GradCamPerTime : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"gradcam-per-time",
                                 "Grad-CAM weighted per time step: w_kt = mean of g over H'xW' (mmaction2, SlowFast)",
                                 "Selvaraju et al., ICCV 2017; per-frame weights as in mmaction2",
                                 kNeedActivation | kNeedGradient, "1 backward per class", true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    return weightedMap(in.gradient.mean({3, 4}, /*keepdim=*/true), in.activation);
  }
};

}  // namespace

const Method& gradCamPerTime() {
  static const GradCamPerTime m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
