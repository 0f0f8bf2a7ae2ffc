// Grad-CAM++ (Chattopadhyay et al., WACV 2018), Eq. 19 with the exponential trick (the second
// and third derivatives of exp(S) become g² and g³), the sums taken over time as well as space:
//   α = g² / (2g² + (Σ_{t,a,b} A^k)·g³),  w_k = Σ_{t,i,j} α·relu(g),  map = relu(Σ_k w_k A^k).
// α = 0 wherever the denominator is ≤ 0: 0/0 where g = 0, and a negative denominator, possible
// only where ΣA^k < 0 (a layer before its ReLU), would give a negative or infinite α.
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class GradCamPlusPlus : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{
        "gradcam++", "alpha = g^2 / (2g^2 + sum(A^k) g^3) over T'xH'xW' (Eq. 19); w_k = sum alpha relu(g)",
        "Chattopadhyay et al., WACV 2018", kNeedActivation | kNeedGradient, "1 backward per class", true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes* notes) const override {
    checkInputs(info(), in);
    const at::Tensor& a = in.activation;
    const at::Tensor& g = in.gradient;
    const at::Tensor sumA = a.sum({2, 3, 4}, /*keepdim=*/true);
    const at::Tensor g2 = g * g;
    const at::Tensor denom = 2 * g2 + sumA * g2 * g;
    const at::Tensor alpha = safeDivide(g2, denom, /*positive=*/true);
    if (notes) {
      const at::Tensor clamped = (g.gt(0) & denom.le(0)).sum({1, 2, 3, 4}).to(at::kLong).contiguous();
      notes->clampedAlphaCells.assign(clamped.data_ptr<int64_t>(), clamped.data_ptr<int64_t>() + clamped.numel());
    }
    return weightedMap((alpha * at::relu(g)).sum({2, 3, 4}), a);
  }
};

}  // namespace

const Method& gradCamPlusPlus() {
  static const GradCamPlusPlus m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
