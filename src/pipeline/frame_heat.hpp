// From the panel store (one map per panel and window) to every frame's heatmaps on the source
// frame: upsampled between the layer's cell centres, averaged over the windows that cover the
// frame, put back through the inverse of crop and resize. Streams: a frame leaves as soon as
// no later window can reach it. Used by the statistics pass and the render pass.
#pragma once
#include <map>
#include <numeric>
#include <vector>

#include "explain_video/explain.hpp"
#include "explain_video/heatmap.hpp"
#include "pipeline/window_store.hpp"

namespace ev {

class FrameHeatSource {
 public:
  // The store must hold panel records (maps[p], scores[p] per panel p); it is rewound.
  FrameHeatSource(WindowStore& store, size_t panels, const WindowParams& win, const PreprocessParams& pre,
                  Normalize norm, const CellCentres& centres);

  // Next frame in order: its index, each panel's heatmap (source resolution, not yet
  // normalised over the video) and the mean class probability of the windows covering it.
  bool next(int64_t& frame, std::vector<std::vector<float>>& heat, std::vector<double>& prob);

 private:
  void addPending();
  HeatmapAccumulator& acc(size_t panel, int tile) { return acc_.at(panel * tiles_ + static_cast<size_t>(tile)); }

  WindowStore& store_;
  size_t panels_;
  int clipLen_;
  int frameStep_;
  PreprocessParams pre_;
  Normalize norm_;
  CellCentres centres_;
  std::vector<int64_t> cellsH_, cellsW_;  // per panel: its maps' H'×W'
  // acc_[p·tiles + tile]: with --spatial tiles every crop is accumulated on its own, then put
  // back onto the frame with its own geometry and averaged where crops overlap, each weighted
  // by its distance to its own edge (weight_), so that no seam shows where a crop ends.
  size_t tiles_ = 1;
  std::vector<HeatmapAccumulator> acc_;
  std::vector<CropGeometry> geometry_;
  std::vector<std::vector<float>> weight_;  // per tile: its weight at each source pixel
  std::vector<float> weightSum_;
  WindowRecord pending_;
  bool more_ = false;
  std::map<int64_t, std::pair<std::vector<double>, int>> probs_;  // per frame: Σ per panel, windows
};

}  // namespace ev
