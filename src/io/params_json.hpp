// The windowing and preprocessing parameters as JSON, one format for every output that
// records them (explain summary, eval report).
#pragma once
#include <nlohmann/json.hpp>

#include "explain_video/windows.hpp"

namespace ev {

inline nlohmann::json preprocessJson(const PreprocessParams& p, const WindowParams& w) {
  return {{"resize", {p.resizeHeight, p.resizeWidth}},
          {"crop", {p.cropHeight, p.cropWidth}},
          {"scale", p.scale},
          {"mean", p.mean},
          {"std", p.std},
          {"channel_order", p.bgr ? "BGR" : "RGB"},
          {"clip_len", w.clipLen},
          {"stride", w.stride},
          {"frame_step", w.frameStep},
          {"spatial", spatialName(p.spatial)}};
}

}  // namespace ev
