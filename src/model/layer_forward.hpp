// forward() of a TorchScript module rewritten to also return an inner layer's output, kept on
// the autograd graph: what training with an explanation loss needs (the student's Grad-CAM++
// map must be differentiable with respect to its weights). The explain pipeline's capture
// (Model::capture) cuts the graph at the layer instead.
//
// Private header: includes torch. Implemented in model.cpp (same graph surgery as Model).
#pragma once
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <memory>
#include <string>

namespace ev {
namespace modelimpl {

// A function called as (*fn)({module._ivalue(), input}) that returns the tuple
// (output of submodule `layer`, forward()'s output). The layer's output must be 5D.
// Errors: ev::Error(Model) naming modelPath (unknown layer, frozen model, control flow...).
std::shared_ptr<torch::jit::GraphFunction> buildLayerForward(const torch::jit::Module& module,
                                                             const std::string& modelPath, const std::string& layer);

}  // namespace modelimpl
}  // namespace ev
