#include "model/outputs.hpp"

#include <algorithm>
#include <optional>
#include <sstream>
#include <vector>

#include "explain_video/error.hpp"
#include "model/torch_text.hpp"

namespace ev {
namespace modelimpl {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw Error(ErrorKind::Model, path + ": " + msg);
}

std::vector<std::string> splitDotted(const std::string& s) {
  std::vector<std::string> parts;
  std::istringstream in(s);
  for (std::string p; std::getline(in, p, '.');) parts.push_back(p);
  return parts;
}

std::optional<int64_t> parseIndex(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(s);
}

// The first tensor in a (possibly nested) tuple/list/dict output, or undefined.
at::Tensor firstTensor(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor();
  if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements())
      if (auto t = firstTensor(e); t.defined()) return t;
  } else if (v.isList()) {
    for (const auto& e : v.toListRef())
      if (auto t = firstTensor(e); t.defined()) return t;
  } else if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict())
      if (auto t = firstTensor(kv.value()); t.defined()) return t;
  }
  return {};
}

}  // namespace

at::Tensor selectOutput(const c10::IValue& out, const std::string& selector, const std::string& path) {
  if (selector.empty()) {
    at::Tensor t = firstTensor(out);
    if (!t.defined()) fail(path, "forward() returned no tensor (it returns " + describeOutput(out) + ")");
    return t;
  }
  const c10::IValue* v = &out;
  std::string walked;
  for (const std::string& part : splitDotted(selector)) {
    const std::string here = walked.empty() ? "forward()'s output" : "output '" + walked + "'";
    const c10::IValue* next = nullptr;
    if (v->isTuple() || v->isList()) {
      const size_t n = v->isTuple() ? v->toTupleRef().elements().size() : v->toListRef().size();
      auto idx = parseIndex(part);
      if (!idx || *idx >= static_cast<int64_t>(n))
        fail(path, "output '" + selector + "' does not exist: " + here + " is " + describeOutput(*v) +
                       "; give an index 0.." + std::to_string(static_cast<int64_t>(n) - 1));
      next = v->isTuple() ? &v->toTupleRef().elements()[*idx] : &v->toListRef()[*idx];
    } else if (v->isGenericDict()) {
      std::string keys;
      for (const auto& kv : v->toGenericDict()) {
        if (kv.key().isString() && kv.key().toStringRef() == part) next = &kv.value();
        if (kv.key().isInt() && parseIndex(part) && kv.key().toInt() == *parseIndex(part)) next = &kv.value();
        keys += (keys.empty() ? "" : ", ") +
                (kv.key().isString() ? kv.key().toStringRef() : std::to_string(kv.key().isInt() ? kv.key().toInt() : 0));
      }
      if (!next)
        fail(path, "output '" + selector + "' does not exist: " + here + " is a dict with keys " +
                       (keys.empty() ? "(none)" : keys));
    } else {
      fail(path, "output '" + selector + "' does not exist: " + here + " is " + describeOutput(*v) +
                     ", not a tuple, list or dict");
    }
    v = next;
    walked += (walked.empty() ? "" : ".") + part;
  }
  if (!v->isTensor())
    fail(path, "output '" + selector + "' is " + describeOutput(*v) + ", not a tensor; select one of its elements");
  return v->toTensor();
}

at::Tensor logitsOf(const c10::IValue& out, const std::string& selector, const std::string& path, int64_t batch) {
  const at::Tensor t = selectOutput(out, selector, path);
  if (t.dim() == 2 && t.size(0) == batch) return t;
  if (t.dim() == 1 && batch == 1) return t.unsqueeze(0);
  const std::string which = selector.empty() ? "forward() output" : "output '" + selector + "'";
  const std::string hint =
      out.isTensor() ? "" : " (forward() returns " + describeOutput(out) + "; choose the logits with --output)";
  fail(path, which + " is " + std::to_string(t.dim()) + "D (" + shapeString(t.sizes()) + ") for " +
                 std::to_string(batch) + " clip" + (batch == 1 ? "" : "s") + ", expected logits " +
                 std::to_string(batch) + "\xC3\x97K" + (batch == 1 ? " or K" : "") + hint);
}

}  // namespace modelimpl
}  // namespace ev
