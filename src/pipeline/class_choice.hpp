// Which classes a run explains: --class as ids, label names, a list of them, or topK.
#pragma once
#include <string>
#include <vector>

namespace ev {

struct ClassChoice {
  std::vector<int> fixed;  // given ids (in order); empty: the topK of the mean logits
  int topK = 1;

  bool isFixed() const { return !fixed.empty(); }
  // The classes whose maps a window must keep, from its logits: the fixed ones; else every
  // class of a small head (up to 10) or the window's own top max(5, K) (known only at the end
  // which classes win, windows that missed one are re-run).
  std::vector<int> candidates(const std::vector<float>& logits) const;
  // The explained classes once the video's mean logits are known; *clipped is set when topK
  // asked for more classes than the model has.
  std::vector<int> resolve(const std::vector<float>& meanLogits, bool* clipped) const;
};

// "" (top-1), "3", "bounce", "3,bounce", "top3". Errors: Model (exit code 4, as an id beyond the
// model's classes) naming --class: a negative id, a name without --labels, a name not in the
// labels file, a repeated class, top0, a list naming no class.
ClassChoice parseClassChoice(const std::string& spec, const std::vector<std::string>& labels,
                             const std::string& labelsFile);

// The K largest values' indices, largest first, ties to the lower index.
std::vector<int> topK(const std::vector<float>& v, size_t k);

}  // namespace ev
