// The main job as a sequence of streaming passes (memory bounded by a few windows):
//   1. decode → windows → model → CAM for the candidate classes, spilled to a WindowStore;
//   2. (rare) re-run windows whose candidates missed the video's top-1 class;
//   3. heat statistics (video maximum, per-frame importance) from the stored CAMs;
//   4. decode again → per-frame heatmap → render → encode, plus the side outputs.
#include "explain_video/explain.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "explain_video/error.hpp"
#include "explain_video/heatmap.hpp"
#include "explain_video/model.hpp"
#include "explain_video/npy.hpp"
#include "explain_video/video.hpp"
#include "io/atomic_output.hpp"
#include "io/params_json.hpp"
#include "pipeline/window_store.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace ev {
namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<double> softmax(const std::vector<float>& logits) {
  std::vector<double> p(logits.size());
  if (logits.empty()) return p;
  const double m = *std::max_element(logits.begin(), logits.end());
  double s = 0;
  for (size_t i = 0; i < logits.size(); ++i) s += p[i] = std::exp(logits[i] - m);
  for (double& v : p) v /= s;
  return p;
}

std::vector<int> topK(const std::vector<float>& v, size_t k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(k), idx.end(),
                    [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

// With no --class, the explained class is the top-1 of the mean logits, known only at the end.
// Each window therefore keeps CAMs for its likely winners: every class for small heads, its
// top-5 otherwise (a backward pass through the head is cheap next to the forward pass).
constexpr size_t kAllClassesUpTo = 10;
constexpr size_t kCandidatesPerWindow = 5;

std::string windowName(int64_t i) {
  std::ostringstream s;
  s << "window_" << std::setw(4) << std::setfill('0') << i;
  return s.str();
}

std::string className(int id, const std::vector<std::string>& labels) {
  if (id >= 0 && id < static_cast<int>(labels.size())) return labels[id];
  return "class " + std::to_string(id);
}

struct ClassChoice {
  int fixed = -1;  // -1: choose the top-1 of the mean logits
};

ClassChoice resolveClass(const std::string& spec, const std::vector<std::string>& labels, const std::string& labelsFile) {
  ClassChoice c;
  if (spec.empty()) return c;
  const bool numeric = spec.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    try {
      c.fixed = std::stoi(spec);
    } catch (const std::exception&) {
      throw Error(ErrorKind::Usage, "--class " + spec + ": not a valid class id");
    }
    return c;
  }
  if (labels.empty())
    throw Error(ErrorKind::Usage, "--class '" + spec + "' is a name: give --labels FILE to look it up, or a class id");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == spec) {
      c.fixed = static_cast<int>(i);
      return c;
    }
  throw Error(ErrorKind::Usage, "--class '" + spec + "' is not a name in " + labelsFile);
}

// Walks the per-class records in window order and yields each frame's heatmap on the source
// frame, averaged over the windows that cover it. Used by the statistics and render passes.
class FrameHeatSource {
 public:
  FrameHeatSource(WindowStore& store, const WindowParams& win, const PreprocessParams& pre, Normalize norm,
                  const CellCentres& centres)
      : store_(store), clipLen_(win.clipLen), pre_(pre), norm_(norm), centres_(centres),
        acc_(pre.cropHeight, pre.cropWidth) {
    store_.rewind();
    more_ = store_.next(pending_);
  }

  // Next frame in order: its index, its heatmap (source resolution, not yet normalised over
  // the video) and the mean class probability of the windows covering it.
  bool next(int64_t& frame, std::vector<float>& heat, double& prob) {
    std::vector<float> cropMap;
    for (;;) {
      const int64_t frontier = more_ ? pending_.frames.front() : std::numeric_limits<int64_t>::max();
      if (acc_.popComplete(frontier, frame, cropMap)) break;
      if (!more_) return false;
      addPending();
      more_ = store_.next(pending_);
    }
    heat = uncropToSource(cropMap.data(), geometry_);
    auto it = probs_.find(frame);
    prob = it->second.first / it->second.second;
    probs_.erase(it);
    return true;
  }

 private:
  void addPending() {
    Volume cam = pending_.cams.at(0);  // per-class records hold exactly one CAM
    if (norm_ == Normalize::Window) {
      const float m = *std::max_element(cam.data.begin(), cam.data.end());
      for (float& v : cam.data) v = m > 0 ? v / m : 0.f;
    }
    acc_.add(pending_.frames, upsampleTrilinear(cam, clipLen_, pre_.cropHeight, pre_.cropWidth, centres_));
    geometry_ = pending_.geometry;
    const double p = pending_.logits.at(0);  // per-class records store the class probability here
    for (int64_t f : pending_.frames) {
      auto& s = probs_[f];
      s.first += p;
      s.second += 1;
    }
  }

  WindowStore& store_;
  int clipLen_;
  PreprocessParams pre_;
  Normalize norm_;
  CellCentres centres_;
  HeatmapAccumulator acc_;
  CropGeometry geometry_;
  WindowRecord pending_;
  bool more_ = false;
  std::map<int64_t, std::pair<double, int>> probs_;
};

struct Pass1Totals {
  int64_t frames = 0;
  std::vector<double> logitSum;
  std::vector<int64_t> cellShape;  // T'×H'×W' of the layer's output (the first window's)
  double modelSeconds = 0;
};

// Runs decode → windows → model → CAM. `only` (when non-null) restricts the model to those
// window indices; `classesFor` picks the classes per window from its logits.
template <class OnWindow>
Pass1Totals runWindows(const ExplainParams& p, Model& model, const std::set<int64_t>* only,
                       const std::function<std::vector<int>(const std::vector<float>&)>& classesFor,
                       const ProgressCallback& progress, OnWindow&& onWindow) {
  Pass1Totals totals;
  VideoReader reader(p.input);
  WindowSampler sampler(p.preprocess, p.windows);
  Frame frame;
  Window window;
  const auto t0 = Clock::now();
  auto drain = [&] {
    while (sampler.pop(window)) {
      if (only && !only->count(window.index)) continue;
      const auto tm = Clock::now();
      LayerCapture cap = model.capture(window.input, classesFor);
      totals.modelSeconds += since(tm);
      if (cap.activation.shape.size() != 4)
        throw Error(ErrorKind::Model, p.model + ": layer '" + model.targetLayer() + "' output is not 5D (N,C,T,H,W)");
      if (totals.logitSum.empty()) totals.logitSum.assign(cap.logits.size(), 0.0);
      if (totals.cellShape.empty()) totals.cellShape.assign(cap.activation.shape.begin() + 1, cap.activation.shape.end());
      for (size_t i = 0; i < cap.logits.size(); ++i) totals.logitSum[i] += cap.logits[i];
      WindowRecord r;
      r.index = window.index;
      r.frames = window.frames;
      r.geometry = window.geometry;
      r.logits = cap.logits;
      r.classIds = cap.classIds;
      for (size_t i = 0; i < cap.gradients.size(); ++i)
        r.cams.push_back(computeCam(p.method, cap.activation, cap.gradients[i]));
      onWindow(window, r);
    }
  };
  while (reader.read(frame)) {
    sampler.push(frame);
    drain();
    if (progress) progress({only ? "re-explain" : "explain", sampler.framesSeen(), reader.info().frameCountHint, since(t0)});
  }
  sampler.finish();
  drain();
  totals.frames = sampler.framesSeen();
  if (totals.frames == 0) throw Error(ErrorKind::Input, p.input + ": no decodable video frames");
  return totals;
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw Error(ErrorKind::Output, path + ": write failed");
}

void checkParams(const ExplainParams& p) {
  checkRenderParams(p.render);
  if (p.model.empty()) throw Error(ErrorKind::Usage, "--model is required");
  if (p.input.empty()) throw Error(ErrorKind::Usage, "an input video is required");
  std::error_code ec;
  if (!fs::exists(p.input, ec)) throw Error(ErrorKind::Input, p.input + ": file does not exist");
  if (!fs::exists(p.model, ec)) throw Error(ErrorKind::Model, p.model + ": file does not exist");
}

}  // namespace

Normalize parseNormalize(const std::string& name) {
  if (name == "video") return Normalize::Video;
  if (name == "window") return Normalize::Window;
  if (name == "frame") return Normalize::Frame;
  throw Error(ErrorKind::Usage, "unknown --normalize '" + name + "': choose video, window or frame");
}

std::string normalizeName(Normalize n) {
  return n == Normalize::Video ? "video" : n == Normalize::Window ? "window" : "frame";
}

std::string defaultOutputPath(const std::string& input) {
  const fs::path in(input);
  return (in.parent_path() / (in.stem().string() + ".explained.mp4")).string();
}

std::vector<std::string> readLabels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::Usage, path + ": cannot read labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.empty()) throw Error(ErrorKind::Usage, path + ": labels file is empty");
  return labels;
}

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

ExplainResult explainVideo(const ExplainParams& p, const ProgressCallback& progress) {
  const auto tStart = Clock::now();
  checkParams(p);
  ExplainResult result;

  // Claim every output location first: a bad path fails before minutes of work.
  result.output = p.noVideo ? "" : (p.output.empty() ? defaultOutputPath(p.input) : p.output);
  std::error_code ec;
  if (!result.output.empty() && fs::exists(result.output, ec) && fs::equivalent(result.output, p.input, ec))
    throw Error(ErrorKind::Usage, result.output + ": output would overwrite the input video");
  std::unique_ptr<AtomicOutput> videoOut, npyOut, jsonOut;
  std::unique_ptr<AtomicOutputDir> rawOut;
  if (!result.output.empty()) videoOut = std::make_unique<AtomicOutput>(result.output, ".mp4");
  if (!p.heatmapsNpy.empty()) npyOut = std::make_unique<AtomicOutput>(p.heatmapsNpy);
  if (!p.jsonFile.empty()) jsonOut = std::make_unique<AtomicOutput>(p.jsonFile);
  if (!p.rawDir.empty()) rawOut = std::make_unique<AtomicOutputDir>(p.rawDir);

  const std::vector<std::string> labels = p.labelsFile.empty() ? std::vector<std::string>{} : readLabels(p.labelsFile);
  const ClassChoice choice = resolveClass(p.classSpec, labels, p.labelsFile);

  VideoInfo info = VideoReader(p.input).info();  // fails fast on unreadable input
  const auto tSetup = Clock::now();
  Model model(p.model, p.threads);
  model.setOutput(p.modelOutput);
  const std::vector<int64_t> inputShape{1, 3, p.windows.clipLen, p.preprocess.cropHeight, p.preprocess.cropWidth};
  result.layer = p.layer.empty() ? model.defaultLayer(inputShape) : p.layer;
  model.setTargetLayer(result.layer);
  // Where the layer's cells sit in the crop (C3D's padded pool5 does not tile it evenly).
  std::string geometryNote;
  CellCentres centres = model.cellCentres(inputShape, &geometryNote);
  result.secondsSetup = since(tSetup);

  auto checkLabels = [&](size_t numClasses) {
    if (!labels.empty() && labels.size() != numClasses)
      throw Error(ErrorKind::Usage, p.labelsFile + ": " + std::to_string(labels.size()) + " names, but the model has " +
                                        std::to_string(numClasses) + " classes");
  };
  auto candidates = [&](const std::vector<float>& logits) -> std::vector<int> {
    checkLabels(logits.size());
    if (choice.fixed >= 0) return {choice.fixed};
    if (logits.size() <= kAllClassesUpTo) return topK(logits, logits.size());
    return topK(logits, kCandidatesPerWindow);
  };

  // ---- pass 1: the model over every window ----
  WindowStore all;
  std::vector<nlohmann::json> windowJson;
  Pass1Totals totals = runWindows(p, model, nullptr, candidates, progress, [&](const Window& w, const WindowRecord& r) {
    if (rawOut) writeNpy(rawOut->path(windowName(w.index) + "_input.npy"), w.input);
    all.append(r);
  });
  result.frames = totals.frames;
  result.windows = all.size();
  double modelSeconds = totals.modelSeconds;
  // The geometry walk must agree with the layer's real output (an op it misread would not).
  if (!centres.empty() && totals.cellShape.size() == 3 &&
      (static_cast<int64_t>(centres.t.size()) != totals.cellShape[0] ||
       static_cast<int64_t>(centres.h.size()) != totals.cellShape[1] ||
       static_cast<int64_t>(centres.w.size()) != totals.cellShape[2])) {
    geometryNote = "the graph walk gave " + std::to_string(centres.t.size()) + "x" + std::to_string(centres.h.size()) +
                   "x" + std::to_string(centres.w.size()) + " cells, the layer outputs " +
                   std::to_string(totals.cellShape[0]) + "x" + std::to_string(totals.cellShape[1]) + "x" +
                   std::to_string(totals.cellShape[2]);
    centres = CellCentres{};
  }
  result.cellCentres = centres;

  std::vector<float> meanLogits(totals.logitSum.size());
  for (size_t i = 0; i < meanLogits.size(); ++i) meanLogits[i] = static_cast<float>(totals.logitSum[i] / result.windows);
  result.classId = choice.fixed >= 0 ? choice.fixed : topK(meanLogits, 1).at(0);
  result.className = className(result.classId, labels);
  result.classScore = softmax(meanLogits).at(static_cast<size_t>(result.classId));
  const int c = result.classId;

  // ---- pass 2 (only if needed): windows whose candidates did not include the class ----
  std::set<int64_t> missing;
  WindowRecord r;
  all.rewind();
  while (all.next(r))
    if (!r.camFor(c)) missing.insert(r.index);
  WindowStore recomputed;
  result.windowsReExplained = static_cast<int64_t>(missing.size());
  if (!missing.empty()) {
    auto onlyC = [&](const std::vector<float>&) { return std::vector<int>{c}; };
    modelSeconds += runWindows(p, model, &missing, onlyC, progress,
                               [&](const Window&, const WindowRecord& rr) { recomputed.append(rr); })
                        .modelSeconds;
  }

  // Per-class store: one CAM per window; logits[0] carries the class probability.
  WindowStore perClass;
  all.rewind();
  recomputed.rewind();
  WindowRecord extra;
  while (all.next(r)) {
    const Volume* cam = r.camFor(c);
    if (!cam) {
      if (!recomputed.next(extra) || extra.index != r.index)
        throw Error(ErrorKind::Internal, "window " + std::to_string(r.index) + " was not re-explained");
      cam = extra.camFor(c);
    }
    const std::vector<double> prob = softmax(r.logits);
    nlohmann::json wj;
    wj["index"] = r.index;
    wj["first_frame"] = r.frames.front();
    wj["last_frame"] = r.frames.back();
    wj["frames"] = r.frames;
    wj["logits"] = r.logits;
    wj["class_score"] = prob.at(static_cast<size_t>(c));
    nlohmann::json top = nlohmann::json::array();
    for (int k : topK(r.logits, 5))
      top.push_back({{"class", k}, {"name", className(k, labels)}, {"score", prob[static_cast<size_t>(k)]}});
    wj["top5"] = top;
    if (rawOut) {
      writeNpy(rawOut->path(windowName(r.index) + "_cam.npy"), *cam);
      nlohmann::json raw = wj;
      raw["class"] = c;
      raw["method"] = camMethodName(p.method);
      raw["layer"] = result.layer;
      raw["cam_shape"] = cam->shape;
      writeText(rawOut->path(windowName(r.index) + ".json"), raw.dump(2) + "\n");
    }
    if (jsonOut) windowJson.push_back(std::move(wj));
    WindowRecord pc;
    pc.index = r.index;
    pc.frames = r.frames;
    pc.geometry = r.geometry;
    pc.logits = {static_cast<float>(prob.at(static_cast<size_t>(c)))};
    pc.classIds = {c};
    pc.cams = {*cam};
    perClass.append(pc);
  }

  // ---- pass 3: heat statistics over the whole video ----
  std::vector<float> frameMax(static_cast<size_t>(result.frames), 0.f), frameMean(frameMax.size(), 0.f);
  float videoMax = 0.f;
  {
    FrameHeatSource heat(perClass, p.windows, p.preprocess, p.normalize, centres);
    int64_t f = 0;
    std::vector<float> map;
    double prob = 0;
    while (heat.next(f, map, prob)) {
      const float m = *std::max_element(map.begin(), map.end());
      frameMax.at(static_cast<size_t>(f)) = m;
      frameMean.at(static_cast<size_t>(f)) =
          static_cast<float>(std::accumulate(map.begin(), map.end(), 0.0) / static_cast<double>(map.size()));
      videoMax = std::max(videoMax, m);
    }
  }
  // The divisor that maps each frame's raw heat to the rendered [0,1] heat (a division, so
  // the maximum becomes exactly 1); 0 means the frame has no heat at all.
  auto divisorFor = [&](int64_t f) -> float {
    switch (p.normalize) {
      case Normalize::Video: return videoMax;
      case Normalize::Frame: return frameMax[static_cast<size_t>(f)];
      case Normalize::Window: return 1.f;
    }
    return 1.f;
  };
  std::vector<float> importance(frameMean.size());
  for (size_t f = 0; f < importance.size(); ++f) {
    const float d = divisorFor(static_cast<int64_t>(f));
    importance[f] = d > 0 ? frameMean[f] / d : 0.f;
  }

  // ---- pass 4: render ----
  const auto tRender = Clock::now();
  {
    FrameHeatSource heat(perClass, p.windows, p.preprocess, p.normalize, centres);
    std::unique_ptr<NpyStreamWriter> npy;
    if (npyOut) npy = std::make_unique<NpyStreamWriter>(npyOut->tempPath(), std::vector<int64_t>{result.frames, info.height, info.width});
    std::unique_ptr<VideoReader> reader;
    std::unique_ptr<VideoWriter> writer;
    std::unique_ptr<Renderer> renderer;
    if (videoOut) {
      reader = std::make_unique<VideoReader>(p.input);
      VideoWriterOptions wo;
      wo.width = reader->info().width;
      wo.height = reader->info().height;
      wo.fpsNum = reader->info().fpsNum;
      wo.fpsDen = reader->info().fpsDen;
      wo.crf = p.crf;
      wo.preset = p.preset;
      writer = std::make_unique<VideoWriter>(videoOut->tempPath(), wo);
      renderer = std::make_unique<Renderer>(p.render, result.className, importance);
    }
    Frame frame;
    std::vector<float> map;
    int64_t f = 0;
    double prob = 0;
    while (heat.next(f, map, prob)) {
      const float d = divisorFor(f);
      for (float& v : map) v = d > 0 ? std::min(1.f, v / d) : 0.f;
      if (npy) npy->append(map.data(), map.size());
      if (reader) {
        if (!reader->read(frame) || frame.index != f)
          throw Error(ErrorKind::Input, p.input + ": the second decoding pass gave different frames than the first");
        renderer->render(frame, map.data(), prob);
        writer->write(frame);
      }
      if (progress) progress({"render", f + 1, result.frames, since(tRender)});
    }
    if (npy) npy->close();
    if (writer) writer->close();
  }
  result.secondsRender = since(tRender);
  result.secondsModel = modelSeconds;
  result.secondsTotal = since(tStart);

  if (jsonOut) {
    nlohmann::json j;
    j["input"] = p.input;
    j["video"] = {{"width", info.width}, {"height", info.height}, {"fps", info.fps}, {"frames", result.frames},
                  {"rotation", info.rotation}, {"codec", info.codec}};
    j["model"] = p.model;
    j["layer"] = result.layer;
    if (centres.empty())
      j["cell_centres"] = {{"known", false}, {"reason", geometryNote}, {"assumed", "even tiling (align_corners=False)"}};
    else
      j["cell_centres"] = {{"known", true}, {"t", centres.t}, {"h", centres.h}, {"w", centres.w}};
    if (!p.modelOutput.empty()) j["model_output"] = p.modelOutput;
    j["method"] = camMethodName(p.method);
    j["normalize"] = normalizeName(p.normalize);
    j["class"] = {{"id", c}, {"name", result.className}, {"score", result.classScore},
                  {"chosen", choice.fixed >= 0 ? "given" : "top-1 of mean logits"}};
    j["preprocess"] = preprocessJson(p.preprocess, p.windows);
    j["mean_logits"] = meanLogits;
    nlohmann::json top = nlohmann::json::array();
    const std::vector<double> meanProb = softmax(meanLogits);
    for (int k : topK(meanLogits, 5)) top.push_back({{"class", k}, {"name", className(k, labels)}, {"score", meanProb[k]}});
    j["top5"] = top;
    j["windows"] = windowJson;
    j["windows_re_explained"] = result.windowsReExplained;
    j["frame_importance"] = importance;
    j["output"] = result.output;
    j["timings"] = {{"total_s", result.secondsTotal},
                    {"setup_s", result.secondsSetup},
                    {"model_s", result.secondsModel},
                    {"render_s", result.secondsRender}};
    writeText(jsonOut->tempPath(), j.dump(2) + "\n");
  }

  // Everything succeeded: move the outputs into place.
  if (videoOut) videoOut->commit();
  if (npyOut) npyOut->commit();
  if (jsonOut) jsonOut->commit();
  if (rawOut) rawOut->commit();
  return result;
}

}  // namespace ev
