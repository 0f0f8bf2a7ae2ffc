#include "pipeline/class_choice.hpp"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "explain_video/error.hpp"

namespace ev {
namespace {

// A backward pass through the head is cheap next to the forward pass: small heads keep the
// maps of every class, larger ones a window's likely winners.
constexpr size_t kAllClassesUpTo = 10;
constexpr size_t kCandidatesPerWindow = 5;

bool isNumber(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// Every problem with --class is a class problem (exit code 4, as an out-of-range id is).
Error classError(const std::string& what) { return Error(ErrorKind::Model, what); }

// "(names: a, b, c)" for a short labels file, "(8 names)" for a long one.
std::string namesHint(const std::vector<std::string>& labels) {
  if (labels.size() > 20) return " (" + std::to_string(labels.size()) + " names)";
  std::string s;
  for (const std::string& l : labels) s += (s.empty() ? "" : ", ") + l;
  return " (names: " + s + ")";
}

}  // namespace

std::vector<int> topK(const std::vector<float>& v, size_t k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(k), idx.end(),
                    [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

std::vector<int> ClassChoice::candidates(const std::vector<float>& logits) const {
  if (isFixed()) return fixed;
  if (logits.size() <= kAllClassesUpTo) return ev::topK(logits, logits.size());
  return ev::topK(logits, std::max(kCandidatesPerWindow, static_cast<size_t>(topK)));
}

std::vector<int> ClassChoice::resolve(const std::vector<float>& meanLogits, bool* clipped) const {
  if (clipped) *clipped = !isFixed() && static_cast<size_t>(topK) > meanLogits.size();
  if (isFixed()) return fixed;
  return ev::topK(meanLogits, static_cast<size_t>(topK));
}

ClassChoice parseClassChoice(const std::string& spec, const std::vector<std::string>& labels,
                             const std::string& labelsFile) {
  ClassChoice c;
  if (spec.empty()) return c;
  if (spec.rfind("top", 0) == 0 && spec.find(',') == std::string::npos && isNumber(spec.substr(3)) &&
      std::find(labels.begin(), labels.end(), spec) == labels.end()) {
    const std::string n = spec.substr(3);
    c.topK = n.size() > 6 ? 0 : std::stoi(n);
    if (c.topK < 1 || c.topK > 100000) throw classError("--class " + spec + ": K must be between 1 and 100000");
    return c;
  }
  std::istringstream in(spec);
  for (std::string s; std::getline(in, s, ',');) {
    s.erase(0, s.find_first_not_of(" \t"));
    s.erase(s.find_last_not_of(" \t") + 1);
    if (s.empty()) continue;
    int id = -1;
    if (s[0] == '-' && isNumber(s.substr(1)) && std::find(labels.begin(), labels.end(), s) == labels.end())
      throw classError("--class " + s + ": class id out of range: ids start at 0");
    if (isNumber(s)) {
      if (s.size() > 9) throw classError("--class " + s + ": class id out of range");
      id = std::stoi(s);
    } else {
      if (labels.empty())
        throw classError("--class '" + s + "' is a name: give --labels FILE to look it up, or a class id");
      const auto it = std::find(labels.begin(), labels.end(), s);
      if (it == labels.end()) throw classError("--class '" + s + "' is not a name in " + labelsFile + namesHint(labels));
      id = static_cast<int>(it - labels.begin());
    }
    if (std::find(c.fixed.begin(), c.fixed.end(), id) != c.fixed.end())
      throw classError("--class lists class " + std::to_string(id) + " twice");
    c.fixed.push_back(id);
  }
  if (c.fixed.empty()) throw classError("--class '" + spec + "' names no class");
  return c;
}

}  // namespace ev
