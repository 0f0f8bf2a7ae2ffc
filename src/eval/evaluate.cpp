// The evaluation driver: one Explainer (one model load) for the run; per clip, the main
// command's own engine (Explainer::analyse) gives each window's exact model input and every
// method's map from a single capture, the explained class and the per-frame heatmaps, in
// memory; the metrics then only add masked forward passes (ev::Model::predict).
#include <algorithm>
#include <functional>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/localization.hpp"
#include "explain_video/model.hpp"
#include "explain_video/synth.hpp"
#include "explain_video/video.hpp"
#include "explain_video/windows.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace ev {
namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool isVideoFile(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ".mp4" || e == ".avi" || e == ".mkv" || e == ".mov" || e == ".webm" || e == ".m4v";
}

void checkParams(const EvalParams& p) {
  if (p.model.empty()) throw Error(ErrorKind::Usage, "eval: --model is required");
  if (p.inputs.empty()) throw Error(ErrorKind::Usage, "eval: no clip or folder given");
  if (p.methods.empty()) throw Error(ErrorKind::Usage, "eval: --methods names no method");
  for (size_t i = 0; i < p.methods.size(); ++i) {
    try {
      camMethod(p.methods[i]);
    } catch (const Error& e) {
      throw Error(ErrorKind::Usage, std::string("eval: --methods: ") + e.what());
    }
    for (size_t j = i + 1; j < p.methods.size(); ++j)
      if (p.methods[i] == p.methods[j])
        throw Error(ErrorKind::Usage, "eval: --methods lists " + p.methods[i] + " twice");
  }
  if (p.curveSteps < 0 || p.curveSteps == 1) throw Error(ErrorKind::Usage, "eval: --curve-steps must be 0 (off) or >= 2");
  if (p.delSteps < 0) throw Error(ErrorKind::Usage, "eval: --del-steps must be 0 (off) or >= 1");
  if (!(p.pointingTolerance >= 0 && p.pointingTolerance <= 1))
    throw Error(ErrorKind::Usage, "eval: --pointing-tolerance must be in 0..1");
  if (!(p.iouThreshold >= 0 && p.iouThreshold <= 1)) throw Error(ErrorKind::Usage, "eval: --iou-threshold must be in 0..1");
  if (!(p.instanceTolerance >= 0 && p.instanceTolerance <= 1))
    throw Error(ErrorKind::Usage, "eval: --instance-tolerance must be in 0..1");
  if (!(p.instancePeak > 0 && p.instancePeak <= 1)) throw Error(ErrorKind::Usage, "eval: --instance-peak must be in (0, 1]");
  if (p.blurKernel < 0) throw Error(ErrorKind::Usage, "eval: --blur-kernel must be >= 0");
  if (p.classFromTruth && !p.classSpec.empty())
    throw Error(ErrorKind::Usage, "eval: --class and --class-source truth exclude each other");
  std::error_code ec;
  if (!fs::exists(p.model, ec)) throw Error(ErrorKind::Model, p.model + ": file does not exist");
}

// Ground truth beside the video (<stem>.json), if it is there and parses.
bool readTruthBeside(const std::string& clip, ClipTruth& truth) {
  const fs::path j = fs::path(clip).replace_extension(".json");
  std::error_code ec;
  if (!fs::is_regular_file(j, ec)) return false;
  try {
    truth = readClipTruth(j.string());
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Localisation of one clip's heatmaps against its ground truth, frame by frame as they stream
// out of the explainer (docs/eval.md). Every score is a ratio or an argmax within a frame, so
// it does not depend on how the heat is normalised over the video.
class Localizer {
 public:
  Localizer(const ClipTruth& t, const EvalParams& p, const std::string& clip) : t_(t), p_(p), clip_(clip) {
    loc_.valid = true;
    loc_.partial = t.partial;
    loc_.instances = t.instances.size() >= 2 ? static_cast<int>(t.instances.size()) : 0;
  }
  void add(int64_t frame, const float* h, int W, int H) {
    if (t_.params.width != W || t_.params.height != H)
      throw Error(ErrorKind::Input, clip_ + ": ground truth is " + std::to_string(t_.params.width) + "x" +
                                        std::to_string(t_.params.height) + ", the video " + std::to_string(W) + "x" +
                                        std::to_string(H));
    const int mx = static_cast<int>(std::lround(p_.pointingTolerance * W));
    const int my = static_cast<int>(std::lround(p_.pointingTolerance * H));
    const size_t hw = static_cast<size_t>(H) * W;
    double s = 0;
    for (size_t i = 0; i < hw; ++i) s += h[i];
    all_ += s;
    const int f = static_cast<int>(frame);
    if (loc_.instances > 0) addInstances(f, h, W, H);
    if (f < t_.actionStart || f >= t_.actionEnd) return;
    inRange_ += s;
    if (f >= static_cast<int>(t_.actorBoxes.size()) || t_.actorBoxes[static_cast<size_t>(f)].empty()) return;
    const Box& box = t_.actorBoxes[static_cast<size_t>(f)];
    ++loc_.actionFrames;
    loc_.pointingHits += pointingHit(h, W, H, dilateBox(box, mx, my, W, H));
    loc_.heatInBoxSum += heatShareInBox(h, W, H, box);
    loc_.iouSum += thresholdIoU(h, W, H, box, p_.iouThreshold);
  }
  // The instances acting in frame f: found or not, and how the heat on them is spread.
  void addInstances(int f, const float* h, int W, int H) {
    std::vector<Box> boxes;
    for (const SynthInstance& in : t_.instances)
      if (f >= in.actionStart && f < in.actionEnd && f < static_cast<int>(in.boxes.size()) &&
          !in.boxes[static_cast<size_t>(f)].empty())
        boxes.push_back(in.boxes[static_cast<size_t>(f)]);
    if (boxes.empty()) return;
    const int mx = static_cast<int>(std::lround(p_.instanceTolerance * W));
    const int my = static_cast<int>(std::lround(p_.instanceTolerance * H));
    const InstanceScores s = scoreInstances(h, W, H, boxes, p_.instancePeak, mx, my);
    loc_.instancePairs += static_cast<int>(boxes.size());
    for (bool found : s.found) loc_.instancesFound += found;
    double total = 0;
    for (double v : s.heat) total += v;
    if (boxes.size() < 2 || !(total > 0)) return;
    std::vector<double> share;
    for (double v : s.heat) share.push_back(v / total);
    std::sort(share.begin(), share.end(), std::greater<double>());
    if (loc_.shareByRankSum.size() < share.size()) {
      loc_.shareByRankSum.resize(share.size(), 0.0);
      loc_.shareByRankFrames.resize(share.size(), 0);
    }
    for (size_t k = 0; k < share.size(); ++k) loc_.shareByRankSum[k] += share[k], ++loc_.shareByRankFrames[k];
    loc_.giniSum += gini(s.heat);
    ++loc_.instanceFrames;
  }
  ClipLocalization result() const {
    ClipLocalization l = loc_;
    l.heatInRange = all_ > 0 ? inRange_ / all_ : 0.0;
    return l;
  }

 private:
  const ClipTruth& t_;
  const EvalParams& p_;
  std::string clip_;
  ClipLocalization loc_;
  double inRange_ = 0, all_ = 0;
};

template <class T>
double mean(const std::vector<T>& v) {
  double s = 0;
  for (const T& x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

int64_t EvalResult::totalWindows() const { return methods.empty() ? 0 : static_cast<int64_t>(methods[0].windows.size()); }

std::vector<std::string> listEvalClips(const std::vector<std::string>& inputs) {
  std::vector<std::string> clips;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (!fs::exists(in, ec)) throw Error(ErrorKind::Input, in + ": no such file or folder");
    if (!fs::is_directory(in, ec)) {
      std::string ext = fs::path(in).extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (ext == ".csv" || ext == ".txt") {  // a manifest, as batch reads it
        for (const BatchInput& b : listBatchInputs({in})) clips.push_back(b.path);
        continue;
      }
      clips.push_back(in);
      continue;
    }
    const fs::path index = fs::path(in) / "index.json";
    std::vector<std::string> found;
    if (fs::is_regular_file(index, ec)) {
      nlohmann::json j;
      try {
        std::ifstream f(index);
        j = nlohmann::json::parse(f);
        for (const auto& c : j.at("clips")) found.push_back((fs::path(in) / c.at("video").get<std::string>()).string());
      } catch (const std::exception& e) {
        throw Error(ErrorKind::Input, index.string() + ": not a benchmark index (" + e.what() + ")");
      }
      for (const auto& f : found)
        if (!fs::exists(f, ec)) throw Error(ErrorKind::Input, f + ": listed in " + index.string() + " but missing");
    } else {
      for (const auto& e : fs::directory_iterator(in, ec))
        if (e.is_regular_file() && isVideoFile(e.path()) &&
            e.path().filename().string().find(".explained.") == std::string::npos)
          found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
    }
    if (found.empty()) throw Error(ErrorKind::Input, in + ": folder has no video clips");
    clips.insert(clips.end(), found.begin(), found.end());
  }
  return clips;
}

EvalResult runEvaluation(const EvalParams& p, const EvalProgressFn& progress) {
  const auto t0 = Clock::now();
  checkParams(p);
  EvalResult result;
  result.params = p;
  result.thetas = curveThetas(p.curveSteps);
  const std::vector<std::string> allClips = listEvalClips(p.inputs);
  if (p.shardCount < 1 || p.shardIndex < 0 || p.shardIndex >= p.shardCount)
    throw Error(ErrorKind::Usage, "eval: shard " + std::to_string(p.shardIndex) + "/" + std::to_string(p.shardCount) +
                                      " does not exist");
  std::vector<std::string> clips;
  std::vector<size_t> positions;
  for (size_t i = 0; i < allClips.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(p.shardCount)) == p.shardIndex) {
      clips.push_back(allClips[i]);
      positions.push_back(i);
    }

  // One model load for the run; per window one capture for every method.
  ExplainerParams xp;
  xp.model = p.model;
  xp.layer = p.layer;
  xp.modelOutput = p.modelOutput;
  xp.labelsFile = p.labelsFile;
  xp.preprocess = p.preprocess;
  xp.windows = p.windows;
  xp.threads = p.threads;
  xp.batchSize = p.batchSize;
  xp.device = p.device;
  Explainer explainer(xp);
  const int batch = p.batchSize > 0 ? p.batchSize : kDefaultBatchSize;
  Model& model = explainer.model();
  result.layer = explainer.layer();
  std::vector<std::string> methods = p.methods;
  if (p.skipUnavailable) {
    methods = explainer.usableMethods(p.methods, &result.warnings);
    result.params.methods = methods;
  }
  for (const std::string& m : methods) {
    MethodEval me;
    me.method = m;
    result.methods.push_back(me);
  }

  // Every masked input is scored in batches of `batch` (one forward pass per batch). `passes`
  // counts the inputs scored, for the progress line (docs/eval.md lists what each metric costs).
  int64_t passes = 0;
  int cls = -1;
  BatchScoreFn scoreBatch = [&](const std::vector<const Volume*>& inputs) {
    std::vector<double> s;
    for (size_t b = 0; b < inputs.size(); b += static_cast<size_t>(batch)) {
      const std::vector<const Volume*> chunk(inputs.begin() + static_cast<long>(b),
                                             inputs.begin() + static_cast<long>(std::min(inputs.size(), b + batch)));
      for (const auto& l : model.predict(chunk)) s.push_back(softmaxScore(l, cls));
    }
    passes += static_cast<int64_t>(inputs.size());
    return s;
  };

  // The forward passes the run will make, estimated up front from the containers' frame counts,
  // so that the progress line's ETA holds from the first clip: per window 1 (Y) + per method
  // 1 (O) + the θ steps other than 0 + 2·del-steps.
  int64_t estimatedPasses = 0;
  {
    const int64_t perWindow =
        1 + static_cast<int64_t>(methods.size()) *
                (1 + std::max<int64_t>(0, static_cast<int64_t>(result.thetas.size()) - 1) + 2 * std::max(0, p.delSteps));
    bool anyPerturbation = false;
    for (const std::string& m : methods) anyPerturbation = anyPerturbation || camMethod(m).perturbation();
    const int64_t channels = anyPerturbation ? explainer.layerChannels() : 0;
    // Maps are made for every candidate class of a window (the class is chosen per clip at its
    // end): one backward pass each in the capture, and smoothgradcam++'s per class.
    const int64_t candidates = explainer.candidatesPerWindow(p.classFromTruth ? "0" : p.classSpec);
    bool anyGradient = false;
    for (const std::string& m : methods) anyGradient = anyGradient || camMethod(m).has(kNeedGradient);
    int64_t methodPasses = 1 + (anyGradient ? candidates : 0);  // the capture
    for (const std::string& m : methods)
      methodPasses += methodPassesPerWindow(camMethod(m), channels, candidates, p.perturbation);
    for (const std::string& clip : clips) {
      int64_t frames = 0;
      try {
        frames = VideoReader(clip).info().frameCountHint;
      } catch (const Error&) {
      }
      estimatedPasses +=
          (perWindow + methodPasses) * static_cast<int64_t>(windowStarts(std::max<int64_t>(frames, 1), p.windows).size());
    }
  }

  int64_t clipModelPasses = 0;  // the current clip's model passes so far (explainer progress)
  for (size_t ci = 0; ci < clips.size(); ++ci) {
    const std::string& clip = clips[ci];
    const auto tc = Clock::now();
    ClipEval ce;
    ce.clip = clip;
    ce.position = positions[ci];
    ClipTruth truth;
    const bool hasTruth = readTruthBeside(clip, truth);
    if (hasTruth) ce.truthClass = truth.classId;
    ExplainRequest rq;
    rq.input = clip;
    rq.methods = methods;
    rq.classSpec = p.classFromTruth && hasTruth ? std::to_string(truth.classId) : p.classSpec;
    rq.normalize = Normalize::VideoMax;  // the localisation metrics' definition (docs/eval.md)
    rq.perturbation = p.perturbation;
    std::vector<Localizer> localizers;
    if (hasTruth)
      for (size_t mi = 0; mi < methods.size(); ++mi) localizers.emplace_back(truth, p, clip);

    auto onWindow = [&](const AnalysedWindow& aw) {
      const Volume& input = aw.window->input;
      cls = aw.classId;
      const double Y = scoreBatch({&input}).at(0);
      for (size_t mi = 0; mi < methods.size(); ++mi) {
        WindowEval we;
        we.clip = clip;
        we.window = aw.window->index;
        we.firstFrame = aw.window->firstFrame();
        we.lastFrame = aw.window->lastFrame();
        we.classId = cls;
        we.Y = Y;
        const Volume map = explanationMap(*aw.maps.at(mi), input.shape[2], input.shape[3], input.shape[4],
                                          explainer.cellCentres());  // as drawn
        // The masked input and every threshold map that differs from the full map, in one list.
        std::vector<Volume> masked{maskInput(input, map, p.preprocess)};
        std::vector<int> slot;  // per θ: index in masked (0: the full map, O)
        for (double theta : result.thetas) {
          const Volume tm = thresholdMap(map, theta);
          if (tm.data == map.data) {
            slot.push_back(0);
          } else {
            slot.push_back(static_cast<int>(masked.size()));
            masked.push_back(maskInput(input, tm, p.preprocess));
          }
        }
        std::vector<const Volume*> ptrs;
        for (const Volume& v : masked) ptrs.push_back(&v);
        const std::vector<double> o = scoreBatch(ptrs);
        we.O = o[0];
        we.drop = relativeDrop(we.Y, we.O);
        for (int s : slot) we.thresholdConf.push_back(relativeConfidence(we.Y, o[static_cast<size_t>(s)]));
        if (p.delSteps > 0) {
          we.deletion = deletionCurve(input, map, p.delSteps, meanColourBaseline(input), scoreBatch, batch, Y);
          we.insertion = insertionCurve(input, map, p.delSteps, blurBaseline(input, p.blurKernel), scoreBatch, batch, Y);
          we.deletionAuc = auc(we.deletion);
          we.insertionAuc = auc(we.insertion);
        }
        result.methods[mi].windows.push_back(std::move(we));
      }
      ++ce.windows;
      if (progress)
        progress({"eval passes", passes + clipModelPasses, std::max(passes + clipModelPasses, estimatedPasses), since(t0),
                  "clip " + std::to_string(ci + 1) + "/" + std::to_string(clips.size())});
    };
    FrameVisitor onFrame;
    if (hasTruth)
      onFrame = [&](int64_t f, const std::vector<const float*>& heat, int W, int H) {
        for (size_t mi = 0; mi < localizers.size(); ++mi) localizers[mi].add(f, heat.at(mi), W, H);
      };
    // The model pass's own passes (the perturbation methods make many) count in the progress too;
    // they interleave with the windows' scoring passes, so both reports add both counts.
    ProgressCallback modelProgress = [&](const ExplainProgress& e) {
      clipModelPasses = e.passes + e.passesInBatch;
      if (progress)
        progress({"eval passes", passes + clipModelPasses, std::max(passes + clipModelPasses, estimatedPasses), since(t0),
                  "clip " + std::to_string(ci + 1) + "/" + std::to_string(clips.size())});
    };
    const ExplainResult er = explainer.analyse(rq, onWindow, onFrame, modelProgress);
    passes += er.modelPasses;
    clipModelPasses = 0;
    ce.classId = er.classId;
    ce.frames = static_cast<int>(er.frames);
    if (ce.windows != static_cast<int>(er.windows)) throw Error(ErrorKind::Internal, clip + ": windows went missing");
    for (size_t mi = 0; mi < localizers.size(); ++mi) ce.localization[methods[mi]] = localizers[mi].result();
    ce.seconds = since(tc);
    result.clips.push_back(std::move(ce));
    // After each clip (the estimate is kept: a clip with fewer frames than its container said ends early).
    if (progress)
      progress({"eval passes", passes, std::max(passes, estimatedPasses), since(t0),
                "clip " + std::to_string(ci + 1) + "/" + std::to_string(clips.size())});
  }
  aggregateEval(result);
  result.secondsTotal = since(t0);
  result.forwardPasses = passes;
  return result;
}

void aggregateEval(EvalResult& r) {
  for (MethodEval& m : r.methods) {
    std::vector<double> Y, O;
    for (const WindowEval& w : m.windows) Y.push_back(w.Y), O.push_back(w.O);
    m.averageDrop = averageDrop(Y, O);
    m.increaseInConfidence = increaseInConfidence(Y, O);
    m.win.clear();
    m.thresholdCurve.assign(r.thetas.size(), 0.0);
    const size_t steps = m.windows.empty() ? 0 : m.windows[0].deletion.size();
    m.deletionCurve.assign(steps, 0.0);
    m.insertionCurve.assign(steps, 0.0);
    double dAuc = 0, iAuc = 0;
    for (const WindowEval& w : m.windows) {
      for (size_t k = 0; k < m.thresholdCurve.size() && k < w.thresholdConf.size(); ++k) m.thresholdCurve[k] += w.thresholdConf[k];
      for (size_t k = 0; k < steps && k < w.deletion.size(); ++k) m.deletionCurve[k] += w.deletion[k];
      for (size_t k = 0; k < steps && k < w.insertion.size(); ++k) m.insertionCurve[k] += w.insertion[k];
      dAuc += w.deletionAuc;
      iAuc += w.insertionAuc;
    }
    m.thresholdCurveMedian.assign(r.thetas.size(), 0.0);
    for (size_t k = 0; k < m.thresholdCurveMedian.size(); ++k) {
      std::vector<double> at;
      for (const WindowEval& w : m.windows)
        if (k < w.thresholdConf.size()) at.push_back(w.thresholdConf[k]);
      m.thresholdCurveMedian[k] = quantile(at, 0.5);
    }
    const double n = static_cast<double>(m.windows.size());
    if (n > 0) {
      for (double& v : m.thresholdCurve) v /= n;
      for (double& v : m.deletionCurve) v /= n;
      for (double& v : m.insertionCurve) v /= n;
      m.deletionAuc = dAuc / n;
      m.insertionAuc = iAuc / n;
    }
    // Localisation over the clips with ground truth.
    int frames = 0, hits = 0, nClips = 0, nPartial = 0;
    double box = 0, iou = 0;
    std::vector<double> range, rangePartial;
    for (const ClipEval& c : r.clips) {
      auto it = c.localization.find(m.method);
      if (it == c.localization.end() || !it->second.valid) continue;
      const ClipLocalization& l = it->second;
      ++nClips;
      frames += l.actionFrames;
      hits += l.pointingHits;
      box += l.heatInBoxSum;
      iou += l.iouSum;
      range.push_back(l.heatInRange);
      if (l.partial) rangePartial.push_back(l.heatInRange), ++nPartial;
    }
    m.locClips = nClips;
    m.locFrames = frames;
    m.locPartialClips = nPartial;
    m.pointing = frames > 0 ? 100.0 * hits / frames : -1;
    m.heatInBox = frames > 0 ? 100.0 * box / frames : -1;
    m.iou = frames > 0 ? iou / frames : -1;
    m.heatInRange = nClips > 0 ? 100.0 * mean(range) : -1;
    m.heatInRangePartial = nPartial > 0 ? 100.0 * mean(rangePartial) : -1;
    // Several instances: pooled over the clips whose truth lists 2+.
    int found = 0;
    double giniSum = 0;
    std::vector<double> rankSum;
    std::vector<int> rankFrames;
    for (const ClipEval& c : r.clips) {
      auto it = c.localization.find(m.method);
      if (it == c.localization.end() || !it->second.valid || it->second.instances < 2) continue;
      const ClipLocalization& l = it->second;
      ++m.instanceClips;
      m.instancePairs += l.instancePairs;
      found += l.instancesFound;
      m.instanceFrames += l.instanceFrames;
      giniSum += l.giniSum;
      if (rankSum.size() < l.shareByRankSum.size()) rankSum.resize(l.shareByRankSum.size(), 0.0), rankFrames.resize(l.shareByRankSum.size(), 0);
      for (size_t k = 0; k < l.shareByRankSum.size(); ++k) rankSum[k] += l.shareByRankSum[k], rankFrames[k] += l.shareByRankFrames[k];
    }
    m.instanceRecall = m.instancePairs > 0 ? 100.0 * found / m.instancePairs : -1;
    m.instanceGini = m.instanceFrames > 0 ? giniSum / m.instanceFrames : -1;
    m.instanceShareByRank.clear();
    for (size_t k = 0; k < rankSum.size(); ++k) m.instanceShareByRank.push_back(rankFrames[k] > 0 ? 100.0 * rankSum[k] / rankFrames[k] : -1);
  }
  for (MethodEval& a : r.methods)
    for (const MethodEval& b : r.methods) {
      if (&a == &b) continue;
      if (a.windows.size() != b.windows.size())
        throw Error(ErrorKind::Internal, "methods " + a.method + " and " + b.method + " have different windows");
      std::vector<double> da, db;
      for (size_t i = 0; i < a.windows.size(); ++i) da.push_back(a.windows[i].drop), db.push_back(b.windows[i].drop);
      a.win[b.method] = winPercent(da, db);
    }
}

}  // namespace ev
