#include "cam/cam_tensor.hpp"

#include "explain_video/error.hpp"

namespace ev {
namespace camimpl {

at::Tensor camMaps(CamMethod method, const at::Tensor& a, const at::Tensor& g) {
  if (a.dim() != 5 || !a.sizes().equals(g.sizes()))
    throw Error(ErrorKind::Internal, "CAM needs activation and gradient of the same N×C×T×H×W shape");
  const std::vector<int64_t> volume{2, 3, 4};
  at::Tensor w;  // N×C×1×1×1
  if (method == CamMethod::GradCam) {
    w = g.mean(volume, /*keepdim=*/true);
  } else {
    // alpha = g² / (2g² + Σ_thw A · g³), 0 where the denominator is 0; w = Σ_thw alpha · relu(g).
    const at::Tensor sumA = a.sum(volume, /*keepdim=*/true);
    const at::Tensor g2 = g * g;
    const at::Tensor denom = 2 * g2 + sumA * g2 * g;
    const at::Tensor nonzero = denom.ne(0);
    // The division runs on a safe denominator, so the unused branch has no inf/NaN gradient.
    const at::Tensor alpha = at::where(nonzero, g2 / at::where(nonzero, denom, at::ones_like(denom)),
                                       at::zeros_like(denom));
    w = (alpha * at::relu(g)).sum(volume, /*keepdim=*/true);
  }
  return at::relu((w * a).sum(1));
}

}  // namespace camimpl
}  // namespace ev
