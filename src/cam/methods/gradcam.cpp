// Grad-CAM (Selvaraju et al., ICCV 2017), with the weights averaged over time as well as
// space: w_k = mean over (t,i,j) of g, map = relu(Σ_k w_k A^k).
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class GradCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"gradcam", "w_k = mean of g over T'xH'xW'; relu(sum_k w_k A^k)",
                                 "Selvaraju et al., ICCV 2017", kNeedActivation | kNeedGradient,
                                 "1 backward per class", true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    return weightedMap(in.gradient.mean({2, 3, 4}), in.activation);
  }
};

}  // namespace

const Method& gradCam() {
  static const GradCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
