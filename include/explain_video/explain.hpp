// The main job: video → windows → model → CAM → heatmaps → rendered video, plus the optional
// side outputs (heatmaps .npy, JSON summary, raw per-window tensors).
//
// An Explainer is loaded once (model, layer, cell geometry, labels) and explains video after
// video; every requested method comes from one capture per window. explainVideo() is the
// one-shot form.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"
#include "explain_video/render.hpp"
#include "explain_video/windows.hpp"

namespace ev {

class Model;

// How raw heat becomes the rendered [0,1] heat (README "Normalisation"):
//   Video     divide by the kVideoQuantile quantile of the video's positive heat (every frame,
//             every source pixel with heat > 0); the hottest 1 % of those pixels clip at 1, so a
//             few spiky windows cannot darken the rest of the video
//   VideoMax  divide by the video's maximum
//   Window    each window's map divided by its own maximum before windows are averaged
//   Frame     each frame divided by its own maximum
enum class Normalize { Video, VideoMax, Window, Frame };
Normalize parseNormalize(const std::string& name);  // "video" | "video-max" | "window" | "frame"
std::string normalizeName(Normalize n);
std::vector<std::string> normalizeNames();  // every name parseNormalize takes, for --help
constexpr double kVideoQuantile = 0.99;

// When the run warns about empty or dark explanations (README "Empty maps"): more than
// kEmptyWindowsWarn of the windows have an all-zero map, or more than kDarkFramesWarn of the
// frames peak below kDarkFrame after normalisation. An action in part of the video rightly
// leaves the rest dark: the line is for explanations where most of the video is.
constexpr double kEmptyWindowsWarn = 0.5;
constexpr double kDarkFramesWarn = 0.75;
constexpr float kDarkFrame = 0.1f;

// What an Explainer is loaded with: the model and how windows are cut and fed to it.
struct ExplainerParams {
  std::string model;
  std::string layer;                 // empty: the model's last 5D submodule
  std::string modelOutput;           // tuple/list/dict outputs: which holds the logits ("": first tensor; Model::setOutput)
  std::string labelsFile;            // one class name per line
  PreprocessParams preprocess;
  WindowParams windows;
  int threads = 0;                   // LibTorch threads; <= 0: every core
  int batchSize = 0;                 // windows per forward pass; <= 0: kDefaultBatchSize
  std::string device = "cpu";        // "cpu", "cuda", "cuda:N"
};

// Windows per forward pass unless --batch-size says otherwise (measured on the 2-core
// development machine, README "Benchmark").
constexpr int kDefaultBatchSize = 8;

// One video to explain and what to write.
struct ExplainRequest {
  std::string input;
  std::vector<std::string> methods{"gradcam++"};  // registered names (camMethods())
  // Drop, with a warning, the methods this model or layer cannot run (cam without a global
  // average pooling + linear head) instead of failing: what --method all asks for.
  bool skipUnavailable = false;
  PerturbationParams perturbation;   // seed and sample counts of the perturbation methods
  // Empty: top-1 of the mean logits. Else ids and/or --labels names, comma-separated, or "topK"
  // (the K best of the mean logits): one explanation per class.
  std::string classSpec;
  Normalize normalize = Normalize::Video;
  RenderParams render;
  std::string output;                // empty: <input dir>/<name>.explained.mp4
  std::string heatmapsNpy;           // optional
  std::string jsonFile;              // optional
  std::string rawDir;                // optional
  int crf = 20;
  std::string preset = "veryfast";   // x264 preset of the annotated MP4
  bool noVideo = false;              // skip rendering the MP4 (side outputs only)
  // Any warning (an empty, dark, degenerate or approximated explanation, a skipped method) is
  // an error (ErrorKind::Strict), raised before the render pass; nothing is written.
  bool strict = false;
  // A single frame in an image format (PNG, JPEG, ...) is refused (ErrorKind::Input) unless
  // this is set; then it is explained as a clip of one frame, padded to --clip-len.
  bool allowImage = false;
};

struct ExplainParams : ExplainerParams, ExplainRequest {};

struct ExplainProgress {
  std::string stage;     // "explain", "re-explain" or "render"
  int64_t framesDone = 0;
  int64_t framesTotal = 0;  // estimate, 0 if unknown
  double seconds = 0;       // since the stage started
  int64_t windowsDone = 0;  // model pass: windows explained so far
  int64_t passes = 0;       // model pass: model passes so far (captures and perturbation methods)
                            // of the windows done
  int64_t passesInBatch = 0;  // model pass: passes made so far for the batch of windows in flight
};
using ProgressCallback = std::function<void(const ExplainProgress&)>;

// One explanation of the video: a method for a class (a panel of the side-by-side video).
struct Explanation {
  std::string method;
  int classId = -1;
  std::string className;
  double classScore = 0;          // softmax of the mean logits
  int64_t zeroWindows = 0;        // windows whose map is all zero
  std::map<std::string, int64_t> emptyReasons;  // those windows per emptyReasonCode()
  int64_t darkFrames = 0;         // frames whose normalised heat peaks below kDarkFrame
  float divisor = 0;              // --normalize video / video-max: what the raw heat was divided by
  int64_t clampedAlphaCells = 0;  // gradcam++: cells where α was set to 0 for a denominator ≤ 0
  float videoMax = 0;             // largest heat of any frame before normalisation
  double passesPerWindow = 0;     // model passes the method made per window beyond the shared capture
};

struct ExplainResult {
  std::string output;        // the MP4 written (empty with noVideo)
  std::string layer;
  CellCentres cellCentres;   // where the layer's cells were drawn (empty: even tiling)
  std::string geometryNote;  // why cellCentres is empty
  // The first explained class (with several, the first of the list).
  int classId = -1;
  std::string className;
  double classScore = 0;     // softmax of the mean logits
  std::vector<Explanation> explanations;  // for each class, for each method
  std::vector<std::string> warnings;      // one line each: degenerate or approximated results
  int64_t frames = 0;
  int64_t windows = 0;
  int64_t windowsReExplained = 0;  // windows re-run because their candidates missed the class
  int64_t modelPasses = 0;         // every forward/backward/head pass of the model pass
  // Wall-clock seconds: everything; model loading and layer set-up; forward/backward passes;
  // the render pass (decode, heatmaps, drawing, encoding).
  double secondsTotal = 0, secondsSetup = 0, secondsModel = 0, secondsRender = 0;
};

// What Explainer::analyse hands to its caller (eval), per window after the class is known: the
// window exactly as the model saw it and each method's map for the class, in request order.
struct AnalysedWindow {
  const Window* window = nullptr;
  int classId = -1;
  std::vector<const Volume*> maps;  // T'×H'×W' per method
};
using WindowVisitor = std::function<void(const AnalysedWindow&)>;
// Per frame in order: each method's heatmap at source resolution, normalised over the video.
using FrameVisitor =
    std::function<void(int64_t frame, const std::vector<const float*>& heat, int width, int height)>;

class Explainer {
 public:
  // Loads the model and resolves the layer and its cell geometry once. Errors: Usage, Model.
  explicit Explainer(const ExplainerParams& params);
  ~Explainer();
  Explainer(Explainer&&) noexcept;
  Explainer& operator=(Explainer&&) noexcept;

  const ExplainerParams& params() const;
  const std::string& layer() const;
  const CellCentres& cellCentres() const;  // empty: even tiling (geometryNote() says why)
  const std::string& geometryNote() const;
  const std::vector<std::string>& labels() const;
  int64_t layerChannels();  // C of the layer's output (from a probe pass, run once)
  // How many classes a window's maps are computed for under --class `classSpec`: the given
  // ones, else every class of a head of up to 10, else the window's top max(5, K) (the class is
  // chosen only when the video's mean logits are known). A probe forward pass, run once.
  int64_t candidatesPerWindow(const std::string& classSpec);
  double setupSeconds() const;
  Model& model();
  // The methods of `methods` this model and layer can run; the others (cam without a global
  // average pooling + linear head) are left out, with the reason in *skipped.
  std::vector<std::string> usableMethods(const std::vector<std::string>& methods, std::vector<std::string>* skipped);

  // The main job on one video. Errors: Usage, Input, Model, Output; no output is left behind.
  ExplainResult explain(const ExplainRequest& request, const ProgressCallback& progress = {});

  // The model pass and the explained class for eval, without writing anything: calls
  // onWindow for every window (in order, after the class is known) and onFrame for every frame.
  // Uses request.input, methods, classSpec (a single class) and normalize.
  ExplainResult analyse(const ExplainRequest& request, const WindowVisitor& onWindow, const FrameVisitor& onFrame,
                        const ProgressCallback& progress = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string defaultOutputPath(const std::string& input);

// Explainer(params).explain(params).
ExplainResult explainVideo(const ExplainParams& params, const ProgressCallback& progress = {});

// One line per submodule: name, type and output shape for the configured input size.
std::string listLayers(const std::string& modelPath, const PreprocessParams& pre, const WindowParams& win,
                       int threads = 0);

// Class names from a labels file (one per line, trailing whitespace trimmed).
std::vector<std::string> readLabels(const std::string& path);

// The file a panel's output goes to when a run has several methods or classes: `path` with
// ".<tag>" before its extension (heat.npy → heat.gradcam.npy, heat.c3.npy, heat.gradcam.c3.npy).
std::string taggedPath(const std::string& path, const std::string& tag);

}  // namespace ev
