// Localisation scores of a heatmap against a ground-truth box (the paper's Fig. 5 setting,
// per video frame): pointing game, share of heat in the box, IoU of the thresholded map.
#pragma once
#include <vector>

#include "explain_video/synth.hpp"

namespace ev {

// The box grown by `marginX`/`marginY` pixels on each side, clipped to the frame.
Box dilateBox(const Box& b, int marginX, int marginY, int width, int height);

// Pointing game: the heatmap's maximum (first in row-major order on ties) lies inside `box`.
// A frame whose heatmap is all zero is a miss.
bool pointingHit(const float* heat, int width, int height, const Box& box);

// Σ heat inside box / Σ heat over the frame (0 for an all-zero map).
double heatShareInBox(const float* heat, int width, int height, const Box& box);

// IoU between {heat >= threshold · max(heat)} and the box (0 for an all-zero map).
double thresholdIoU(const float* heat, int width, int height, const Box& box, double threshold);

// Mean of the heatmap over the frame.
double meanHeat(const float* heat, int width, int height);

// Several instances of the action in one frame (docs/eval.md, "Several instances").
// found[i]: instance i's box grown by (marginX, marginY) holds a local maximum of the map (a pixel
// > 0 and >= each of its 8 neighbours inside the frame) of at least peakFraction x the frame's
// maximum. heat[i]: the sum of the heat inside instance i's own box. An all-zero map finds none.
struct InstanceScores {
  std::vector<bool> found;
  std::vector<double> heat;
};
InstanceScores scoreInstances(const float* heat, int width, int height, const std::vector<Box>& boxes,
                              double peakFraction, int marginX, int marginY);

// Gini coefficient of non-negative values: sum_i sum_j |x_i - x_j| / (2 n sum_i x_i). 0: evenly
// spread; (n - 1) / n: everything on one; 0 for all zero or fewer than two values.
double gini(const std::vector<double>& x);

}  // namespace ev
