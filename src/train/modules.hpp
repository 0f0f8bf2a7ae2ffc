// TorchScript helpers shared by the trainer and the loss terms. Private header: includes torch.
#pragma once
#include <torch/script.h>

#include <exception>
#include <string>

#include "model/outputs.hpp"

namespace ev {
namespace trainimpl {

using modelimpl::torchMessage;
std::string shapeString(at::IntArrayRef sizes);

// Loads a TorchScript file on the CPU. Errors: Usage (empty path), Model (missing, folder, not
// TorchScript), naming the file.
torch::jit::Module loadModule(const std::string& path);

// forward() of a classifier on an N×3×T×H×W input: the logits N×K, the tensor `output` names
// in forward()'s output (as explain's --output: "" is the first tensor; modelimpl::selectOutput).
// Errors: Model, naming the file.
at::Tensor forwardLogits(torch::jit::Module& m, const at::Tensor& input, const std::string& path,
                         const std::string& output);
at::Tensor logitsOf(const c10::IValue& forwardOutput, const at::Tensor& input, const std::string& path,
                    const std::string& output);

}  // namespace trainimpl
}  // namespace ev
