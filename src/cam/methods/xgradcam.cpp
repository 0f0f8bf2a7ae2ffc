// XGrad-CAM (Fu et al., BMVC 2020): w_k = Σ(A^k·g) / ΣA^k (0 where ΣA^k = 0),
// map = relu(Σ_k w_k A^k), sums over T×H×W.
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class XGradCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"xgradcam", "w_k = sum(A^k g) / sum(A^k), 0 where sum(A^k) = 0", "Fu et al., BMVC 2020",
                                 kNeedActivation | kNeedGradient, "1 backward per class", true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    const at::Tensor& a = in.activation;
    const at::Tensor w = safeDivide((a * in.gradient).sum({2, 3, 4}), a.sum({2, 3, 4}));
    return weightedMap(w, a);
  }
};

}  // namespace

const Method& xGradCam() {
  static const XGradCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
