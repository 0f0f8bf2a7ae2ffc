// Grad-CAM and Grad-CAM++ on batched LibTorch tensors, differentiable: the same formulas as
// cam.cpp (camWeights/computeCam, sums over T×H×W), written with tensor ops so that a map
// computed from an activation and a gradient taken with create_graph=true can be trained
// through (the explanation loss of `explain-video distill`).
//
// Private header: includes torch.
#pragma once
#include <torch/script.h>

#include "explain_video/cam.hpp"

namespace ev {
namespace camimpl {

// activation, gradient: N×C×T×H×W. Returns the maps N×T×H×W (ReLU applied, not normalised).
// Grad-CAM++ sets alpha to 0 where its denominator vanishes, without NaNs in the backward pass.
at::Tensor camMaps(CamMethod method, const at::Tensor& activation, const at::Tensor& gradient);

}  // namespace camimpl
}  // namespace ev
