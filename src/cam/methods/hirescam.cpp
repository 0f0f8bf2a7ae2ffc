// HiResCAM (Draelos & Carin, 2020): the gradient times the activation, summed over channels
// without averaging the gradient first: map = relu(Σ_k g·A^k), element-wise.
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class HiResCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"hirescam", "relu(sum_k g A^k), element-wise", "Draelos & Carin, arXiv 2011.08891, 2020",
                                 kNeedActivation | kNeedGradient, "1 backward per class", true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    return at::relu((in.gradient * in.activation).sum(1));
  }
};

}  // namespace

const Method& hiResCam() {
  static const HiResCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
