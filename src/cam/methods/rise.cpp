// RISE (Petsiuk et al., BMVC 2018), extended to space-time. M random binary masks on a coarse
// t×h×w grid (each cell kept with probability p = 0.5) are upsampled trilinearly to
// (t+1)·Ct × (h+1)·Ch × (w+1)·Cw (C = the cell size, ⌈T/t⌉ …) and cut to the window's T×H×W
// at a random shift in [0, C) per axis. Each mask M_i masks the input in pixel space (the rule
// of eval and scorecam, black outside) and is scored: S_i = softmax probability of class c.
// The paper's saliency is Σ_i S_i·M_i / (M·p); we subtract its mean score S̄ = Σ_i S_i / M
// from every S_i (map = relu(Σ_i (S_i − S̄)·M_i / (M·p))): in expectation that only removes
// the constant S̄ (E[M_i(x)] = p everywhere), but it removes the sampling noise of each voxel's
// mask coverage, which otherwise dominates when the scores vary by a few per cent (measured on
// the red-square detector: with the paper's estimator 4 of 20 frames peaked on the square at
// 250 masks, 16 of 20 at 1,000; with this one 20 of 20 at 250). The map is on the input's own voxels (no layer), one forward pass per
// mask serves every class of the window. Masks are drawn from a generator seeded by --seed,
// the window's index and the mask's index, so the same seed gives the same map at any batch size.
#include <algorithm>
#include <map>
#include <set>

#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

// splitmix64: a small, fast, well-mixed generator, the same on every platform and device.
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

class Rise : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"rise",
                                 "score-weighted mean of random coarse space-time masks (scores centred), at input resolution",
                                 "Petsiuk et al., BMVC 2018",
                                 kNeedModelScores,
                                 "M forward passes per window (--rise-masks M, default 1000)",
                                 false,
                                 true};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    const int64_t items = static_cast<int64_t>(in.classes.size());
    const int64_t dims[3] = {in.input.size(2), in.input.size(3), in.input.size(4)};
    int64_t grid[3], cell[3], up[3];
    for (int d = 0; d < 3; ++d) {
      grid[d] = std::clamp<int64_t>(in.params.riseGrid[d], 1, dims[d]);
      cell[d] = (dims[d] + grid[d] - 1) / grid[d];
      up[d] = (grid[d] + 1) * cell[d];
    }
    const int64_t masks = std::max(1, in.params.riseMasks);
    const double keep = in.params.riseKeep;
    const auto dbl = at::TensorOptions().dtype(at::kDouble);
    at::Tensor out = at::zeros({items, dims[0], dims[1], dims[2]}, dbl);

    std::map<int64_t, std::vector<int64_t>> byWindow;
    for (int64_t n = 0; n < items; ++n) byWindow[in.windows[static_cast<size_t>(n)]].push_back(n);
    for (const auto& [w, members] : byWindow) {
      std::set<int> classSet;
      for (int64_t n : members) classSet.insert(in.classes[static_cast<size_t>(n)]);
      const std::vector<int> classes(classSet.begin(), classSet.end());
      const at::Tensor cls = at::tensor(std::vector<int64_t>(classes.begin(), classes.end()), at::kLong);
      const at::Tensor x = in.input[members.front()].unsqueeze(0);  // 1×3×T×H×W
      at::Tensor sumSM = at::zeros({static_cast<int64_t>(classes.size()), dims[0], dims[1], dims[2]}, dbl);
      at::Tensor sumM = at::zeros({dims[0], dims[1], dims[2]}, dbl);
      at::Tensor sumS = at::zeros({static_cast<int64_t>(classes.size())}, dbl);
      for (int64_t i0 = 0; i0 < masks; i0 += in.batch) {
        const int64_t b = std::min<int64_t>(in.batch, masks - i0);
        at::Tensor coarse = at::empty({b, 1, grid[0], grid[1], grid[2]}, dbl);
        double* c = coarse.data_ptr<double>();
        std::vector<std::array<int64_t, 3>> shift(static_cast<size_t>(b));
        for (int64_t j = 0; j < b; ++j) {
          // Mask i is drawn from (seed, window, i) alone: the same masks at any batch size.
          SplitMix rng{in.params.seed * 0x100000001b3ull ^ (static_cast<uint64_t>(w) << 32) ^ static_cast<uint64_t>(i0 + j)};
          rng.next();
          for (int64_t k = 0; k < grid[0] * grid[1] * grid[2]; ++k) *c++ = rng.uniform() < keep ? 1.0 : 0.0;
          for (int d = 0; d < 3; ++d) shift[static_cast<size_t>(j)][static_cast<size_t>(d)] = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(cell[d]));
        }
        const at::Tensor smooth = at::upsample_trilinear3d(coarse, {up[0], up[1], up[2]}, /*align_corners=*/false);
        std::vector<at::Tensor> cut;
        for (int64_t j = 0; j < b; ++j) {
          const auto& s = shift[static_cast<size_t>(j)];
          cut.push_back(smooth[j][0].slice(0, s[0], s[0] + dims[0]).slice(1, s[1], s[1] + dims[1]).slice(2, s[2], s[2] + dims[2]));
        }
        const at::Tensor m = at::stack(cut);  // b×T×H×W
        const at::Tensor p = at::softmax(in.logitsOf(maskInputs(x, m, in.black)).to(at::kDouble).cpu(), 1).index_select(1, cls);  // b×K'
        sumSM += at::matmul(p.t(), m.reshape({b, -1})).view(sumSM.sizes());
        sumM += m.sum(0);
        sumS += p.sum(0);
      }
      const at::Tensor meanS = sumS / static_cast<double>(masks);
      const at::Tensor sal = at::relu((sumSM - meanS.view({-1, 1, 1, 1}) * sumM) / (static_cast<double>(masks) * keep));
      for (int64_t n : members) {
        const auto row = std::find(classes.begin(), classes.end(), in.classes[static_cast<size_t>(n)]) - classes.begin();
        out[n] = sal[row];
      }
    }
    return out.to(in.activation.device());
  }
};

}  // namespace

const Method& rise() {
  static const Rise m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
