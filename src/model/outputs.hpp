// Reading a classifier's logits out of whatever its forward() returns: shared by the explain
// pipeline (ScriptModel) and training (src/train), so that `--output` means the same everywhere.
//
// Private header: includes torch.
#pragma once
#include <ATen/core/ivalue.h>

#include <string>

namespace ev {
namespace modelimpl {

// The tensor `selector` names in forward()'s output: "" is the first tensor, depth-first;
// otherwise a dotted path of tuple/list indices and dict keys ("1", "logits", "0.scores").
// Errors: ev::Error(Model, "<modelPath>: output '...' does not exist: ...") naming what
// forward() does return.
at::Tensor selectOutput(const c10::IValue& out, const std::string& selector, const std::string& modelPath);

// The selected output as N×K logits for an input batch of `batch` clips (a 1-D K tensor is
// accepted for a batch of one). Errors: ev::Error(Model) naming the file, the shape found and,
// for tuple/dict outputs, what forward() returns.
at::Tensor logitsOf(const c10::IValue& out, const std::string& selector, const std::string& modelPath,
                    int64_t batch);

}  // namespace modelimpl
}  // namespace ev
