// TorchScript helpers shared by the trainer and the loss terms: loading, the logits of a
// forward pass, one-line error texts.
#include "train/modules.hpp"

#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "explain_video/error.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace trainimpl {

// c10::Error texts are multi-line with a backtrace; TorchScript interpreter errors put the
// reason on their last line. One line for ev::Error.
std::string torchMessage(const std::exception& e) {
  auto* ce = dynamic_cast<const c10::Error*>(&e);
  const std::string text = ce ? ce->what_without_backtrace() : e.what();
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    lines.push_back(line);
  }
  if (lines.empty()) return "unknown error";
  std::string msg = lines.front();
  if (msg.find("failed in the TorchScript interpreter") != std::string::npos) {
    msg = lines.back();
    for (const char* prefix : {"RuntimeError: ", "Exception: "})
      if (msg.rfind(prefix, 0) == 0) msg = msg.substr(std::strlen(prefix));
  }
  if (msg.size() > 300) msg = msg.substr(0, 300) + "...";
  return msg;
}

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

at::Tensor forwardLogits(torch::jit::Module& m, const at::Tensor& input, const std::string& path) {
  return logitsOf(m.forward({input}), input, path);
}

at::Tensor logitsOf(c10::IValue out, const at::Tensor& input, const std::string& path) {
  if (out.isTuple()) {
    const auto& el = out.toTupleRef().elements();
    if (el.empty()) throw Error(ErrorKind::Model, path + ": forward() returns an empty tuple");
    out = el[0];
  }
  if (!out.isTensor()) throw Error(ErrorKind::Model, path + ": forward() does not return a tensor");
  at::Tensor t = out.toTensor();
  if (t.dim() != 2 || t.size(0) != input.size(0))
    throw Error(ErrorKind::Model, path + ": forward() returns a " + shapeString(t.sizes()) + " tensor for input " +
                                      shapeString(input.sizes()) + ", expected N" + "\xC3\x97" + "classes logits");
  return t;
}

}  // namespace trainimpl
}  // namespace ev
