// The main job: video → windows → model → CAM → heatmaps → rendered video, plus the optional
// side outputs (heatmaps .npy, JSON summary, raw per-window tensors).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"
#include "explain_video/render.hpp"
#include "explain_video/windows.hpp"

namespace ev {

enum class Normalize { Video, Window, Frame };
Normalize parseNormalize(const std::string& name);  // "video" | "window" | "frame"
std::string normalizeName(Normalize n);

struct ExplainParams {
  std::string input;
  std::string model;
  std::string layer;                 // empty: the model's last 5D submodule
  std::string modelOutput;           // tuple/list/dict outputs: which holds the logits ("": first tensor; Model::setOutput)
  CamMethod method = CamMethod::GradCamPlusPlus;
  std::string classSpec;             // empty: top-1 of the mean logits; else an id or a label name
  std::string labelsFile;            // one class name per line
  PreprocessParams preprocess;
  WindowParams windows;
  Normalize normalize = Normalize::Video;
  RenderParams render;
  std::string output;                // empty: <input dir>/<name>.explained.mp4
  std::string heatmapsNpy;           // optional
  std::string jsonFile;              // optional
  std::string rawDir;                // optional
  int threads = 0;                   // LibTorch threads; <= 0: every core
  int crf = 20;
  std::string preset = "veryfast";   // x264 preset of the annotated MP4
  bool noVideo = false;              // skip rendering the MP4 (side outputs only)
};

struct ExplainProgress {
  std::string stage;     // "explain" or "render"
  int64_t framesDone = 0;
  int64_t framesTotal = 0;  // estimate, 0 if unknown
  double seconds = 0;       // since the stage started
};
using ProgressCallback = std::function<void(const ExplainProgress&)>;

struct ExplainResult {
  std::string output;        // the MP4 written (empty with noVideo)
  std::string layer;
  CellCentres cellCentres;   // where the layer's cells were drawn (empty: even tiling)
  int classId = -1;
  std::string className;
  double classScore = 0;     // softmax of the mean logits
  int64_t frames = 0;
  int64_t windows = 0;
  int64_t windowsReExplained = 0;  // windows re-run because their candidates missed the class
  // Wall-clock seconds: everything; model loading and layer set-up; forward/backward passes;
  // the render pass (decode, heatmaps, drawing, encoding).
  double secondsTotal = 0, secondsSetup = 0, secondsModel = 0, secondsRender = 0;
};

std::string defaultOutputPath(const std::string& input);

ExplainResult explainVideo(const ExplainParams& params, const ProgressCallback& progress = {});

// One line per submodule: name, type and output shape for the configured input size.
std::string listLayers(const std::string& modelPath, const PreprocessParams& pre, const WindowParams& win,
                       int threads = 0);

// Class names from a labels file (one per line, trailing whitespace trimmed).
std::vector<std::string> readLabels(const std::string& path);

}  // namespace ev
