// The main job's layer table (--list-layers): the one piece of its interface that loads a model.
#include <algorithm>
#include <iomanip>
#include <sstream>

#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/model.hpp"

namespace ev {

std::string listLayers(const std::string& modelPath, const PreprocessParams& pre, const WindowParams& win, int threads) {
  Model model(modelPath, threads);
  const std::vector<int64_t> shape{1, 3, win.clipLen, pre.cropHeight, pre.cropWidth};
  std::vector<LayerInfo> layers = model.listLayers(shape);
  std::string def;
  try {
    def = model.defaultLayer(shape);
  } catch (const Error&) {
  }
  size_t w = 5, tw = 4;
  for (const auto& l : layers) w = std::max(w, l.name.size()), tw = std::max(tw, l.type.size());
  std::ostringstream out;
  out << "input " << shape[0] << "x" << shape[1] << "x" << shape[2] << "x" << shape[3] << "x" << shape[4]
      << " (N×C×T×H×W)\n";
  out << std::left << std::setw(static_cast<int>(w) + 2) << "layer" << std::setw(static_cast<int>(tw) + 2) << "type"
      << "output\n";
  for (const auto& l : layers) {
    std::string s;
    for (size_t i = 0; i < l.outputShape.size(); ++i) s += (i ? "x" : "") + std::to_string(l.outputShape[i]);
    if (s.empty()) s = "-";
    out << std::setw(static_cast<int>(w) + 2) << l.name << std::setw(static_cast<int>(tw) + 2) << l.type << s
        << (l.name == def ? "   <- default layer" : "") << "\n";
  }
  return out.str();
}

}  // namespace ev
