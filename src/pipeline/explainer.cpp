// The main job as a sequence of streaming passes (memory bounded by a few windows):
//   model pass   decode → windows → one capture per window → every method's maps for the
//                candidate classes, spilled to a WindowStore;
//   classes      the explained classes from the mean logits (or --class);
//   re-explain   (rare) windows whose candidates missed an explained class run again;
//   panels       one map per explanation (method × class) and window;
//   statistics   per-frame and video-wide heat from the stored maps (no decoding);
//   render pass  decode again → per-frame heatmaps → sinks (MP4, NPY); then JSON and raw.
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/heatmap.hpp"
#include "explain_video/model.hpp"
#include "explain_video/video.hpp"
#include "io/params_json.hpp"
#include "pipeline/class_choice.hpp"
#include "pipeline/frame_heat.hpp"
#include "pipeline/sinks.hpp"
#include "pipeline/streams.hpp"
#include "pipeline/window_explainer.hpp"
#include "pipeline/window_store.hpp"
#include "util/plural.hpp"
#include "util/resources.hpp"

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

std::string classNameOf(int id, const std::vector<std::string>& labels) {
  if (id >= 0 && id < static_cast<int>(labels.size())) return labels[id];
  return "class " + std::to_string(id);
}

// What the model pass leaves behind.
struct ModelPass {
  VideoInfo info;
  int64_t frames = 0;
  double passes = 0;                 // captures and perturbation passes
  std::vector<double> methodPasses;  // per method, summed over the windows
  std::vector<double> logitSum;
  std::vector<int64_t> cellShape;  // T'×H'×W' of the layer's output (the first window's)
  double modelSeconds = 0;
  int64_t decodeErrors = 0;  // the decoder's problems (VideoReader::decodeErrors)
  std::string lastDecodeError;
};

// The panels of a run: for each explained class, for each method.
std::vector<Panel> makePanels(const std::vector<std::string>& methods, const std::vector<int>& classes,
                              const std::vector<std::string>& labels) {
  std::vector<Panel> panels;
  for (int c : classes)
    for (const std::string& m : methods) {
      Panel p;
      p.method = m;
      p.classId = c;
      p.className = classNameOf(c, labels);
      const bool severalMethods = methods.size() > 1, severalClasses = classes.size() > 1;
      const std::string ctag = "c" + std::to_string(c);
      p.tag = severalMethods && severalClasses ? m + "." + ctag : severalMethods ? m : severalClasses ? ctag : "";
      p.title = !severalMethods ? p.className : severalClasses ? m + ": " + p.className : m;
      panels.push_back(p);
    }
  return panels;
}

}  // namespace

struct Explainer::Impl {
  ExplainerParams params;
  Model model;
  std::string layer;
  CellCentres centres;
  std::string geometryNote;
  std::vector<std::string> labels;
  double setupSeconds = 0;
  int64_t channels = -1;  // layerChannels(), once probed
  int64_t classes = -1;   // the model's outputs, once probed (candidatesPerWindow)

  explicit Impl(const ExplainerParams& p) : params(p), model(p.model, p.threads, p.device) {}

  std::vector<int64_t> inputShape() const {
    return {1, 3, params.windows.clipLen, params.preprocess.cropHeight, params.preprocess.cropWidth};
  }

  // A labels file longer than the model's outputs is refused; a shorter one is accepted with a
  // warning (labelsWarning), the missing names shown as "class N".
  std::string labelsWarning;
  void checkLabels(size_t numClasses) {
    if (labels.size() > numClasses)
      throw Error(ErrorKind::Usage, params.labelsFile + ": " + plural(labels.size(), "name") +
                                        ", but the model has " + plural(numClasses, "class") +
                                        " (line N names class id N)");
    if (!labels.empty() && labels.size() < numClasses)
      labelsWarning = params.labelsFile + ": " + plural(labels.size(), "name") + " for the model's " +
                      plural(numClasses, "class") + "; class " + std::to_string(labels.size()) +
                      (numClasses - labels.size() > 1 ? " and up are" : " is") + " shown as 'class N'";
  }

  // decode → windows → capture → maps. `only` (when non-null) restricts the model to those
  // window indices; onWindow(window, maps) sees every explained window in order.
  // Windows per forward pass.
  size_t batchSize() const { return static_cast<size_t>(params.batchSize > 0 ? params.batchSize : kDefaultBatchSize); }

  // decode → windows (on the stream's thread) → batches of windows → capture → maps. `only`
  // (when non-null) restricts the model to those window indices; onWindow(window, maps) sees
  // every explained window in order.
  template <class OnWindow>
  ModelPass modelPass(const InputFile& input, WindowExplainer& engine, const std::set<int64_t>* only,
                      const ClassChooser& classesFor, const ProgressCallback& progress, OnWindow&& onWindow,
                      bool allowImage = true) {
    ModelPass pass;
    const size_t B = batchSize();
    WindowStream stream(input, params.preprocess, params.windows, 2 * B);
    pass.info = stream.info();
    std::vector<Window> batch;
    int64_t windowsDone = 0;
    const auto t0 = Clock::now();
    auto flush = [&] {
      if (batch.empty()) return;
      std::vector<const Volume*> inputs;
      std::vector<int64_t> ids;
      for (const Window& w : batch) inputs.push_back(&w.input), ids.push_back(w.index);
      const auto tm = Clock::now();
      std::vector<WindowMaps> maps = engine.explain(inputs, classesFor, ids);
      pass.modelSeconds += since(tm);
      for (size_t i = 0; i < batch.size(); ++i) {
        pass.passes += maps[i].capturePasses;
        if (pass.methodPasses.size() < maps[i].methodPasses.size()) pass.methodPasses.resize(maps[i].methodPasses.size(), 0.0);
        for (size_t m = 0; m < maps[i].methodPasses.size(); ++m) {
          pass.passes += maps[i].methodPasses[m];
          pass.methodPasses[m] += maps[i].methodPasses[m];
        }
        checkLabels(maps[i].logits.size());
        if (pass.logitSum.empty()) pass.logitSum.assign(maps[i].logits.size(), 0.0);
        if (pass.cellShape.empty()) pass.cellShape = maps[i].cellShape;
        for (size_t k = 0; k < maps[i].logits.size(); ++k) pass.logitSum[k] += maps[i].logits[k];
        onWindow(batch[i], maps[i]);
      }
      windowsDone += static_cast<int64_t>(batch.size());
      batch.clear();
      checkStop("explain", windowsDone);
      if (progress)
        progress({only ? "re-explain" : "explain", stream.framesSeen(), pass.info.frameCountHint, since(t0), windowsDone,
                  static_cast<int64_t>(pass.passes)});
    };
    if (progress)
      engine.onPasses([&](int64_t inBatch) {
        progress({only ? "re-explain" : "explain", stream.framesSeen(), pass.info.frameCountHint, since(t0), windowsDone,
                  static_cast<int64_t>(pass.passes), inBatch});
      });
    struct Untick {
      WindowExplainer& e;
      ~Untick() { e.onPasses({}); }
    } untick{engine};
    Window window;
    while (stream.next(window)) {
      if (only && !only->count(window.index)) continue;
      batch.push_back(std::move(window));
      if (batch.size() == B) flush();
    }
    // Before the only batch of a one-frame input reaches the model (and any progress line).
    if (!allowImage && pass.info.imageFormat && stream.framesSeen() == 1)
      throw Error(ErrorKind::Input, input.name() + ": a still image (" + pass.info.codec +
                                        "), not a video; --allow-image explains it as a one-frame clip");
    flush();
    pass.frames = stream.framesSeen();
    if (pass.frames == 0) throw Error(ErrorKind::Input, input.name() + ": no decodable video frames");
    pass.decodeErrors = stream.decodeErrors();
    pass.lastDecodeError = stream.lastDecodeError();
    return pass;
  }

  // Everything up to the panel store; shared by explain() and analyse().
  struct Prepared {
    ModelPass pass;
    std::vector<int> classes;
    std::vector<float> meanLogits;
    std::vector<Panel> panels;
    WindowStore panelStore;
    std::vector<Explanation> explanations;
    std::vector<std::string> warnings;
    std::vector<nlohmann::json> windowJson;
    int64_t windows = 0, reExplained = 0;
    double modelSeconds = 0, passes = 0;
  };

  void prepare(const ExplainRequest& rq, const InputFile& input, Prepared& out, const ProgressCallback& progress,
               RawDirSink* raw, bool keepWindowJson) {
    const ClassChoice choice = parseClassChoice(rq.classSpec, labels, params.labelsFile);
    WindowExplainerOptions wo;
    wo.batch = static_cast<int>(batchSize());
    for (int c = 0; c < 3; ++c) wo.black[static_cast<size_t>(c)] = -params.preprocess.mean[static_cast<size_t>(c)] / params.preprocess.std[static_cast<size_t>(c)];
    wo.centres = centres;
    wo.perturbation = rq.perturbation;
    WindowExplainer engine(model, layer, rq.methods, rq.skipUnavailable, wo);
    const std::vector<std::string>& methods = engine.methods();
    out.warnings = engine.skipped();
    if (!labelsWarning.empty()) out.warnings.push_back(labelsWarning);
    const size_t M = methods.size();

    // ---- model pass ----
    WindowStore all;
    auto toRecord = [&](const Window& w, WindowMaps& maps) {
      WindowRecord r;
      r.index = w.index;
      r.frames = w.frames;
      r.geometry = w.geometry;
      r.logits = std::move(maps.logits);
      r.classIds = std::move(maps.classIds);
      r.maps = std::move(maps.maps);
      r.notes = std::move(maps.notes);
      for (EmptyReason e : maps.empty) r.empty.push_back(static_cast<int>(e));
      return r;
    };
    out.pass = modelPass(input, engine, nullptr, [&](const std::vector<float>& l) { return choice.candidates(l); },
                         progress, [&](const Window& w, WindowMaps& maps) {
                           if (raw) raw->input(w.index, w.input);
                           all.append(toRecord(w, maps));
                         }, rq.allowImage);
    out.windows = all.size();
    out.modelSeconds = out.pass.modelSeconds;
    // A container that promised more frames than decoded: truncated or damaged data.
    const int64_t promised = out.pass.info.frameCountHint;
    if (promised > 0 && static_cast<double>(out.pass.frames) < 0.95 * static_cast<double>(promised) - 1)
      out.warnings.push_back("the container promises " + plural(promised, "frame") + " but " +
                             std::to_string(out.pass.frames) + " decoded (truncated or damaged data); the explanation "
                             "covers frames 0-" + std::to_string(out.pass.frames - 1));
    // Damage the decoder concealed or skipped: the frames are there, but may show artefacts.
    if (out.pass.decodeErrors > 0)
      out.warnings.push_back("the decoder reported " + plural(out.pass.decodeErrors, "error") +
                             " (damaged data; frames may show artefacts); the last: " + out.pass.lastDecodeError);

    // The geometry walk must agree with the layer's real output (an op it misread would not).
    const auto& cs = out.pass.cellShape;
    if (!centres.empty() && cs.size() == 3 &&
        (static_cast<int64_t>(centres.t.size()) != cs[0] || static_cast<int64_t>(centres.h.size()) != cs[1] ||
         static_cast<int64_t>(centres.w.size()) != cs[2])) {
      geometryNote = "the graph walk gave " + std::to_string(centres.t.size()) + "x" + std::to_string(centres.h.size()) +
                     "x" + std::to_string(centres.w.size()) + " cells, the layer outputs " + std::to_string(cs[0]) + "x" +
                     std::to_string(cs[1]) + "x" + std::to_string(cs[2]);
      centres = CellCentres{};
    }
    if (centres.empty())
      out.warnings.push_back("layer " + layer + ": cell geometry unknown (" + geometryNote +
                             "); heatmaps assume evenly tiled cells");

    // ---- the explained classes ----
    out.meanLogits.resize(out.pass.logitSum.size());
    for (size_t i = 0; i < out.meanLogits.size(); ++i)
      out.meanLogits[i] = static_cast<float>(out.pass.logitSum[i] / static_cast<double>(out.windows));
    bool clipped = false;
    out.classes = choice.resolve(out.meanLogits, &clipped);
    if (clipped)
      out.warnings.push_back("--class top" + std::to_string(choice.topK) + ": the model has only " +
                             plural(out.meanLogits.size(), "class") + "; explaining " +
                             std::to_string(out.classes.size()));

    // ---- re-explain (only if needed): windows whose candidates missed an explained class ----
    std::set<int64_t> missing;
    WindowRecord r;
    all.rewind();
    while (all.next(r))
      for (int c : out.classes)
        if (r.find(0, c) < 0) missing.insert(r.index);
    WindowStore recomputed;
    out.reExplained = static_cast<int64_t>(missing.size());
    out.passes = out.pass.passes;
    if (!missing.empty()) {
      const ModelPass again = modelPass(input, engine, &missing, [&](const std::vector<float>&) { return out.classes; },
                                        progress, [&](const Window& w, WindowMaps& maps) { recomputed.append(toRecord(w, maps)); });
      out.modelSeconds += again.modelSeconds;
      out.passes += again.passes;
    }

    // ---- panels: one map per explanation and window ----
    out.panels = makePanels(methods, out.classes, labels);
    const size_t P = out.panels.size();
    out.explanations.resize(P);
    const std::vector<double> meanProb = softmax(out.meanLogits);
    for (size_t p = 0; p < P; ++p) {
      Explanation& e = out.explanations[p];
      e.method = out.panels[p].method;
      e.classId = out.panels[p].classId;
      e.className = out.panels[p].className;
      e.classScore = meanProb.at(static_cast<size_t>(e.classId));
      const size_t m = p % M;
      if (m < out.pass.methodPasses.size())
        e.passesPerWindow = out.pass.methodPasses[m] / static_cast<double>(std::max<int64_t>(1, out.windows));
    }
    all.rewind();
    recomputed.rewind();
    WindowRecord extra;
    while (all.next(r)) {
      const WindowRecord* src = &r;
      if (missing.count(r.index)) {
        if (!recomputed.next(extra) || extra.index != r.index)
          throw Error(ErrorKind::Internal, "window " + std::to_string(r.index) + " was not re-explained");
        src = &extra;
      }
      const std::vector<double> prob = softmax(r.logits);
      WindowRecord pr;
      pr.index = r.index;
      pr.frames = r.frames;
      pr.geometry = r.geometry;
      for (size_t p = 0; p < P; ++p) {
        const size_t m = p % M;
        const int64_t at = src->find(m, out.panels[p].classId);
        if (at < 0) throw Error(ErrorKind::Internal, "window " + std::to_string(r.index) + " lacks a map");
        pr.maps.push_back(src->maps[static_cast<size_t>(at)]);
        pr.notes.push_back(src->notes[static_cast<size_t>(at)]);
        pr.empty.push_back(src->empty.at(static_cast<size_t>(at)));
        pr.scores.push_back(prob.at(static_cast<size_t>(out.panels[p].classId)));
        if (pr.empty.back() != 0) {
          ++out.explanations[p].zeroWindows;
          ++out.explanations[p].emptyReasons[emptyReasonCode(static_cast<EmptyReason>(pr.empty.back()))];
        }
        out.explanations[p].clampedAlphaCells += pr.notes.back();
      }
      if (keepWindowJson || raw) {
        nlohmann::json wj;
        wj["index"] = r.index;
        wj["first_frame"] = r.frames.front();
        wj["last_frame"] = r.frames.back();
        wj["frames"] = r.frames;
        if (params.preprocess.spatial == Spatial::Tiles) {
          wj["tile"] = r.geometry.tile;
          wj["crop"] = {{"x", r.geometry.cropX}, {"y", r.geometry.cropY}, {"width", r.geometry.cropWidth}, {"height", r.geometry.cropHeight}};
        }
        wj["logits"] = r.logits;
        wj["class_score"] = prob.at(static_cast<size_t>(out.classes.front()));
        nlohmann::json top = nlohmann::json::array();
        for (int k : topK(r.logits, 5))
          top.push_back({{"class", k}, {"name", classNameOf(k, labels)}, {"score", prob[static_cast<size_t>(k)]}});
        wj["top5"] = top;
        nlohmann::json mj = nlohmann::json::array();
        for (size_t p = 0; p < P; ++p) {
          const Volume& v = pr.maps[p];
          const EmptyReason why = static_cast<EmptyReason>(pr.empty[p]);
          mj.push_back({{"method", out.panels[p].method},
                        {"class", out.panels[p].classId},
                        {"max", v.data.empty() ? 0.f : *std::max_element(v.data.begin(), v.data.end())},
                        {"empty", why == EmptyReason::None ? nlohmann::json(nullptr) : nlohmann::json(emptyReasonCode(why))}});
        }
        wj["maps"] = mj;
        if (raw) {
          nlohmann::json rec = wj;
          rec["class"] = out.classes.front();
          rec["method"] = methods.front();
          rec["layer"] = layer;
          std::vector<const Volume*> maps;
          for (const Volume& v : pr.maps) maps.push_back(&v);
          raw->window(r.index, out.panels, maps, rec);
        }
        if (keepWindowJson) out.windowJson.push_back(std::move(wj));
      }
      out.panelStore.append(pr);
    }
  }

  // One line per explanation that is mostly empty or dark (thresholds in explain.hpp), naming
  // the commonest cause and what to try.
  static void emptinessWarnings(Prepared& pr, Normalize norm) {
    for (const Explanation& e : pr.explanations) {
      const bool empty = e.zeroWindows > kEmptyWindowsWarn * static_cast<double>(pr.windows);
      const bool dark = e.darkFrames > kDarkFramesWarn * static_cast<double>(pr.pass.frames);
      if (!empty && !dark) continue;
      std::string line = e.method + " for '" + e.className + "': ";
      std::string advice;
      // The commonest reason; on a tie the first by code, as the JSON's empty_reasons lists them.
      EmptyReason why = EmptyReason::None;
      int64_t most = 0;
      for (EmptyReason r : {EmptyReason::NegativeEvidence, EmptyReason::NoPositiveGradient, EmptyReason::ZeroActivation,
                            EmptyReason::ZeroGradient}) {
        const auto it = e.emptyReasons.find(emptyReasonCode(r));
        if (it != e.emptyReasons.end() && it->second > most) why = r, most = it->second;
      }
      if (e.zeroWindows > 0)
        line += "the map is all zero in " + std::to_string(e.zeroWindows) + " of " + plural(pr.windows, "window") +
                (e.zeroWindows == pr.windows ? " (the whole explanation is empty)" : "") +
                (e.emptyReasons.size() > 1 ? ", most often because " : ": ") + emptyReasonText(why);
      if (dark && e.zeroWindows < pr.windows) {
        if (e.zeroWindows > 0) line += "; ";
        char pct[16];
        std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * static_cast<double>(e.darkFrames) / static_cast<double>(pr.pass.frames));
        line += std::string(pct) + " of the frames (" + std::to_string(e.darkFrames) + " of " +
                std::to_string(pr.pass.frames) + ") peak below " + std::to_string(kDarkFrame).substr(0, 3) +
                " after --normalize " + normalizeName(norm);
      }
      if (empty && (why == EmptyReason::ZeroActivation || why == EmptyReason::ZeroGradient))
        advice = "try another layer (--list-layers)";
      else if (empty && why == EmptyReason::NoPositiveGradient)
        advice = "the class score only falls with this layer's activation: try another layer (--list-layers), another "
                 "--class or --method eigencam";
      else if (empty)
        advice = "try --method gradcam++ (positive gradients only) or another layer (--list-layers)";
      else
        advice = "try --normalize frame (each frame to its own peak) or --normalize window";
      pr.warnings.push_back(line + "; " + advice);
    }
  }

  // Per panel: every frame's maximum and mean heat, and the video's maximum.
  struct HeatStats {
    std::vector<std::vector<float>> frameMax, frameMean;
    std::vector<float> videoMax;
    std::vector<float> videoQuantile;  // kVideoQuantile of the positive heat (Normalize::Video)
  };

  // Positive floats binned by their top 16 bits (exponent and 7 mantissa bits): a quantile to
  // within 2^-7 of its value, in one streaming pass and 256 KiB per panel.
  struct PositiveHistogram {
    std::vector<int64_t> bins = std::vector<int64_t>(1u << 15, 0);
    int64_t count = 0;
    void add(float v) {
      if (!(v > 0) || !std::isfinite(v)) return;
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      ++bins[bits >> 16];
      ++count;
    }
    float quantile(double q) const {
      if (count == 0) return 0.f;
      const double want = q * static_cast<double>(count);
      int64_t below = 0;
      for (size_t b = 0; b < bins.size(); ++b) {
        if (bins[b] == 0) continue;
        if (static_cast<double>(below + bins[b]) >= want) {
          const uint32_t lo = static_cast<uint32_t>(b) << 16, hi = (static_cast<uint32_t>(b) + 1) << 16;
          float flo, fhi;
          std::memcpy(&flo, &lo, sizeof flo);
          std::memcpy(&fhi, &hi, sizeof fhi);
          const double t = std::clamp((want - static_cast<double>(below)) / static_cast<double>(bins[b]), 0.0, 1.0);
          return static_cast<float>(flo + t * (fhi - flo));
        }
        below += bins[b];
      }
      return 0.f;
    }
  };
  HeatStats statistics(Prepared& pr, Normalize norm) {
    const size_t P = pr.panels.size();
    HeatStats s;
    s.frameMax.assign(P, std::vector<float>(static_cast<size_t>(pr.pass.frames), 0.f));
    s.frameMean = s.frameMax;
    s.videoMax.assign(P, 0.f);
    std::vector<PositiveHistogram> hist(norm == Normalize::Video ? P : 0);
    FrameHeatSource heat(pr.panelStore, P, params.windows, params.preprocess, norm, centres);
    int64_t f = 0;
    std::vector<std::vector<float>> maps;
    std::vector<double> prob;
    while (heat.next(f, maps, prob))
      at::parallel_for(0, static_cast<int64_t>(P), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const size_t p = static_cast<size_t>(i);
          // One pass for maximum and mean; rows summed in float, the frame in double.
          const std::vector<float>& h = maps[p];
          const size_t w = static_cast<size_t>(std::max(1, pr.pass.info.width));
          float m = 0.f;
          double sum = 0;
          for (size_t r = 0; r < h.size(); r += w) {
            float rs = 0.f;
            for (size_t x = r; x < std::min(h.size(), r + w); ++x) {
              rs += h[x];
              m = std::max(m, h[x]);
            }
            if (!hist.empty())
              for (size_t x = r; x < std::min(h.size(), r + w); ++x) hist[p].add(h[x]);
            sum += rs;
          }
          s.frameMax[p].at(static_cast<size_t>(f)) = m;
          s.frameMean[p].at(static_cast<size_t>(f)) = static_cast<float>(sum / static_cast<double>(h.size()));
          s.videoMax[p] = std::max(s.videoMax[p], m);
        }
      });
    s.videoQuantile.assign(P, 0.f);
    for (size_t p = 0; p < P; ++p) {
      Explanation& e = pr.explanations[p];
      e.videoMax = s.videoMax[p];
      // The quantile never exceeds the maximum (the bin's upper edge may).
      if (!hist.empty()) s.videoQuantile[p] = std::min(s.videoMax[p], hist[p].quantile(kVideoQuantile));
      e.divisor = norm == Normalize::Video ? s.videoQuantile[p] : norm == Normalize::VideoMax ? s.videoMax[p] : 0.f;
      e.darkFrames = 0;
      for (size_t f = 0; f < s.frameMax[p].size(); ++f) {
        const float d = divisor(s, p, static_cast<int64_t>(f), norm);
        if (!(d > 0) || s.frameMax[p][f] / d < kDarkFrame) ++e.darkFrames;
      }
    }
    emptinessWarnings(pr, norm);
    return s;
  }

  // The divisor that maps a frame's raw heat to the rendered [0,1] heat (a division, so the
  // maximum becomes exactly 1); 0 means the frame has no heat at all.
  static float divisor(const HeatStats& s, size_t p, int64_t f, Normalize norm) {
    switch (norm) {
      case Normalize::Video: return s.videoQuantile[p];
      case Normalize::VideoMax: return s.videoMax[p];
      case Normalize::Frame: return s.frameMax[p][static_cast<size_t>(f)];
      case Normalize::Window: return 1.f;
    }
    return 1.f;
  }

  nlohmann::json summary(const ExplainRequest& rq, const Prepared& pr, const ExplainResult& result,
                         const std::vector<std::vector<float>>& importance) const;

  static std::vector<std::vector<float>> importance(const HeatStats& s, Normalize norm) {
    std::vector<std::vector<float>> imp(s.frameMean.size());
    for (size_t p = 0; p < imp.size(); ++p) {
      imp[p].resize(s.frameMean[p].size());
      for (size_t f = 0; f < imp[p].size(); ++f) {
        const float d = divisor(s, p, static_cast<int64_t>(f), norm);
        imp[p][f] = d > 0 ? s.frameMean[p][f] / d : 0.f;
      }
    }
    return imp;
  }
};

// The windows in flight (the decoder's queue of 2 batches, the batch in the model, the sampler's
// window being filled) must fit in half the memory this process may use: a --clip-len, --crop
// or --batch-size that cannot is refused before anything is allocated.
static void checkWindowMemory(const ExplainerParams& p) {
  const int64_t B = p.batchSize > 0 ? p.batchSize : kDefaultBatchSize;
  const double window = 3.0 * p.windows.clipLen * p.preprocess.cropHeight * p.preprocess.cropWidth * sizeof(float);
  const double need = (3.0 * static_cast<double>(B) + 1.0) * window;
  const int64_t avail = availableMemoryBytes();
  if (avail <= 0 || need <= 0.5 * static_cast<double>(avail)) return;
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "--clip-len %d, --crop %dx%d and --batch-size %lld need %.1f GiB for the windows in flight (%lld "
                "windows of %.2f GiB); %.1f GiB of memory is available: lower one of them",
                p.windows.clipLen, p.preprocess.cropHeight, p.preprocess.cropWidth, static_cast<long long>(B),
                need / (1 << 30), static_cast<long long>(3 * B + 1), window / (1 << 30),
                static_cast<double>(avail) / (1 << 30));
  throw Error(ErrorKind::Usage, buf);
}

Explainer::Explainer(const ExplainerParams& p) {
  if (p.model.empty()) throw Error(ErrorKind::Usage, "--model is required");
  // Frames between two windows would get no heatmap: refused before any work. (Training's
  // validation windows may skip frames; they do not come through here.)
  if (p.windows.stride > p.windows.span() && p.windows.clipLen >= 1 && p.windows.frameStep >= 1)
    throw Error(ErrorKind::Usage, "--stride " + std::to_string(p.windows.stride) + " is larger than " +
                                      (p.windows.frameStep == 1 ? "--clip-len " + std::to_string(p.windows.clipLen)
                                                                : "the window's span of " + std::to_string(p.windows.span()) + " frames") +
                                      ": the frames between windows would not be explained");
  { WindowSampler limits(p.preprocess, p.windows); }  // sizes within the documented limits, before the probe
  checkWindowMemory(p);
  std::vector<std::string> labels = p.labelsFile.empty() ? std::vector<std::string>{} : readLabels(p.labelsFile);
  const auto t0 = Clock::now();
  impl_ = std::make_unique<Impl>(p);
  impl_->labels = std::move(labels);
  impl_->model.setOutput(p.modelOutput);
  impl_->layer = p.layer.empty() ? impl_->model.defaultLayer(impl_->inputShape()) : p.layer;
  impl_->model.setTargetLayer(impl_->layer);
  // Where the layer's cells sit in the crop (C3D's padded pool5 does not tile it evenly).
  impl_->centres = impl_->model.cellCentres(impl_->inputShape(), &impl_->geometryNote);
  // Labels against the model's outputs, before any video is read (a probe pass on zeros).
  if (!impl_->labels.empty()) {
    const Volume zeros(impl_->inputShape());
    impl_->classes = static_cast<int64_t>(impl_->model.predict(zeros).size());
    impl_->checkLabels(static_cast<size_t>(impl_->classes));
  }
  impl_->setupSeconds = since(t0);
}

Explainer::~Explainer() = default;
Explainer::Explainer(Explainer&&) noexcept = default;
Explainer& Explainer::operator=(Explainer&&) noexcept = default;

const ExplainerParams& Explainer::params() const { return impl_->params; }
const std::string& Explainer::layer() const { return impl_->layer; }
const CellCentres& Explainer::cellCentres() const { return impl_->centres; }
const std::string& Explainer::geometryNote() const { return impl_->geometryNote; }
const std::vector<std::string>& Explainer::labels() const { return impl_->labels; }
double Explainer::setupSeconds() const { return impl_->setupSeconds; }
Model& Explainer::model() { return impl_->model; }

int64_t Explainer::layerChannels() {
  if (impl_->channels < 0) {
    impl_->channels = 0;
    for (const LayerInfo& l : impl_->model.listLayers(impl_->inputShape()))
      if (l.name == impl_->layer && l.outputShape.size() == 5) impl_->channels = l.outputShape[1];
  }
  return impl_->channels;
}

int64_t Explainer::candidatesPerWindow(const std::string& classSpec) {
  const ClassChoice choice = parseClassChoice(classSpec, impl_->labels, impl_->params.labelsFile);
  if (choice.isFixed()) return static_cast<int64_t>(choice.fixed.size());
  if (impl_->classes < 0) {
    const Volume zeros(impl_->inputShape());
    impl_->classes = static_cast<int64_t>(impl_->model.predict(zeros).size());
  }
  return static_cast<int64_t>(choice.candidates(std::vector<float>(static_cast<size_t>(impl_->classes), 0.f)).size());
}

std::vector<std::string> Explainer::usableMethods(const std::vector<std::string>& methods,
                                                  std::vector<std::string>* skipped) {
  WindowExplainer engine(impl_->model, impl_->layer, methods, /*skipUnavailable=*/true);
  if (skipped) *skipped = engine.skipped();
  return engine.methods();
}

namespace {

void checkRequest(const ExplainRequest& rq) {
  checkRenderParams(rq.render);
  if (rq.input.empty()) throw Error(ErrorKind::Usage, "an input video is required");
  if (rq.methods.empty()) throw Error(ErrorKind::Usage, "--method names no method");
  for (const auto& [flag, path] : std::vector<std::pair<const char*, std::string>>{
           {"--out", rq.output}, {"--json", rq.jsonFile}, {"--save-heatmaps", rq.heatmapsNpy}, {"--save-raw", rq.rawDir}})
    if (path == "-")
      throw Error(ErrorKind::Usage, std::string(flag) + " -: standard output is not supported (outputs are files, "
                                                        "written whole and renamed into place)");
  if (InputFile::isStdin(rq.input)) return;
  std::error_code ec;
  if (!fs::exists(rq.input, ec)) throw Error(ErrorKind::Input, rq.input + ": file does not exist");
}

// Two paths that name one file: the same file on disk (a symlink or a hard link to it), or, when
// one does not exist yet, the same canonical path.
bool sameFile(const std::string& a, const std::string& b) {
  std::error_code ec, ea, eb;
  if (fs::exists(a, ea) && fs::exists(b, eb)) return fs::equivalent(a, b, ec);
  const fs::path ca = fs::weakly_canonical(fs::absolute(a), ea), cb = fs::weakly_canonical(fs::absolute(b), eb);
  return !ea && !eb && ca == cb;
}

// Every output differs from every input (video, model, labels) and from every other output,
// checked before any work (an output onto the input would destroy it).
void checkOutputsDiffer(const ExplainRequest& rq, const std::string& output, const ExplainerParams& params) {
  std::vector<std::pair<std::string, std::string>> outs;  // (what, path)
  if (!output.empty()) outs.push_back({"output", output});
  if (!rq.jsonFile.empty()) outs.push_back({"--json", rq.jsonFile});
  if (!rq.heatmapsNpy.empty()) {
    outs.push_back({"--save-heatmaps", rq.heatmapsNpy});
    if (rq.methods.size() > 1)
      for (const std::string& m : rq.methods) outs.push_back({"--save-heatmaps", taggedPath(rq.heatmapsNpy, m)});
  }
  if (!rq.rawDir.empty()) outs.push_back({"--save-raw", rq.rawDir});
  const std::vector<std::pair<std::string, std::string>> ins{
      {"the input video", InputFile::isStdin(rq.input) ? "" : rq.input}, {"the model file", params.model},
      {"the labels file", params.labelsFile}};
  // --save-raw replaces and removes files of its own naming in its folder: no input may live there.
  if (!rq.rawDir.empty())
    for (const auto& [what, path] : ins) {
      std::error_code ec;
      const fs::path parent = fs::path(path).parent_path();
      if (!path.empty() && fs::is_directory(rq.rawDir, ec) && sameFile(parent.empty() ? "." : parent.string(), rq.rawDir))
        throw Error(ErrorKind::Usage, rq.rawDir + ": --save-raw folder holds " + what + " (" + path +
                                          "); give the raw outputs a folder of their own");
    }
  for (size_t i = 0; i < outs.size(); ++i) {
    for (const auto& [what, path] : ins)
      if (!path.empty() && sameFile(outs[i].second, path))
        throw Error(ErrorKind::Usage, outs[i].second + ": " + outs[i].first + " would overwrite " + what);
    for (size_t j = 0; j < i; ++j)
      if (sameFile(outs[i].second, outs[j].second) && outs[i].first != outs[j].first)
        throw Error(ErrorKind::Usage, outs[i].second + ": " + outs[i].first + " and " + outs[j].first +
                                          " name the same file");
  }
}

ExplainResult resultOf(const Explainer& ex, const std::vector<Explanation>& explanations,
                       const std::vector<std::string>& warnings) {
  ExplainResult r;
  r.layer = ex.layer();
  r.explanations = explanations;
  r.warnings = warnings;
  r.classId = explanations.front().classId;
  r.className = explanations.front().className;
  r.classScore = explanations.front().classScore;
  return r;
}

}  // namespace

// The JSON summary of an explain run (README, --json).
nlohmann::json Explainer::Impl::summary(const ExplainRequest& rq, const Prepared& pr, const ExplainResult& result,
                                        const std::vector<std::vector<float>>& importance) const {
  const Impl& d = *this;
  const size_t P = pr.panels.size();
  const VideoInfo& info = pr.pass.info;
  nlohmann::json j;
  j["input"] = rq.input;
  j["video"] = {{"width", info.width}, {"height", info.height}, {"fps", info.fps}, {"frames", result.frames},
                {"frames_promised", info.frameCountHint}, {"decode_errors", pr.pass.decodeErrors},
                {"rotation", info.rotation}, {"codec", info.codec}};
  j["model"] = d.params.model;
  j["layer"] = d.layer;
  if (d.centres.empty())
    j["cell_centres"] = {{"known", false}, {"reason", d.geometryNote}, {"assumed", "even tiling (align_corners=False)"}};
  else
    j["cell_centres"] = {{"known", true}, {"t", d.centres.t}, {"h", d.centres.h}, {"w", d.centres.w}};
  if (!d.params.modelOutput.empty()) j["model_output"] = d.params.modelOutput;
  j["method"] = pr.panels.front().method;
  std::vector<std::string> methods;
  for (const Panel& p : pr.panels)
    if (std::find(methods.begin(), methods.end(), p.method) == methods.end()) methods.push_back(p.method);
  j["methods"] = methods;
  j["normalize"] = normalizeName(rq.normalize);
  if (rq.normalize == Normalize::Video) j["normalize_quantile"] = kVideoQuantile;
  const ClassChoice choice = parseClassChoice(rq.classSpec, d.labels, d.params.labelsFile);
  const std::string chosen = choice.isFixed() ? "given" : choice.topK == 1 ? "top-1 of mean logits"
                                                                          : "top-" + std::to_string(choice.topK) + " of mean logits";
  j["class"] = {{"id", result.classId}, {"name", result.className}, {"score", result.classScore}, {"chosen", chosen}};
  nlohmann::json classes = nlohmann::json::array();
  const std::vector<double> meanProb = softmax(pr.meanLogits);
  for (int c : pr.classes)
    classes.push_back({{"id", c}, {"name", classNameOf(c, d.labels)}, {"score", meanProb[static_cast<size_t>(c)]}});
  j["classes"] = classes;
  j["preprocess"] = preprocessJson(d.params.preprocess, d.params.windows);
  j["mean_logits"] = pr.meanLogits;
  nlohmann::json top = nlohmann::json::array();
  for (int k : topK(pr.meanLogits, 5))
    top.push_back({{"class", k}, {"name", classNameOf(k, d.labels)}, {"score", meanProb[static_cast<size_t>(k)]}});
  j["top5"] = top;
  j["windows"] = pr.windowJson;
  j["windows_re_explained"] = result.windowsReExplained;
  j["model_passes"] = result.modelPasses;
  j["frame_importance"] = importance.front();
  nlohmann::json ex = nlohmann::json::array();
  for (size_t p = 0; p < P; ++p) {
    const Explanation& e = result.explanations[p];
    nlohmann::json ej = {{"method", e.method},
                         {"class", e.classId},
                         {"name", e.className},
                         {"score", e.classScore},
                         {"zero_windows", e.zeroWindows},
                         {"empty_reasons", e.emptyReasons},
                         {"dark_frames", e.darkFrames},
                         {"video_max", e.videoMax},
                         {"frame_importance", importance[p]}};
    if (e.method == "gradcam++") ej["clamped_alpha_cells"] = e.clampedAlphaCells;
    if (rq.normalize == Normalize::Video || rq.normalize == Normalize::VideoMax) ej["normalize_divisor"] = e.divisor;
    if (camMethod(e.method).perturbation()) ej["model_passes_per_window"] = e.passesPerWindow;
    if (!pr.panels[p].tag.empty()) ej["tag"] = pr.panels[p].tag;
    if (!rq.heatmapsNpy.empty())
      ej["heatmaps"] = pr.panels[p].tag.empty() ? rq.heatmapsNpy : taggedPath(rq.heatmapsNpy, pr.panels[p].tag);
    ex.push_back(ej);
  }
  j["explanations"] = ex;
  j["warnings"] = result.warnings;
  j["output"] = result.output;
  j["timings"] = {{"total_s", result.secondsTotal},
                  {"setup_s", result.secondsSetup},
                  {"model_s", result.secondsModel},
                  {"render_s", result.secondsRender}};
  return j;
}

ExplainResult Explainer::explain(const ExplainRequest& rq, const ProgressCallback& progress) {
  const auto tStart = Clock::now();
  checkRequest(rq);
  Impl& d = *impl_;

  // Claim every output location first: a bad path fails before minutes of work.
  if (InputFile::isStdin(rq.input) && !rq.noVideo && rq.output.empty())
    throw Error(ErrorKind::Usage, "standard input ('-') has no name to derive the output's from: give --out (or --no-video)");
  const std::string output = rq.noVideo ? "" : (rq.output.empty() ? defaultOutputPath(rq.input) : rq.output);
  checkOutputsDiffer(rq, output, d.params);
  for (const std::string& m : rq.methods) camMethod(m);  // unknown names fail before any file exists
  std::unique_ptr<Mp4Sink> mp4;
  std::unique_ptr<JsonSink> json;
  std::unique_ptr<RawDirSink> raw;
  if (!output.empty()) mp4 = std::make_unique<Mp4Sink>(output);
  if (!rq.jsonFile.empty()) json = std::make_unique<JsonSink>(rq.jsonFile);
  if (!rq.rawDir.empty()) raw = std::make_unique<RawDirSink>(rq.rawDir);

  const InputFile input(rq.input);  // a stream is copied once here: every pass opens it anew
  Impl::Prepared pr;
  d.prepare(rq, input, pr, progress, raw.get(), json != nullptr);
  std::unique_ptr<NpySink> npy;
  if (!rq.heatmapsNpy.empty()) npy = std::make_unique<NpySink>(rq.heatmapsNpy, pr.panels);

  ExplainResult result = resultOf(*this, pr.explanations, pr.warnings);
  result.output = output;
  result.cellCentres = d.centres;
  result.geometryNote = d.centres.empty() ? d.geometryNote : "";
  result.frames = pr.pass.frames;
  result.windows = pr.windows;
  result.windowsReExplained = pr.reExplained;
  result.modelPasses = static_cast<int64_t>(pr.passes + 0.5);
  result.secondsSetup = d.setupSeconds;

  // ---- statistics, then the render pass ----
  const Impl::HeatStats stats = d.statistics(pr, rq.normalize);
  result.explanations = pr.explanations;
  result.warnings = pr.warnings;
  if (rq.strict && !result.warnings.empty())
    throw Error(ErrorKind::Strict, input.name() + ": --strict: " + result.warnings.front() +
                                       (result.warnings.size() > 1 ? " (and " + std::to_string(result.warnings.size() - 1) + " more)" : ""));
  const std::vector<std::vector<float>> importance = Impl::importance(stats, rq.normalize);
  const size_t P = pr.panels.size();
  const auto tRender = Clock::now();
  {
    FrameHeatSource heat(pr.panelStore, P, d.params.windows, d.params.preprocess, rq.normalize, d.centres);
    std::unique_ptr<FrameStream> reader;  // decodes ahead on its own thread
    if (npy) npy->begin(result.frames, pr.pass.info.height, pr.pass.info.width);
    if (mp4) {
      reader = std::make_unique<FrameStream>(input, 4);
      const VideoInfo& vi = reader->info();
      // What the model saw: the bounding box of its crops (tiles cover the resized frame).
      PixelRect seen{vi.width, vi.height, 0, 0};
      int x1 = 0, y1 = 0;
      for (const CropGeometry& g : cropGeometries(vi.width, vi.height, d.params.preprocess)) {
        const PixelRect r = cropFootprint(g);
        seen.x = std::min(seen.x, r.x), seen.y = std::min(seen.y, r.y);
        x1 = std::max(x1, r.x + r.width), y1 = std::max(y1, r.y + r.height);
      }
      seen.width = x1 - seen.x, seen.height = y1 - seen.y;
      mp4->begin(vi, seen, pr.panels, importance, rq.render, rq.crf, rq.preset);
    }
    Frame frame;
    std::vector<std::vector<float>> maps;
    std::vector<double> prob;
    int64_t f = 0;
    while (heat.next(f, maps, prob)) {
      for (size_t p = 0; p < P; ++p) {
        const float dv = Impl::divisor(stats, p, f, rq.normalize);
        for (float& v : maps[p]) v = dv > 0 ? std::min(1.f, v / dv) : 0.f;
      }
      if (npy) npy->frame(maps);
      if (reader) {
        if (!reader->next(frame) || frame.index != f)
          throw Error(ErrorKind::Input, input.name() + ": the second decoding pass gave different frames than the first");
        mp4->frame(frame, maps, prob);
      }
      checkStop("render", f + 1);
      if (progress) progress({"render", f + 1, result.frames, since(tRender)});
    }
    if (npy) npy->close();
    if (mp4) mp4->close();
  }
  result.secondsRender = since(tRender);
  result.secondsModel = pr.modelSeconds;
  result.secondsTotal = since(tStart);

  if (json) json->write(d.summary(rq, pr, result, importance));

  // Everything succeeded: move the outputs into place together, the JSON summary last (a
  // summary on disk means every output it names is complete: batch resumes rely on it).
  checkStop();
  std::vector<Sink*> sinks;
  std::vector<std::string> targets;
  for (Sink* s : std::vector<Sink*>{mp4.get(), npy.get(), raw.get(), json.get()})
    if (s) {
      sinks.push_back(s);
      for (const std::string& t : s->targets()) targets.push_back(t);
    }
  const CommitLock lock(targets);  // another run onto the same files commits before or after, whole
  for (Sink* s : sinks) s->commit();
  return result;
}

ExplainResult Explainer::analyse(const ExplainRequest& rq, const WindowVisitor& onWindow, const FrameVisitor& onFrame,
                                 const ProgressCallback& progress) {
  const auto tStart = Clock::now();
  checkRequest(rq);
  Impl& d = *impl_;
  const InputFile input(rq.input);
  Impl::Prepared pr;
  d.prepare(rq, input, pr, progress, nullptr, false);
  if (pr.classes.size() != 1) throw Error(ErrorKind::Usage, "analyse explains one class per video");
  ExplainResult result = resultOf(*this, pr.explanations, pr.warnings);
  result.cellCentres = d.centres;
  result.geometryNote = d.centres.empty() ? d.geometryNote : "";
  result.frames = pr.pass.frames;
  result.windows = pr.windows;
  result.windowsReExplained = pr.reExplained;
  result.modelPasses = static_cast<int64_t>(pr.passes + 0.5);
  const size_t P = pr.panels.size();

  // The windows again, exactly as the model saw them, beside their maps.
  if (onWindow) {
    WindowStream stream(input, d.params.preprocess, d.params.windows, 2 * d.batchSize());
    pr.panelStore.rewind();
    Window window;
    WindowRecord rec;
    while (stream.next(window)) {
      if (!pr.panelStore.next(rec) || rec.index != window.index)
        throw Error(ErrorKind::Input, input.name() + ": the second decoding pass gave different windows than the first");
      AnalysedWindow aw;
      aw.window = &window;
      aw.classId = pr.classes.front();
      for (const Volume& v : rec.maps) aw.maps.push_back(&v);
      onWindow(aw);
    }
  }
  if (onFrame) {
    const Impl::HeatStats stats = d.statistics(pr, rq.normalize);
    result.explanations = pr.explanations;
    result.warnings = pr.warnings;
    FrameHeatSource heat(pr.panelStore, P, d.params.windows, d.params.preprocess, rq.normalize, d.centres);
    std::vector<std::vector<float>> maps;
    std::vector<double> prob;
    std::vector<const float*> ptrs(P);
    int64_t f = 0;
    while (heat.next(f, maps, prob)) {
      for (size_t p = 0; p < P; ++p) {
        const float dv = Impl::divisor(stats, p, f, rq.normalize);
        for (float& v : maps[p]) v = dv > 0 ? std::min(1.f, v / dv) : 0.f;
        ptrs[p] = maps[p].data();
      }
      onFrame(f, ptrs, pr.pass.info.width, pr.pass.info.height);
    }
  }
  result.secondsModel = pr.modelSeconds;
  result.secondsTotal = since(tStart);
  return result;
}

ExplainResult explainVideo(const ExplainParams& p, const ProgressCallback& progress) {
  // Cheap checks before the model loads.
  checkRequest(p);
  std::error_code ec;
  if (p.model.empty()) throw Error(ErrorKind::Usage, "--model is required");
  if (!fs::exists(p.model, ec)) throw Error(ErrorKind::Model, p.model + ": file does not exist");
  const auto t0 = Clock::now();
  Explainer explainer(p);
  ExplainResult r = explainer.explain(p, progress);
  r.secondsTotal = since(t0);  // the model's loading included
  return r;
}

}  // namespace ev
