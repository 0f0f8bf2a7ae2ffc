// Localisation scores of a heatmap against a ground-truth box (the paper's Fig. 5 setting,
// per video frame): pointing game, share of heat in the box, IoU of the thresholded map.
#pragma once
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

}  // namespace ev
