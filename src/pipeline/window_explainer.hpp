// The engine's work on one window: one forward pass with the layer's activation, the gradients
// of the candidate classes (only if some requested method needs them), then every requested
// method's map for every candidate class from those same tensors.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"
#include "explain_video/model.hpp"
#include "explain_video/volume.hpp"

namespace ev {

// What the perturbation methods need besides the model: how many inputs go through the model per
// pass, a black pixel in normalised units (pixel-space masking), the layer's cell centres.
struct WindowExplainerOptions {
  int batch = 8;
  std::array<double, 3> black{0, 0, 0};
  CellCentres centres;
  PerturbationParams perturbation;
};

struct WindowMaps {
  std::vector<float> logits;
  std::vector<int> classIds;          // the candidate classes
  std::vector<int64_t> cellShape;     // T'×H'×W' of the layer
  // maps[m·K + k]: method m (request order) for classIds[k], T'×H'×W'; notes likewise
  // (gradcam++'s clamped-α cells).
  std::vector<Volume> maps;
  std::vector<int64_t> notes;
  std::vector<EmptyReason> empty;     // per map: why it is all zero (None: it has heat)
  // Model passes made for this window: the shared capture (1 forward, plus 1 backward per
  // candidate class when a gradient method runs) is counted in `capturePasses`; the passes of
  // each perturbation method (request order) in `methodPasses` (the window's share of its batch).
  double capturePasses = 0;
  std::vector<double> methodPasses;
};

using ClassChooser = std::function<std::vector<int>(const std::vector<float>& logits)>;

class WindowExplainer {
 public:
  // Errors: Usage (unknown method), Model (cam on a layer without a GAP + linear head, naming
  // what is between the layer and the classifier).
  // With skipUnavailable, such methods are dropped instead and skipped() says why.
  WindowExplainer(Model& model, const std::string& layer, const std::vector<std::string>& methods,
                  bool skipUnavailable = false, WindowExplainerOptions options = {});
  ~WindowExplainer();

  const std::vector<std::string>& methods() const;
  const std::vector<std::string>& skipped() const;  // one line per dropped method
  bool needsGradient() const;

  // input: 1×3×T×H×W. `classesFor` picks the candidate classes from the window's logits.
  WindowMaps explain(const Volume& input, const ClassChooser& classesFor);
  // A batch of windows (each 1×3×T×H×W) in one forward pass and one backward pass per candidate
  // rank; the results equal those of explaining each window alone (to float rounding).
  // `windowIds` (one per input, or empty: 0, 1, ...) seed the perturbation methods' draws.
  std::vector<WindowMaps> explain(const std::vector<const Volume*>& inputs, const ClassChooser& classesFor,
                                  const std::vector<int64_t>& windowIds = {});
  // Called with the model passes made so far for the batch being explained (the capture's and
  // the perturbation methods'), after every chunk of them: the progress line moves during a
  // batch whose methods take thousands of passes (rise). Empty: not called.
  void onPasses(std::function<void(int64_t)> tick);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ev
