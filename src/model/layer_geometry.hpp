// Where an inner layer's cells sit in the model input: the convolutions and poolings between
// the input and the layer, read from the TorchScript graph and composed per axis. Needed because
// a layer's cells do not always tile the input evenly: C3D's pool5 pads by one cell (7 → 4 rows,
// kernel 2, stride 2, padding 1), so its cells are centred at 7.5/31.5/63.5/95.5 px of a
// 112-pixel crop, not at the 13.5/41.5/69.5/97.5 an even tiling assumes.
//
// Private header: includes torch. Implemented in layer_geometry.cpp; Model::cellCentres uses it.
#pragma once
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "explain_video/volume.hpp"

namespace ev {
namespace modelimpl {

// Walks `graph` (fully inlined, so that convolutions and poolings are aten ops) back from
// `target` to the graph's input (inputs()[1]) along each op's first tensor input, then composes
// the ops forward from an input of `inputShape` (N×C×T×H×W):
//   convolution: cell j is centred where its kernel is centred, j·s − p + d·(k−1)/2 (zero
//     padding keeps the kernel's layout);
//   max/avg pooling: cell j is centred at the mean centre of the input cells its window covers
//     that are not padding (padding never wins a max);
//   element-wise ops, batch norm, dropout, residual adds, channel concatenation: unchanged.
//   padding (F.pad: aten::pad, aten::constant_pad_nd), as Keras-style "same" layers do it: merged
//     into the convolution or pooling it feeds as asymmetric padding (padded positions never
//     count for a pooled cell's centre), or on its own a shift of the cells;
// `weightOf` resolves a convolution's weight value to its tensor (kernel size); `constOf` a
// value to a constant (a module attribute read by prim::GetAttr: kernel sizes kept on the module).
// Any other op on the path (reshapes, resampling, adaptive pooling, transposed convolution,
// control flow) makes the result empty and names the op in *why.
CellCentres cellCentresOf(torch::jit::Graph& graph, torch::jit::Value* target,
                          const std::function<at::Tensor(torch::jit::Value*)>& weightOf,
                          const std::vector<int64_t>& inputShape, std::string* why,
                          const std::function<std::optional<c10::IValue>(torch::jit::Value*)>& constOf = {});

}  // namespace modelimpl
}  // namespace ev
