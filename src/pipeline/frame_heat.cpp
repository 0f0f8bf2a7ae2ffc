#include "pipeline/frame_heat.hpp"

#include <algorithm>
#include <limits>

#include "explain_video/error.hpp"

namespace ev {

FrameHeatSource::FrameHeatSource(WindowStore& store, size_t panels, const WindowParams& win,
                                 const PreprocessParams& pre, Normalize norm, const CellCentres& centres)
    : store_(store), panels_(panels), clipLen_(win.clipLen), pre_(pre), norm_(norm), centres_(centres),
      acc_(panels, HeatmapAccumulator(pre.cropHeight, pre.cropWidth)) {
  store_.rewind();
  more_ = store_.next(pending_);
}

bool FrameHeatSource::next(int64_t& frame, std::vector<std::vector<float>>& heat, std::vector<double>& prob) {
  heat.resize(panels_);
  std::vector<float> cropMap;
  for (;;) {
    const int64_t frontier = more_ ? pending_.frames.front() : std::numeric_limits<int64_t>::max();
    // Every panel holds the same frames: they complete together.
    if (acc_.empty() || acc_[0].popComplete(frontier, frame, cropMap)) break;
    if (!more_) return false;
    addPending();
    more_ = store_.next(pending_);
  }
  if (acc_.empty()) return false;
  heat[0] = uncropToSource(cropMap.data(), geometry_);
  for (size_t p = 1; p < panels_; ++p) {
    int64_t same = -1;
    if (!acc_[p].popComplete(std::numeric_limits<int64_t>::max(), same, cropMap) || same != frame)
      throw Error(ErrorKind::Internal, "panels out of step at frame " + std::to_string(frame));
    heat[p] = uncropToSource(cropMap.data(), geometry_);
  }
  auto it = probs_.find(frame);
  prob.resize(panels_);
  for (size_t p = 0; p < panels_; ++p) prob[p] = it->second.first[p] / it->second.second;
  probs_.erase(it);
  return true;
}

void FrameHeatSource::addPending() {
  if (pending_.maps.size() != panels_ || pending_.scores.size() != panels_)
    throw Error(ErrorKind::Internal, "a window record without one map per panel");
  for (size_t p = 0; p < panels_; ++p) {
    Volume cam = pending_.maps[p];
    if (norm_ == Normalize::Window) {
      const float m = *std::max_element(cam.data.begin(), cam.data.end());
      for (float& v : cam.data) v = m > 0 ? v / m : 0.f;
    }
    acc_[p].add(pending_.frames, upsampleTrilinear(cam, clipLen_, pre_.cropHeight, pre_.cropWidth, centres_));
  }
  geometry_ = pending_.geometry;
  for (int64_t f : pending_.frames) {
    auto& s = probs_[f];
    if (s.first.empty()) s.first.assign(panels_, 0.0);
    for (size_t p = 0; p < panels_; ++p) s.first[p] += pending_.scores[p];
    s.second += 1;
  }
}

}  // namespace ev
