// Stage 5: from a window's CAM volume (T'×H'×W') back to per-frame heatmaps on the source
// frames: trilinear upsampling, mean over overlapping windows, inverse of resize and crop.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "explain_video/volume.hpp"
#include "explain_video/windows.hpp"

namespace ev {

// The centres of n cells that tile `length` samples evenly, PyTorch's align_corners=False
// convention: (i + 0.5)·length/n − 0.5.
std::vector<double> evenCellCentres(int64_t n, int64_t length);

// Linear interpolation between cells centred at `centres` (increasing), evaluated at x: cells
// i0 and i1, i1 weighted w1 and i0 1 − w1. Beyond the outermost centres the end cell alone.
struct LinearTap {
  int64_t i0 = 0, i1 = 0;
  double w1 = 0;
};
LinearTap linearTap(const std::vector<double>& centres, double x);

// Trilinear interpolation T'×H'×W' → T×H×W between cell centres: along each axis, cell i sits
// at centres.t/h/w[i] of the output's 0..T-1 / 0..H-1 / 0..W-1 (Model::cellCentres); an axis
// whose centres are missing or do not match the volume's size is tiled evenly, PyTorch's
// align_corners=False convention. Beyond the outermost centres the end cell's value holds.
Volume upsampleTrilinear(const Volume& v, int64_t T, int64_t H, int64_t W, const CellCentres& centres = {});

// Puts a crop-space map (cropH×cropW) back onto the source frame (sourceH×sourceW): bilinear
// through the inverse of resize and crop, zero outside the crop's footprint.
std::vector<float> uncropToSource(const float* cropMap, const CropGeometry& g);

// The source pixels uncropToSource draws from the crop: the part of the frame the model saw.
PixelRect cropFootprint(const CropGeometry& g);

// Averages upsampled window maps per frame, in crop space. Windows arrive in order of their
// first frame; a frame is complete once a window starting after it has arrived (or at the end).
class HeatmapAccumulator {
 public:
  HeatmapAccumulator(int cropHeight, int cropWidth) : h_(cropHeight), w_(cropWidth) {}
  // `upsampled` is clipLen×cropH×cropW; position t belongs to frame frames[t].
  void add(const std::vector<int64_t>& frames, const Volume& upsampled);
  // Pops the lowest-index frame that no later window can reach: all frames < frontier.
  bool popComplete(int64_t frontier, int64_t& frame, std::vector<float>& map);
  size_t pending() const { return acc_.size(); }

 private:
  struct Slot {
    std::vector<float> sum;
    int count = 0;
  };
  int h_, w_;
  std::map<int64_t, Slot> acc_;
};

}  // namespace ev
