// LayerCAM (Jiang et al., IEEE TIP 2021): every cell weighted by its own positive gradient,
// map = relu(Σ_k relu(g)·A^k), element-wise.
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class LayerCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"layercam", "relu(sum_k relu(g) A^k), element-wise", "Jiang et al., IEEE TIP 2021",
                                 kNeedActivation | kNeedGradient, "1 backward per class", true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    return at::relu((at::relu(in.gradient) * in.activation).sum(1));
  }
};

}  // namespace

const Method& layerCam() {
  static const LayerCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
