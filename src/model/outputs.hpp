// Reading a classifier's logits out of whatever its forward() returns, and one-line texts for
// LibTorch errors: shared by the explain pipeline (Model) and training (src/train), so that
// `--output` means the same everywhere.
//
// Private header: includes torch. Implemented in model.cpp.
#pragma once
#include <torch/script.h>

#include <exception>
#include <string>

namespace ev {
namespace modelimpl {

// One line for ev::Error from a c10::Error: no backtrace; for errors raised inside the
// TorchScript interpreter, the reason on its last line.
std::string torchMessage(const std::exception& e);

// What a forward() output is made of, for error messages: "Tensor 1×10",
// "(Tensor 1×10, Tensor 1×4)", "{feat: Tensor 1×4, logits: Tensor 1×5}".
std::string describeOutput(const c10::IValue& v);

// The tensor `selector` names in forward()'s output: "" is the first tensor, depth-first;
// otherwise a dotted path of tuple/list indices and dict keys ("1", "logits", "0.scores").
// Errors: ev::Error(Model, "<modelPath>: output '...' does not exist: ...") naming what
// forward() does return.
at::Tensor selectOutput(const c10::IValue& out, const std::string& selector, const std::string& modelPath);

}  // namespace modelimpl
}  // namespace ev
