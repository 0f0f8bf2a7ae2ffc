// One-line texts about LibTorch values and errors, for ev::Error messages: shared by every
// torch translation unit (model, cam, train).
//
// Private header: includes torch.
#pragma once
#include <ATen/core/ivalue.h>

#include <exception>
#include <string>
#include <vector>

namespace ev {
namespace modelimpl {

// One line for ev::Error from a c10::Error: no backtrace; for errors raised inside the
// TorchScript interpreter, the reason on its last line.
std::string torchMessage(const std::exception& e);

// "1×3×16×112×112".
std::string shapeString(at::IntArrayRef sizes);
std::string shapeString(const std::vector<int64_t>& sizes);

// What a forward() output is made of: "Tensor 1×10", "(Tensor 1×10, Tensor 1×4)",
// "{feat: Tensor 1×4, logits: Tensor 1×5}".
std::string describeOutput(const c10::IValue& v);

}  // namespace modelimpl
}  // namespace ev
