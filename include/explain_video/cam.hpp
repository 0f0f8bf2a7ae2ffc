// Stage 4: class activation maps from one layer's activation and gradient, over T×H×W.
#pragma once
#include <string>
#include <vector>

#include "explain_video/volume.hpp"

namespace ev {

enum class CamMethod {
  GradCam,          // w_k = mean over (t,i,j) of g
  GradCamPlusPlus,  // w_k = Σ α·relu(g), α = g² / (2g² + (Σ_{t,a,b} A^k)·g³), α = 0 where 0/0
};

// "gradcam" or "gradcam++"; throws Error(Usage) naming the valid methods otherwise.
CamMethod parseCamMethod(const std::string& name);
std::string camMethodName(CamMethod method);
std::vector<std::string> camMethodNames();

// Per-channel weights w_k. activation and gradient are C×T×H×W (same shape).
std::vector<float> camWeights(CamMethod method, const Volume& activation, const Volume& gradient);

// map = relu(Σ_k w_k A^k), T×H×W.
Volume computeCam(CamMethod method, const Volume& activation, const Volume& gradient);

}  // namespace ev
