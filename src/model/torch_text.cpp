#include "model/torch_text.hpp"

#include <c10/util/Exception.h>

#include <sstream>

namespace ev {
namespace modelimpl {
namespace {

// c10::Error messages are multi-line with a backtrace; keep the first meaningful line.
std::string firstLine(const std::string& what) {
  std::istringstream in(what);
  std::string line;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.size() > 300) line = line.substr(0, 300) + "...";
    return line;
  }
  return "unknown error";
}

std::string describe(const c10::IValue& v, int depth) {
  if (v.isTensor()) return "Tensor " + shapeString(v.toTensor().sizes());
  if (depth > 3) return "...";
  auto join = [&](const auto& range, const char* open, const char* close) {
    std::string s = open;
    size_t i = 0;
    for (const auto& e : range) {
      if (i++) s += ", ";
      if (i > 8) {
        s += "...";
        break;
      }
      s += describe(e, depth + 1);
    }
    return s + close;
  };
  if (v.isTuple()) return join(v.toTupleRef().elements(), "(", ")");
  if (v.isList()) return join(v.toListRef(), "[", "]");
  if (v.isGenericDict()) {
    std::string s = "{";
    size_t i = 0;
    for (const auto& kv : v.toGenericDict()) {
      if (i++) s += ", ";
      if (i > 8) {
        s += "...";
        break;
      }
      s += (kv.key().isString() ? kv.key().toStringRef() : kv.key().tagKind()) + ": " + describe(kv.value(), depth + 1);
    }
    return s + "}";
  }
  if (v.isNone()) return "None";
  return v.tagKind();
}

}  // namespace

// Errors raised inside the TorchScript interpreter start with a generic header and a
// TorchScript traceback; the actual reason ("RuntimeError: ...") is the last line.
std::string torchMessage(const std::exception& e) {
  auto* ce = dynamic_cast<const c10::Error*>(&e);
  std::string text = ce ? ce->what_without_backtrace() : e.what();
  std::string first = firstLine(text);
  if (first.find("failed in the TorchScript interpreter") == std::string::npos) return first;
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  last = firstLine(last);
  for (const char* prefix : {"RuntimeError: ", "Exception: "})
    if (last.rfind(prefix, 0) == 0) last = last.substr(std::char_traits<char>::length(prefix));
  return last;
}

std::string shapeString(at::IntArrayRef sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += "\xC3\x97";  // ×
    s += std::to_string(sizes[i]);
  }
  return s;
}

std::string shapeString(const std::vector<int64_t>& sizes) { return shapeString(at::IntArrayRef(sizes)); }

std::string describeOutput(const c10::IValue& v) { return describe(v, 0); }

}  // namespace modelimpl
}  // namespace ev
