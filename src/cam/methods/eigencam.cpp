// Eigen-CAM (Muhammad & Yeasin, IJCNN 2020): the activation's first principal component, no
// gradient. Rows are the T'·H'·W' positions, columns the channels; each column's mean is
// subtracted; the map is the projection of the rows on the first right singular vector, its
// sign chosen so that it correlates positively with Σ_k A^k (a singular vector's sign is
// arbitrary), then relu. When the correlation is exactly 0, the sign makes the largest |value|
// positive. A layer whose positions all have the same activation gives a zero map.
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class EigenCam : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"eigencam",
                                 "projection on the first principal component of the (positions x channels) "
                                 "activation, sign correlated with sum_k A^k; no gradient",
                                 "Muhammad & Yeasin, IJCNN 2020", kNeedActivation, "no backward", false};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    const at::Tensor& a = in.activation;  // N×C×T×H×W
    const int64_t n = a.size(0), c = a.size(1);
    const at::Tensor x = a.reshape({n, c, -1}).transpose(1, 2);  // N×P×C
    const at::Tensor centred = x - x.mean(1, /*keepdim=*/true);
    // Batched SVD: Vh[n][0] is the first right singular vector.
    const auto svd = at::linalg_svd(centred, /*full_matrices=*/false);
    const at::Tensor v = std::get<2>(svd).select(1, 0);                 // N×C
    at::Tensor p = at::matmul(centred, v.unsqueeze(2)).squeeze(2);      // N×P, mean 0
    const at::Tensor s = x.sum(2);                                      // N×P: Σ_k A^k
    const at::Tensor corr = (p * (s - s.mean(1, true))).sum(1);         // N
    const at::Tensor peak = p.gather(1, p.abs().argmax(1, /*keepdim=*/true)).squeeze(1);
    const at::Tensor sign = at::where(corr.ne(0), corr.sign(), peak.sign());
    p = p * at::where(sign.eq(0), at::ones_like(sign), sign).unsqueeze(1);
    return at::relu(p).reshape({n, a.size(2), a.size(3), a.size(4)});
  }
};

}  // namespace

const Method& eigenCam() {
  static const EigenCam m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
