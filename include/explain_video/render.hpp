// Stage 6: draw a frame's heatmap over it, with the class, its score and a temporal strip.
#pragma once
#include <string>
#include <vector>

#include "explain_video/video.hpp"

namespace ev {

struct RenderParams {
  std::string colormap = "jet";  // any name of colormapNames()
  float alpha = 0.5f;            // heatmap weight in the blend, 0..1
  bool strip = true;             // temporal-importance strip along the bottom
  bool text = true;              // class name and score in the top-left corner
};

std::vector<std::string> colormapNames();
void checkRenderParams(const RenderParams& p);  // throws Error(Usage)

class Renderer {
 public:
  // `importance` holds one value per frame (drawn as the strip, scaled to its maximum).
  Renderer(const RenderParams& params, std::string label, std::vector<float> importance);
  // heat: frame.height×frame.width values in [0,1]. score: the class probability to print.
  void render(Frame& frame, const float* heat, double score) const;

 private:
  RenderParams params_;
  int colormap_;
  std::string label_;
  std::vector<float> importance_;
  float importanceMax_ = 0.f;
};

}  // namespace ev
