// A dense float array with a shape, row-major (last index fastest). The plain-data carrier
// between stages, so public headers need no torch types.
#pragma once
#include <cstdint>
#include <numeric>
#include <functional>
#include <vector>

namespace ev {

struct Volume {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Volume() = default;
  explicit Volume(std::vector<int64_t> s, float fill = 0.f) : shape(std::move(s)), data(numel(shape), fill) {}

  static size_t numel(const std::vector<int64_t>& s) {
    return static_cast<size_t>(std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>()));
  }
  size_t size() const { return data.size(); }
  int64_t dim(size_t i) const { return shape.at(i); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
};

// Where the cells of a layer's output sit in the model input, per axis (T, H, W): the input
// coordinate (frame index or crop pixel; sample centres at integers) of every cell's centre, in
// increasing order. An empty axis means the cells tile the input evenly (PyTorch's
// align_corners=False convention), the assumption when the geometry is unknown.
struct CellCentres {
  std::vector<double> t, h, w;
  bool empty() const { return t.empty() && h.empty() && w.empty(); }
};

}  // namespace ev
