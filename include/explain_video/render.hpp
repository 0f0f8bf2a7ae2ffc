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

// The side-by-side video of a run with several methods or classes: the original frame, then one
// panel per explanation, on a grid. Rule: n panels (original included) sit in one row up to 4,
// else in ⌈√n⌉ columns and ⌈n / columns⌉ rows, filled row by row (empty cells black). Each
// panel keeps the source size when the grid fits 7680×4320 (8K UHD, within H.264 level 6.1);
// otherwise every panel is scaled down by one factor so that it fits (sizes kept even).
struct GridLayout {
  int columns = 1, rows = 1;
  int panelWidth = 0, panelHeight = 0;
  int width() const { return columns * panelWidth; }
  int height() const { return rows * panelHeight; }
};
constexpr int kMaxGridWidth = 7680, kMaxGridHeight = 4320;
GridLayout gridLayout(int panels, int width, int height);

// Copies `panel` into cell `index` of `grid` (a frame of layout.width()×layout.height()),
// resized (area averaging) when the layout's panel size differs from the panel's.
void placePanel(Frame& grid, const GridLayout& layout, int index, const Frame& panel);

// A title in the top-left corner of a frame (white on black, scaled with the frame).
void drawTitle(Frame& frame, const std::string& text);

class Renderer {
 public:
  // `importance` holds one value per frame (drawn as the strip, scaled to its maximum).
  Renderer(const RenderParams& params, std::string label, std::vector<float> importance);
  // The part of the frame the model saw (default: all of it). Outside it the frame keeps its
  // own pixels, no colormap, and a thin line marks the region's edge: "not seen" never looks
  // like "cold".
  void setSeen(const PixelRect& seen) { seen_ = seen; }
  // heat: frame.height×frame.width values in [0,1]. score: the class probability to print.
  void render(Frame& frame, const float* heat, double score) const;

 private:
  RenderParams params_;
  int colormap_;
  std::string label_;
  std::vector<float> importance_;
  float importanceMax_ = 0.f;
  PixelRect seen_{0, 0, -1, -1};  // width < 0: the whole frame
  std::vector<uint8_t> lut_;  // the colormap as 256 RGB triples
  // The strip's bars (RGB, stripH×width) and where they are, drawn for the first frame's size.
  mutable std::vector<uint8_t> bars_, barMask_;
  mutable int barsWidth_ = 0, barsHeight_ = 0;
};

}  // namespace ev
