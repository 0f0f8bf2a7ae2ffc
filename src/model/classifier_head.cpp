// CAM (Zhou et al. 2016) needs the classifier's weights: it applies to a layer whose output
// goes through global average pooling and one linear layer, nothing else that changes values,
// straight to the logits. Read that structure off the inlined graph.
#include <algorithm>

#include "explain_video/error.hpp"
#include "model/script_model.hpp"
#include "model/torch_text.hpp"

namespace ev {
namespace modelimpl {
namespace {

std::optional<std::vector<int64_t>> constInts(jit::Value* v) {
  if (v->node()->kind() == c10::prim::ListConstruct) {
    std::vector<int64_t> out;
    for (jit::Value* e : v->node()->inputs()) {
      auto iv = jit::toIValue(e);
      if (!iv || !iv->isInt()) return std::nullopt;
      out.push_back(iv->toInt());
    }
    return out;
  }
  auto iv = jit::toIValue(v);
  if (!iv) return std::nullopt;
  if (iv->isInt()) return std::vector<int64_t>{iv->toInt()};
  if (iv->isIntList()) return iv->toIntVector();
  return std::nullopt;
}

// Global average pooling over T, H and W of a 5D tensor.
bool isGlobalAveragePool(jit::Node* n) {
  const std::string kind = n->kind().toQualString();
  if (kind == "aten::adaptive_avg_pool3d") {
    auto size = constInts(n->input(1));
    return size && std::all_of(size->begin(), size->end(), [](int64_t s) { return s == 1; });
  }
  if (kind == "aten::mean" && n->inputs().size() >= 2) {
    auto dims = constInts(n->input(1));
    if (!dims) return false;
    std::vector<int64_t> d = *dims;
    for (int64_t& x : d) x = x < 0 ? x + 5 : x;
    std::sort(d.begin(), d.end());
    return d == std::vector<int64_t>{2, 3, 4};
  }
  return false;
}

// Ops that keep values (reshapes, eval-mode dropout).
bool isValuePreserving(jit::Node* n) {
  static const std::vector<std::string> kinds = {
      "aten::flatten", "aten::view",    "aten::reshape",       "aten::squeeze", "aten::contiguous",
      "aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::alpha_dropout", "aten::clone"};
  const std::string kind = n->kind().toQualString();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

// The single tensor-consuming use of v, or null (several uses, or none).
jit::Node* onlyTensorUse(jit::Value* v, jit::Graph& g, bool* isOutput) {
  jit::Node* use = nullptr;
  *isOutput = false;
  for (const jit::Use& u : v->uses()) {
    if (u.user == g.return_node()) {
      *isOutput = true;
      continue;
    }
    const std::string kind = u.user->kind().toQualString();
    if (kind == "aten::size" || kind == "aten::dim") continue;  // shape queries change nothing
    if (use && use != u.user) return nullptr;
    use = u.user;
  }
  return use;
}

std::string opName(jit::Node* n) {
  std::string s = n->kind().toQualString();
  return s.rfind("aten::", 0) == 0 ? s.substr(6) : s;
}

}  // namespace

ClassifierHead ScriptModel::classifierHead(const std::string& layer) {
  ClassifierHead head;
  std::shared_ptr<jit::Graph> g;
  const int64_t slot = inlinedGraphWithLayer(module_, path_, layer, g);
  if (slot < 0) {
    head.why = "the layer's call was not found";
    return head;
  }
  jit::Value* v = g->outputs().at(static_cast<size_t>(slot));
  // Walk forward from the layer along its only tensor use: [reshapes] GAP [reshapes] linear.
  std::vector<std::string> seen;
  bool pooled = false;
  for (int step = 0; step < 16; ++step) {
    bool returned = false;
    jit::Node* n = onlyTensorUse(v, *g, &returned);
    // The registered extra output (the layer itself) is a graph output too: ignore it.
    if (!n) {
      head.why = v->uses().size() > 2 ? "the output of " + (seen.empty() ? "layer '" + layer + "'" : seen.back()) +
                                             " is used several times"
                                       : "nothing after it reaches the logits";
      break;
    }
    seen.push_back(opName(n));
    if (!pooled && isGlobalAveragePool(n)) {
      pooled = true;
    } else if (isValuePreserving(n)) {
    } else if (pooled && n->kind().toQualString() == std::string("aten::linear")) {
      std::string owner;
      at::Tensor w = parameterOf(module_, *g, n->input(1), &owner);
      if (!w.defined() || w.dim() != 2) {
        head.why = "the linear layer's weight is not a parameter of the model";
        break;
      }
      // The linear's result must be what forward() returns (directly or inside its tuple/dict).
      jit::Value* out = n->output();
      bool toOutput = false;
      for (const jit::Use& u : out->uses()) {
        const std::string k = u.user->kind().toQualString();
        if (u.user == g->return_node() || k == "prim::TupleConstruct" || k == "prim::DictConstruct" ||
            k == "prim::ListConstruct")
          toOutput = true;
        else {
          seen.push_back(opName(u.user));
          toOutput = false;
          break;
        }
      }
      if (!toOutput) {
        head.why = "the linear layer's output goes on to " + seen.back() + " before the logits";
        break;
      }
      head.weight = w.detach();
      head.bias = parameterOf(module_, *g, n->input(2), nullptr);
      if (head.bias.defined()) head.bias = head.bias.detach();
      head.linear = owner;
      return head;
    } else {
      break;
    }
    v = n->output(0);
  }
  std::string chain;
  for (size_t i = 0; i < seen.size() && i < 6; ++i) chain += (i ? ", " : "") + seen[i];
  if (seen.size() > 6) chain += ", ...";
  if (head.why.empty())
    head.why = seen.empty() ? "nothing follows it" : "between it and the logits: " + chain;
  else if (!chain.empty())
    head.why += " (after it: " + chain + ")";
  head.why = "cam needs layer '" + layer +
             "' to be followed by global average pooling and one linear classifier (only flatten/view/dropout "
             "between); " + head.why;
  return head;
}

}  // namespace modelimpl
}  // namespace ev
