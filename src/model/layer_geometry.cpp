#include "model/layer_geometry.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <set>

namespace ev {
namespace modelimpl {
namespace {

namespace jit = torch::jit;

// One spatial axis of a convolution or pooling; padding pl before and pr after (F.pad merged in
// may make them differ).
struct AxisOp {
  int64_t k = 1, s = 1, p = 0, d = 1;
  bool ceil = false;
  bool pool = false;
  int64_t pl = 0, pr = 0;
};

// Constants the walk reads: toIValue, else the caller's resolver (module attributes).
thread_local const std::function<std::optional<c10::IValue>(jit::Value*)>* g_constOf = nullptr;
std::optional<c10::IValue> constant(jit::Value* v) {
  if (auto iv = jit::toIValue(v)) return iv;
  if (g_constOf && *g_constOf) return (*g_constOf)(v);
  return std::nullopt;
}
// An op acting on the last axes.size() of (T, H, W).
using Op = std::vector<AxisOp>;

// A constant int or int list argument (a constant, or a ListConstruct of constants, as
// scripted modules pass their kernel sizes and strides); a single value applies to all axes.
std::optional<std::vector<int64_t>> intList(jit::Value* v, size_t nd) {
  std::vector<int64_t> out;
  if (v->node()->kind() == c10::prim::ListConstruct) {
    for (jit::Value* e : v->node()->inputs()) {
      auto iv = constant(e);
      if (!iv || !iv->isInt()) return std::nullopt;
      out.push_back(iv->toInt());
    }
  } else {
    auto iv = constant(v);
    if (!iv) return std::nullopt;
    if (iv->isInt()) out.assign(nd, iv->toInt());
    else if (iv->isIntList()) out = iv->toIntVector();
    else if (iv->isTuple()) {
      for (const c10::IValue& e : iv->toTupleRef().elements()) {
        if (!e.isInt()) return std::nullopt;
        out.push_back(e.toInt());
      }
    } else return std::nullopt;
  }
  if (out.size() == 1 && nd > 1) out.assign(nd, out[0]);
  return out;
}

std::optional<bool> boolOf(jit::Value* v) {
  auto iv = constant(v);
  if (!iv || !iv->isBool()) return std::nullopt;
  return iv->toBool();
}

jit::Value* firstTensorInput(jit::Node* n) {
  for (jit::Value* in : n->inputs())
    if (in->type()->kind() == c10::TypeKind::TensorType) return in;
  return nullptr;
}

// Ops that keep every cell where it is (their first tensor input carries the geometry).
const std::set<std::string>& passThrough() {
  static const std::set<std::string> ops{
      "aten::relu", "aten::relu_", "aten::relu6", "aten::leaky_relu", "aten::leaky_relu_", "aten::hardtanh",
      "aten::hardtanh_", "aten::elu", "aten::elu_", "aten::gelu", "aten::silu", "aten::silu_", "aten::sigmoid",
      "aten::sigmoid_", "aten::tanh", "aten::tanh_", "aten::hardswish", "aten::hardswish_", "aten::hardsigmoid",
      "aten::mish", "aten::batch_norm", "aten::instance_norm", "aten::group_norm", "aten::dropout", "aten::dropout_",
      "aten::feature_dropout", "aten::alpha_dropout", "aten::contiguous", "aten::clone", "aten::add", "aten::add_",
      "aten::sub", "aten::sub_", "aten::mul", "aten::mul_", "aten::div", "aten::div_", "aten::detach"};
  return ops;
}

std::optional<Op> convOp(jit::Node* n, const std::string& kind, const std::function<at::Tensor(jit::Value*)>& weightOf,
                         std::string* why) {
  const bool generic = kind == "aten::_convolution" || kind == "aten::convolution";
  if (generic) {
    auto transposed = boolOf(n->input(6));
    if (!transposed || *transposed) {
      *why = kind + " (transposed)";
      return std::nullopt;
    }
  }
  const at::Tensor w = weightOf(n->input(1));
  if (!w.defined() || w.dim() < 3) {
    *why = kind + " (weight not found)";
    return std::nullopt;
  }
  const size_t nd = static_cast<size_t>(w.dim() - 2);
  auto stride = intList(n->input(3), nd), dilation = intList(n->input(5), nd);
  std::optional<std::vector<int64_t>> padding = intList(n->input(4), nd);
  if (!padding) {  // padding="same" / "valid"
    auto iv = jit::toIValue(n->input(4));
    if (iv && iv->isString() && iv->toStringRef() == "valid") padding = std::vector<int64_t>(nd, 0);
    if (iv && iv->isString() && iv->toStringRef() == "same" && dilation) {
      padding = std::vector<int64_t>(nd);
      for (size_t i = 0; i < nd; ++i) (*padding)[i] = (*dilation)[i] * (w.size(2 + i) - 1) / 2;
    }
  }
  if (!stride || !padding || !dilation || stride->size() != nd || padding->size() != nd || dilation->size() != nd) {
    *why = kind + " (non-constant arguments)";
    return std::nullopt;
  }
  Op op(nd);
  for (size_t i = 0; i < nd; ++i)
    op[i] = AxisOp{w.size(2 + i), (*stride)[i], (*padding)[i], (*dilation)[i], false, false, (*padding)[i], (*padding)[i]};
  return op;
}

std::optional<Op> poolOp(jit::Node* n, const std::string& kind, std::string* why) {
  const size_t nd = static_cast<size_t>(kind.back() == 'd' ? kind[kind.size() - 2] - '0' : 0);
  const bool isMax = kind.rfind("aten::max_pool", 0) == 0;
  auto kernel = intList(n->input(1), nd);
  auto stride = intList(n->input(2), nd);
  auto padding = intList(n->input(3), nd);
  std::optional<std::vector<int64_t>> dilation = std::vector<int64_t>(nd, 1);
  std::optional<bool> ceil;
  if (isMax) {
    dilation = intList(n->input(4), nd);
    ceil = boolOf(n->input(5));
  } else {
    ceil = boolOf(n->input(4));
  }
  if (kernel && stride && stride->empty()) stride = kernel;  // stride defaults to the kernel
  if (!kernel || !stride || !padding || !dilation || !ceil || kernel->size() != nd || stride->size() != nd ||
      padding->size() != nd || dilation->size() != nd) {
    *why = kind + " (non-constant arguments)";
    return std::nullopt;
  }
  Op op(nd);
  for (size_t i = 0; i < nd; ++i)
    op[i] = AxisOp{(*kernel)[i], (*stride)[i], (*padding)[i], (*dilation)[i], *ceil, true, (*padding)[i], (*padding)[i]};
  return op;
}

// Centre at fractional index x of an axis whose cells are centred at c (linear, extrapolated
// with the spacing of the nearest pair; spacing 1 for a single cell).
double centreAt(const std::vector<double>& c, double x) {
  const int64_t n = static_cast<int64_t>(c.size());
  if (n == 1) return c[0] + x;
  int64_t i = static_cast<int64_t>(std::floor(x));
  i = std::max<int64_t>(0, std::min<int64_t>(i, n - 2));
  return c[i] + (x - i) * (c[i + 1] - c[i]);
}

// Applies one axis op; false if the axis is too short for the kernel.
bool applyAxis(const AxisOp& o, std::vector<double>& c) {
  const int64_t n = static_cast<int64_t>(c.size());
  const int64_t span = n + o.pl + o.pr - o.d * (o.k - 1) - 1;
  if (span < 0 || o.s <= 0) return false;
  int64_t m = (o.ceil ? (span + o.s - 1) / o.s : span / o.s) + 1;
  if (o.ceil && (m - 1) * o.s >= n + o.pl) --m;  // PyTorch: the last window must start inside
  std::vector<double> out(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) {
    const int64_t first = j * o.s - o.pl;
    if (o.pool) {
      double sum = 0;
      int count = 0;
      for (int64_t t = 0; t < o.k; ++t) {
        const int64_t idx = first + t * o.d;
        if (idx >= 0 && idx < n) {
          sum += c[idx];
          ++count;
        }
      }
      out[j] = count ? sum / count : centreAt(c, first + o.d * (o.k - 1) / 2.0);
    } else {
      out[j] = centreAt(c, first + o.d * (o.k - 1) / 2.0);
    }
  }
  c = std::move(out);
  return true;
}

}  // namespace

CellCentres cellCentresOf(jit::Graph& graph, jit::Value* target, const std::function<at::Tensor(jit::Value*)>& weightOf,
                          const std::vector<int64_t>& inputShape, std::string* why,
                          const std::function<std::optional<c10::IValue>(jit::Value*)>& constOf) {
  g_constOf = &constOf;
  struct Reset {
    ~Reset() { g_constOf = nullptr; }
  } reset;
  std::string reason;
  if (!why) why = &reason;
  why->clear();
  if (inputShape.size() != 5 || graph.inputs().size() < 2) {
    *why = "input is not N×C×T×H×W";
    return {};
  }
  jit::Value* input = graph.inputs().at(1);
  std::vector<Op> ops;  // from the target back to the input
  jit::Value* opInput = nullptr;  // the input of ops.back()
  std::string consumer = "the layer";
  for (jit::Value* v = target; v != input;) {
    if (!v) {
      *why = "the layer does not depend on the input";
      return {};
    }
    jit::Node* n = v->node();
    const std::string kind = n->kind().toQualString();
    const std::string feeding = consumer;
    consumer = kind;
    std::optional<Op> op;
    if (kind == "aten::conv1d" || kind == "aten::conv2d" || kind == "aten::conv3d" || kind == "aten::_convolution" ||
        kind == "aten::convolution") {
      if (!(op = convOp(n, kind, weightOf, why))) return {};
    } else if (kind == "aten::max_pool1d" || kind == "aten::max_pool2d" || kind == "aten::max_pool3d" ||
               kind == "aten::max_pool1d_with_indices" || kind == "aten::max_pool2d_with_indices" ||
               kind == "aten::max_pool3d_with_indices" || kind == "aten::avg_pool1d" || kind == "aten::avg_pool2d" ||
               kind == "aten::avg_pool3d") {
      const std::string base = kind.substr(0, kind.find("_with_indices"));
      if (!(op = poolOp(n, base, why))) return {};
    } else if (kind == "aten::cat") {
      auto dim = jit::toIValue(n->input(1));
      jit::Node* list = n->input(0)->node();
      if (!dim || !dim->isInt() || dim->toInt() != 1 || list->kind() != c10::prim::ListConstruct || list->inputs().empty()) {
        *why = "aten::cat (not along channels)";
        return {};
      }
      v = list->input(0);
      continue;
    } else if (kind == "aten::pad" || kind == "aten::constant_pad_nd") {
      // (left, right) pairs from the last axis backward; merged into the op this pad feeds
      // when there is one (the usual "same" padding), else a shift of its own.
      auto pads = intList(n->input(1), 0);
      if (!pads || pads->empty() || pads->size() % 2 != 0 || pads->size() > 6) {
        *why = kind + " (non-constant or more than 3 axes of padding)";
        return {};
      }
      const size_t m = pads->size() / 2;
      const bool feedsOp = !ops.empty() && feeding != "the layer" && opInput == v;
      if (!feedsOp) {
        ops.push_back(Op(m, AxisOp{1, 1, 0, 1, false, false, 0, 0}));
      } else if (ops.back().size() < m) {
        *why = kind + " (pads more axes than the op it feeds)";
        return {};
      }
      Op& o = ops.back();
      for (size_t i = 0; i < m; ++i) {
        AxisOp& a = o[o.size() - 1 - i];  // pads[2i], pads[2i+1]: the i-th axis from the last
        a.pl += (*pads)[2 * i];
        a.pr += (*pads)[2 * i + 1];
      }
      v = n->input(0);
      continue;
    } else if (passThrough().count(kind)) {
      v = firstTensorInput(n);
      continue;
    } else {
      *why = kind + " (feeding " + feeding + ")";
      return {};
    }
    ops.push_back(*op);
    v = opInput = n->input(0);
  }
  std::array<std::vector<double>, 3> c;
  for (int a = 0; a < 3; ++a) {
    c[a].resize(static_cast<size_t>(inputShape[2 + a]));
    for (size_t i = 0; i < c[a].size(); ++i) c[a][i] = static_cast<double>(i);
  }
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    const size_t nd = it->size();
    if (nd > 3) {
      *why = "a convolution or pooling over more than 3 axes";
      return {};
    }
    for (size_t i = 0; i < nd; ++i)
      if (!applyAxis((*it)[i], c[3 - nd + i])) {
        *why = "a kernel larger than its (padded) input";
        return {};
      }
  }
  return CellCentres{c[0], c[1], c[2]};
}

}  // namespace modelimpl
}  // namespace ev
