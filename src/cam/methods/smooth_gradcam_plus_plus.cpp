// Smooth Grad-CAM++ (Omeiza et al., 2019): Grad-CAM++ (Eq. 19 over T×H×W) with the gradient
// averaged over n noisy copies of the window's input, each with Gaussian noise of standard
// deviation σ·(max − min) of the input (--smooth-samples n, --smooth-sigma σ); the activation is
// the window's own. The noise is drawn from a generator seeded by --seed and the window's index,
// copy after copy, so the same seed gives the same map at any batch size.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>

#include "cam/method.hpp"

namespace ev {
namespace camimpl {

const Method& gradCamPlusPlus();

namespace {

class SmoothGradCamPlusPlus : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"smoothgradcam++",
                                 "Grad-CAM++ with g averaged over n noisy copies of the input (noise sigma*(max-min))",
                                 "Omeiza et al., arXiv 1908.01224, 2019",
                                 kNeedActivation | kNeedPerturbedGradients,
                                 "n forward + n backward passes per candidate class per window (--smooth-samples n, default 8)",
                                 false};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes* notes) const override {
    checkInputs(info(), in);
    const at::Tensor& a = in.activation;
    const int64_t items = a.size(0);
    const int samples = std::max(1, in.params.smoothSamples);
    // Items of one window in a row: their classes take one set of noisy passes together.
    std::map<int64_t, std::vector<int64_t>> byWindow;
    for (int64_t n = 0; n < items; ++n) byWindow[in.windows[static_cast<size_t>(n)]].push_back(n);
    at::Tensor g = at::zeros_like(a);
    for (const auto& [w, members] : byWindow) {
      const at::Tensor x = in.input[members.front()].unsqueeze(0);  // 1×3×T×H×W
      const double spread = (x.max() - x.min()).item<double>();
      auto gen = at::make_generator<at::CPUGeneratorImpl>(in.params.seed * 1000003ull + static_cast<uint64_t>(w));
      std::vector<int> classes;
      for (int64_t n : members) classes.push_back(in.classes[static_cast<size_t>(n)]);
      at::Tensor sum;  // K'×C×T'×H'×W'
      for (int s0 = 0; s0 < samples; s0 += in.batch) {
        const int b = std::min(in.batch, samples - s0);
        std::vector<at::Tensor> noisy;
        for (int s = 0; s < b; ++s)  // drawn copy after copy: independent of the batch size
          noisy.push_back(x[0] + at::randn(x.sizes().slice(1), gen, at::TensorOptions().dtype(at::kFloat)).to(x.device()) *
                                     static_cast<float>(in.params.smoothSigma * spread));
        const at::Tensor gr = in.gradientsAt(at::stack(noisy), std::vector<std::vector<int>>(static_cast<size_t>(b), classes))
                                  .to(a.scalar_type())
                                  .sum(0);
        sum = sum.defined() ? sum + gr : gr;
      }
      for (size_t j = 0; j < members.size(); ++j) g[members[j]] = sum[static_cast<int64_t>(j)] / samples;
    }
    MethodInputs avg;
    avg.activation = a;
    avg.gradient = g;
    return gradCamPlusPlus().maps(avg, notes);
  }
};

}  // namespace

const Method& smoothGradCamPlusPlus() {
  static const SmoothGradCamPlusPlus m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
