#include "pipeline/frame_heat.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>

#include "explain_video/error.hpp"

namespace ev {

FrameHeatSource::FrameHeatSource(WindowStore& store, size_t panels, const WindowParams& win,
                                 const PreprocessParams& pre, Normalize norm, const CellCentres& centres)
    : store_(store), panels_(panels), clipLen_(win.clipLen), frameStep_(win.frameStep), pre_(pre), norm_(norm), centres_(centres) {
  store_.rewind();
  more_ = store_.next(pending_);
  // Accumulated per frame on each panel's own H'×W' cells (upsampling is linear, so the mean of
  // the upsampled windows is the upsampled mean): one spatial upsampling per frame, not per
  // window and time step. A map at input resolution (rise) has the crop's size.
  cellsH_.assign(panels, 1);
  cellsW_.assign(panels, 1);
  for (size_t p = 0; more_ && p < panels && p < pending_.maps.size(); ++p)
    if (pending_.maps[p].shape.size() == 3) {
      cellsH_[p] = pending_.maps[p].shape[1];
      cellsW_[p] = pending_.maps[p].shape[2];
    }
  if (more_) {
    const CropGeometry& g = pending_.geometry;
    geometry_ = cropGeometries(g.sourceWidth, g.sourceHeight, pre_);
    tiles_ = geometry_.size();
    if (tiles_ > 1) {
      // A tent in crop pixels: 0.5 at the crop's edge pixels, rising by 1 per pixel inward.
      std::vector<float> tent(static_cast<size_t>(pre_.cropWidth) * pre_.cropHeight);
      for (int y = 0; y < pre_.cropHeight; ++y)
        for (int x = 0; x < pre_.cropWidth; ++x)
          tent[static_cast<size_t>(y) * pre_.cropWidth + x] =
              std::min({x + 0.5f, pre_.cropWidth - x - 0.5f, y + 0.5f, pre_.cropHeight - y - 0.5f});
      weightSum_.assign(static_cast<size_t>(g.sourceWidth) * g.sourceHeight, 0.f);
      for (const CropGeometry& t : geometry_) {
        weight_.push_back(uncropToSource(tent.data(), t));
        for (size_t i = 0; i < weightSum_.size(); ++i) weightSum_[i] += weight_.back()[i];
      }
    }
  }
  for (size_t p = 0; p < panels; ++p)
    for (size_t t = 0; t < tiles_; ++t) acc_.emplace_back(static_cast<int>(cellsH_[p]), static_cast<int>(cellsW_[p]));
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
  std::vector<std::vector<float>> crop(panels_ * tiles_);
  crop[0] = std::move(cropMap);
  for (size_t i = 1; i < acc_.size(); ++i) {
    int64_t same = -1;
    if (!acc_[i].popComplete(std::numeric_limits<int64_t>::max(), same, crop[i]) || same != frame)
      throw Error(ErrorKind::Internal, "panels out of step at frame " + std::to_string(frame));
  }
  const CellCentres spatial{{}, centres_.h, centres_.w};
  at::parallel_for(0, static_cast<int64_t>(panels_), 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      std::vector<float>& out = heat[static_cast<size_t>(p)];
      for (size_t t = 0; t < tiles_; ++t) {
        Volume cells({1, cellsH_[static_cast<size_t>(p)], cellsW_[static_cast<size_t>(p)]});
        cells.data = std::move(crop[static_cast<size_t>(p) * tiles_ + t]);
        const Volume up = upsampleTrilinear(cells, 1, pre_.cropHeight, pre_.cropWidth, spatial);
        std::vector<float> src = uncropToSource(up.ptr(), geometry_[t]);
        if (tiles_ == 1) {
          out = std::move(src);
          continue;
        }
        if (t == 0) out.assign(src.size(), 0.f);
        const std::vector<float>& w = weight_[t];
        for (size_t i = 0; i < out.size(); ++i) out[i] += w[i] * src[i];
      }
      if (tiles_ > 1)
        for (size_t i = 0; i < out.size(); ++i) out[i] = weightSum_[i] > 0 ? out[i] / weightSum_[i] : 0.f;
    }
  });
  auto it = probs_.find(frame);
  prob.resize(panels_);
  for (size_t p = 0; p < panels_; ++p) prob[p] = it->second.first[p] / it->second.second;
  probs_.erase(it);
  return true;
}

void FrameHeatSource::addPending() {
  if (pending_.maps.size() != panels_ || pending_.scores.size() != panels_)
    throw Error(ErrorKind::Internal, "a window record without one map per panel");
  at::parallel_for(0, static_cast<int64_t>(panels_), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const size_t p = static_cast<size_t>(i);
      Volume cam = pending_.maps[p];
      if (norm_ == Normalize::Window) {
        const float m = *std::max_element(cam.data.begin(), cam.data.end());
        for (float& v : cam.data) v = m > 0 ? v / m : 0.f;
      }
      if (cam.shape.size() != 3 || cam.shape[1] != cellsH_[p] || cam.shape[2] != cellsW_[p])
        throw Error(ErrorKind::Internal, "window maps of different sizes");
      // Along time only: the window's T' steps onto its clipLen frames.
      HeatmapAccumulator& a = acc(p, pending_.geometry.tile);
      if (frameStep_ == 1) {
        a.add(pending_.frames, upsampleTrilinear(cam, clipLen_, cellsH_[p], cellsW_[p], CellCentres{centres_.t, {}, {}}));
        continue;
      }
      // Every k-th frame was sampled: the cells' centres, in model positions, sit at k times
      // those positions among the frames the window spans, and every spanned frame gets heat.
      const int64_t Tc = cam.shape[0];
      std::vector<double> t = static_cast<int64_t>(centres_.t.size()) == Tc ? centres_.t : evenCellCentres(Tc, clipLen_);
      for (double& c : t) c *= frameStep_;
      const int64_t first = pending_.frames.front(), last = pending_.frames.back();
      std::vector<int64_t> spanned(static_cast<size_t>(last - first + 1));
      std::iota(spanned.begin(), spanned.end(), first);
      a.add(spanned, upsampleTrilinear(cam, static_cast<int64_t>(spanned.size()), cellsH_[p], cellsW_[p], CellCentres{t, {}, {}}));
    }
  });
  std::vector<int64_t> covered = pending_.frames;
  if (frameStep_ > 1) {
    covered.resize(static_cast<size_t>(pending_.frames.back() - pending_.frames.front() + 1));
    std::iota(covered.begin(), covered.end(), pending_.frames.front());
  }
  for (int64_t f : covered) {
    auto& s = probs_[f];
    if (s.first.empty()) s.first.assign(panels_, 0.0);
    for (size_t p = 0; p < panels_; ++p) s.first[p] += pending_.scores[p];
    s.second += 1;
  }
}

}  // namespace ev
