// TorchScript helpers shared by the trainer and the loss terms: loading, the logits of a
// forward pass.
#include "train/modules.hpp"

#include <filesystem>

#include "explain_video/error.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace trainimpl {

std::string shapeString(at::IntArrayRef sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? "\xC3\x97" : "") + std::to_string(sizes[i]);
  return s;
}

torch::jit::Module loadModule(const std::string& path) {
  if (path.empty()) throw Error(ErrorKind::Usage, "--model is required");
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorKind::Model, path + ": no such model file");
  if (fs::is_directory(path, ec)) throw Error(ErrorKind::Model, path + ": is a folder, not a TorchScript file");
  try {
    return torch::jit::load(path, at::kCPU);
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Model, path + ": not a TorchScript model (" + torchMessage(e) + ")");
  }
}

at::Tensor forwardLogits(torch::jit::Module& m, const at::Tensor& input, const std::string& path,
                         const std::string& output) {
  return logitsOf(m.forward({input}), input, path, output);
}

at::Tensor logitsOf(const c10::IValue& out, const at::Tensor& input, const std::string& path, const std::string& output) {
  const at::Tensor t = modelimpl::selectOutput(out, output, path);
  if (t.dim() != 2 || t.size(0) != input.size(0)) {
    const std::string which = output.empty() ? "forward()" : "output '" + output + "'";
    const std::string hint = out.isTensor() ? "" : " (forward() returns " + modelimpl::describeOutput(out) +
                                                       "; choose the logits with --output)";
    throw Error(ErrorKind::Model, path + ": " + which + " gives a " + shapeString(t.sizes()) + " tensor for input " +
                                      shapeString(input.sizes()) + ", expected N" + "\xC3\x97" + "classes logits" + hint);
  }
  return t;
}

}  // namespace trainimpl
}  // namespace ev
