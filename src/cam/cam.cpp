#include "explain_video/cam.hpp"

#include <algorithm>

#include "explain_video/error.hpp"

namespace ev {
namespace {

void checkShapes(const Volume& a, const Volume& g) {
  if (a.shape.size() != 4 || a.shape != g.shape || a.size() != g.size())
    throw Error(ErrorKind::Internal, "CAM needs activation and gradient of the same C×T×H×W shape");
}

// Grad-CAM: the gradient's mean over the whole T×H×W volume of channel k.
float gradCamWeight(const float* g, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += g[i];
  return static_cast<float>(s / static_cast<double>(n));
}

// Grad-CAM++ (Eq. 19 with the exp trick: the second and third derivatives of exp(S) become
// g² and g³), with the sums taken over time as well as space.
float gradCamPlusPlusWeight(const float* a, const float* g, size_t n) {
  double sumA = 0;
  for (size_t i = 0; i < n; ++i) sumA += a[i];
  double w = 0;
  for (size_t i = 0; i < n; ++i) {
    const double gi = g[i];
    if (gi <= 0) continue;  // relu(g) = 0: alpha does not matter
    const double g2 = gi * gi;
    const double denom = 2 * g2 + sumA * g2 * gi;
    if (denom == 0) continue;  // alpha defined as 0 where the denominator vanishes
    w += (g2 / denom) * gi;
  }
  return static_cast<float>(w);
}

}  // namespace

CamMethod parseCamMethod(const std::string& name) {
  if (name == "gradcam") return CamMethod::GradCam;
  if (name == "gradcam++" || name == "gradcampp") return CamMethod::GradCamPlusPlus;
  throw Error(ErrorKind::Usage, "unknown method '" + name + "': choose gradcam++ or gradcam");
}

std::string camMethodName(CamMethod method) {
  return method == CamMethod::GradCam ? "gradcam" : "gradcam++";
}

std::vector<std::string> camMethodNames() { return {"gradcam++", "gradcam"}; }

std::vector<float> camWeights(CamMethod method, const Volume& activation, const Volume& gradient) {
  checkShapes(activation, gradient);
  const auto channels = static_cast<size_t>(activation.shape[0]);
  const size_t n = activation.size() / std::max<size_t>(channels, 1);
  std::vector<float> w(channels);
  for (size_t k = 0; k < channels; ++k) {
    const float* a = activation.ptr() + k * n;
    const float* g = gradient.ptr() + k * n;
    w[k] = method == CamMethod::GradCam ? gradCamWeight(g, n) : gradCamPlusPlusWeight(a, g, n);
  }
  return w;
}

Volume computeCam(CamMethod method, const Volume& activation, const Volume& gradient) {
  const std::vector<float> w = camWeights(method, activation, gradient);
  Volume map({activation.shape[1], activation.shape[2], activation.shape[3]});
  const size_t n = map.size();
  std::vector<double> acc(n, 0.0);
  for (size_t k = 0; k < w.size(); ++k) {
    if (w[k] == 0) continue;
    const float* a = activation.ptr() + k * n;
    for (size_t i = 0; i < n; ++i) acc[i] += static_cast<double>(w[k]) * a[i];
  }
  for (size_t i = 0; i < n; ++i) map.data[i] = static_cast<float>(std::max(0.0, acc[i]));
  return map;
}

}  // namespace ev
