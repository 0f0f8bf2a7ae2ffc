// TorchScript helpers shared by the trainer and the loss terms. Private header: includes torch.
#pragma once
#include <torch/script.h>

#include <exception>
#include <string>

namespace ev {
namespace trainimpl {

// One line for ev::Error from a c10::Error (no backtrace; the interpreter's reason).
std::string torchMessage(const std::exception& e);
std::string shapeString(at::IntArrayRef sizes);

// Loads a TorchScript file on the CPU. Errors: Usage (empty path), Model (missing, folder, not
// TorchScript), naming the file.
torch::jit::Module loadModule(const std::string& path);

// forward() of a classifier on an N×3×T×H×W input: the logits N×K (the first element of a
// tuple output). Errors: Model, naming the file.
at::Tensor forwardLogits(torch::jit::Module& m, const at::Tensor& input, const std::string& path);
at::Tensor logitsOf(c10::IValue forwardOutput, const at::Tensor& input, const std::string& path);

}  // namespace trainimpl
}  // namespace ev
