// Shared pieces of the perturbation methods: masking in pixel space, and layer maps put onto the
// input's voxels with the heatmap stage's cell geometry.
#include "cam/method.hpp"
#include "explain_video/heatmap.hpp"

namespace ev {
namespace camimpl {
namespace {

// (to × from) linear interpolation from cells centred at `centres` (even tiling when they do not
// hold `from` entries) to the samples 0..to-1: heatmap.hpp's linearTap.
at::Tensor interpolation(int64_t from, int64_t to, const std::vector<double>& given) {
  const std::vector<double> c = static_cast<int64_t>(given.size()) == from ? given : evenCellCentres(from, to);
  at::Tensor m = at::zeros({to, from}, at::kDouble);
  auto a = m.accessor<double, 2>();
  for (int64_t j = 0; j < to; ++j) {
    const LinearTap t = linearTap(c, static_cast<double>(j));
    a[j][t.i0] += 1 - t.w1;
    a[j][t.i1] += t.w1;
  }
  return m;
}

}  // namespace

at::Tensor maskInputs(const at::Tensor& input, const at::Tensor& maps, const std::array<double, 3>& black) {
  const at::Tensor L = maps.to(input.options()).unsqueeze(1);  // M×1×T×H×W
  const at::Tensor z = at::tensor(std::vector<double>(black.begin(), black.end()), input.options()).view({1, 3, 1, 1, 1});
  return L * input + (1 - L) * z;
}

at::Tensor upsampleToInput(const at::Tensor& maps, int64_t T, int64_t H, int64_t W, const CellCentres& centres) {
  const auto opts = maps.options();
  const at::Tensor mt = interpolation(maps.size(1), T, centres.t).to(opts);
  const at::Tensor mh = interpolation(maps.size(2), H, centres.h).to(opts);
  const at::Tensor mw = interpolation(maps.size(3), W, centres.w).to(opts);
  at::Tensor x = at::matmul(maps, mw.t());                                                   // M×T'×H'×W
  x = at::matmul(mh, x);                                                                     // M×T'×H×W
  return at::matmul(x.permute({0, 2, 3, 1}), mt.t()).permute({0, 3, 1, 2}).contiguous();    // M×T×H×W
}

std::vector<int64_t> scoredChannels(const at::Tensor& act, int scoreChannels) {
  const int64_t C = act.size(0);
  if (scoreChannels > 0 && scoreChannels < C) {
    const at::Tensor top = std::get<1>(act.mean({1, 2, 3}).topk(scoreChannels)).contiguous();
    return std::vector<int64_t>(top.data_ptr<int64_t>(), top.data_ptr<int64_t>() + top.numel());
  }
  std::vector<int64_t> all(static_cast<size_t>(C));
  for (int64_t k = 0; k < C; ++k) all[static_cast<size_t>(k)] = k;
  return all;
}

}  // namespace camimpl
}  // namespace ev
