// The sanity-check driver: one Explainer (one model load); per clip the maps of the model as
// loaded, kept (at the layer's resolution) for the clip's windows, then per step the maps of the
// model with some layers' parameters randomised in memory (or of another class), compared
// window by window as they stream out of the explainer.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/model.hpp"
#include "explain_video/sanity.hpp"
#include "explain_video/synth.hpp"
#include "model/parameter_randomizer.hpp"
#include "model/script_model.hpp"

namespace ev {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Above this Spearman correlation after the whole cascade (or for another class), a method's
// maps are reported as not depending on the model (docs/eval.md).
constexpr double kSanityWarn = 0.5;

struct Accumulator {
  double spearman = 0, ssim = 0, topK = 0;
  int defined = 0, windows = 0, undefined = 0;
  void add(const Volume& a, const Volume& b, double share) {
    ++windows;
    ssim += ev::ssim(a, b);
    const std::vector<double> va(a.data.begin(), a.data.end()), vb(b.data.begin(), b.data.end());
    const double s = ev::spearman(va, vb);
    if (std::isnan(s)) {
      ++undefined;
      return;
    }
    spearman += s;
    topK += topKIntersection(a, b, share);
    ++defined;
  }
  SanityScore score() const {
    SanityScore s;
    s.windows = windows;
    s.undefined = undefined;
    s.ssim = windows > 0 ? ssim / windows : kNaN;
    s.spearman = defined > 0 ? spearman / defined : kNaN;
    s.topK = defined > 0 ? topK / defined : kNaN;
    return s;
  }
};

// splitmix64, for the random classes of the Labels mode.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string fmt3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

}  // namespace

SanityMode parseSanityMode(const std::string& s) {
  if (s == "cascade") return SanityMode::Cascade;
  if (s == "independent") return SanityMode::Independent;
  if (s == "labels") return SanityMode::Labels;
  throw Error(ErrorKind::Usage, "eval: unknown --sanity '" + s + "': choose cascade, independent or labels");
}

std::string sanityModeName(SanityMode m) {
  switch (m) {
    case SanityMode::Cascade: return "cascade";
    case SanityMode::Independent: return "independent";
    case SanityMode::Labels: return "labels";
  }
  return "?";
}

SanityResult runSanityCheck(const SanityParams& sp, const EvalProgressFn& progress) {
  const auto t0 = Clock::now();
  const EvalParams& p = sp.eval;
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
      if (p.methods[i] == p.methods[j]) throw Error(ErrorKind::Usage, "eval: --methods lists " + p.methods[i] + " twice");
  }
  if (!(sp.topK > 0 && sp.topK <= 1)) throw Error(ErrorKind::Usage, "eval: --sanity-topk must be in (0, 1]");
  if (p.shardCount != 1) throw Error(ErrorKind::Usage, "eval: --sanity runs unsharded (no --shard)");
  if (p.classFromTruth && !p.classSpec.empty())
    throw Error(ErrorKind::Usage, "eval: --class and --class-source truth exclude each other");
  const std::vector<std::string> clips = listEvalClips(p.inputs);

  SanityResult r;
  r.params = sp;
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
  r.targetLayer = explainer.layer();
  r.methods = p.skipUnavailable ? explainer.usableMethods(p.methods, &r.warnings) : p.methods;
  modelimpl::ParameterRandomizer randomizer(modelimpl::scriptModelOf(explainer.model()).module(), p.model);
  // The layers in forward()'s call order (listLayers); any it does not call, and parameters of the
  // top-level module itself, after them: the cascade randomises those first.
  {
    const std::vector<int64_t> shape{1, 3, p.windows.clipLen, p.preprocess.cropHeight, p.preprocess.cropWidth};
    for (const LayerInfo& l : explainer.model().listLayers(shape)) {
      const auto& own = randomizer.layers();
      if (std::find(own.begin(), own.end(), l.name) != own.end()) r.layers.push_back(l.name);
    }
    for (const std::string& l : randomizer.layers())
      if (std::find(r.layers.begin(), r.layers.end(), l) == r.layers.end()) r.layers.push_back(l);
  }

  // The steps. Cascade and Independent go from the top (the last layer defined) down.
  std::vector<std::string> chosen = sp.layers.empty() ? r.layers : sp.layers;
  for (const std::string& l : chosen)
    if (std::find(r.layers.begin(), r.layers.end(), l) == r.layers.end()) {
      std::string all;
      for (const std::string& x : r.layers) all += (all.empty() ? "" : ", ") + x;
      throw Error(ErrorKind::Usage, "eval: --sanity-layers: the model has no layer '" + l + "' with parameters; its layers are " + all);
    }
  // In call order, whatever order --sanity-layers gave.
  std::vector<std::string> ordered;
  for (const std::string& l : r.layers)
    if (std::find(chosen.begin(), chosen.end(), l) != chosen.end()) ordered.push_back(l);
  if (sp.mode == SanityMode::Labels) {
    r.steps.push_back({});
  } else {
    r.steps.push_back({});  // the model as loaded against itself
    std::vector<std::string> sofar;
    for (auto it = ordered.rbegin(); it != ordered.rend(); ++it) {
      SanityStep s;
      s.layer = *it;
      if (sp.mode == SanityMode::Cascade) sofar.push_back(*it), s.randomised = sofar;
      else s.randomised = {*it};
      r.steps.push_back(s);
    }
  }
  std::set<std::string> unchanged;  // layers whose every parameter is constant
  std::vector<std::vector<Accumulator>> acc(r.steps.size(), std::vector<Accumulator>(r.methods.size()));

  const int64_t totalPasses = static_cast<int64_t>(clips.size()) * static_cast<int64_t>(1 + r.steps.size());
  int64_t passesDone = 0;
  auto report = [&](size_t ci) {
    if (progress)
      progress({"sanity passes", passesDone, totalPasses, since(t0),
                "clip " + std::to_string(ci + 1) + "/" + std::to_string(clips.size())});
  };

  for (size_t ci = 0; ci < clips.size(); ++ci) {
    const std::string& clip = clips[ci];
    ExplainRequest rq;
    rq.input = clip;
    rq.methods = r.methods;
    rq.perturbation = p.perturbation;
    rq.classSpec = p.classSpec;
    if (p.classFromTruth) {
      ClipTruth truth;
      try {
        truth = readClipTruth(std::filesystem::path(clip).replace_extension(".json").string());
        rq.classSpec = std::to_string(truth.classId);
      } catch (const Error&) {
      }
    }
    // The model as loaded: every window's maps, and the class it explains.
    randomizer.restore();
    std::vector<std::vector<Volume>> original;  // per window, per method (the layer's resolution)
    std::vector<int64_t> shape;                 // the window's T×H×W
    size_t classes = 0;
    const ExplainResult er = explainer.analyse(
        rq,
        [&](const AnalysedWindow& aw) {
          std::vector<Volume> maps;
          for (const Volume* v : aw.maps) maps.push_back(*v);
          original.push_back(std::move(maps));
          const Volume& in = aw.window->input;
          shape = {in.shape[2], in.shape[3], in.shape[4]};
          if (classes == 0) classes = explainer.model().predict(in).size();
        },
        {});
    ++passesDone;
    report(ci);
    const int cls = er.classId;
    int other = cls;
    if (sp.mode == SanityMode::Labels) {
      if (classes < 2) throw Error(ErrorKind::Usage, "eval: --sanity labels needs a model with 2 or more classes");
      const uint64_t draw = mix(sp.seed ^ mix(static_cast<uint64_t>(ci) + 1)) % (classes - 1);
      other = static_cast<int>(draw) + (static_cast<int>(draw) >= cls ? 1 : 0);
    }
    for (size_t s = 0; s < r.steps.size(); ++s) {
      randomizer.restore();
      for (const std::string& l : r.steps[s].randomised)
        if (randomizer.randomize(l, sp.seed) == 0) unchanged.insert(l);
      ExplainRequest again = rq;
      again.classSpec = std::to_string(sp.mode == SanityMode::Labels ? other : cls);
      size_t w = 0;
      explainer.analyse(
          again,
          [&](const AnalysedWindow& aw) {
            if (w >= original.size()) throw Error(ErrorKind::Internal, clip + ": the windows changed between passes");
            for (size_t mi = 0; mi < r.methods.size(); ++mi) {
              const Volume a = explanationMap(original[w][mi], shape[0], shape[1], shape[2], explainer.cellCentres());
              const Volume b = explanationMap(*aw.maps.at(mi), shape[0], shape[1], shape[2], explainer.cellCentres());
              acc[s][mi].add(a, b, sp.topK);
            }
            ++w;
          },
          {});
      if (w != original.size()) throw Error(ErrorKind::Internal, clip + ": the windows changed between passes");
      ++passesDone;
      report(ci);
    }
    randomizer.restore();
    ++r.clips;
    r.windows += static_cast<int>(original.size());
  }

  for (size_t s = 0; s < r.steps.size(); ++s)
    for (size_t mi = 0; mi < r.methods.size(); ++mi) r.steps[s].scores.push_back(acc[s][mi].score());

  // Never silent: layers that could not be randomised, comparisons left out, and methods whose
  // maps do not follow the model.
  for (const std::string& l : r.layers)
    if (unchanged.count(l))
      r.warnings.push_back("layer " + l + ": every parameter tensor holds one value repeated; nothing to draw from, left as trained");
  for (size_t mi = 0; mi < r.methods.size(); ++mi) {
    int undefined = 0, windows = 0;
    for (const SanityStep& st : r.steps) undefined += st.scores[mi].undefined, windows += st.scores[mi].windows;
    if (undefined > 0)
      r.warnings.push_back(r.methods[mi] + ": " + std::to_string(undefined) + " of " + std::to_string(windows) +
                           " window comparisons had a constant map (no heat), left out of Spearman and top-k");
    const SanityScore& last = r.steps.back().scores[mi];
    if (sp.mode != SanityMode::Independent && r.steps.size() > (sp.mode == SanityMode::Labels ? 0u : 1u) &&
        last.spearman >= kSanityWarn)
      r.warnings.push_back(r.methods[mi] + ": Spearman " + fmt3(last.spearman) +
                           (sp.mode == SanityMode::Labels ? " between the predicted and a random class's maps"
                                                          : " after every layer was randomised") +
                           " (>= " + fmt3(kSanityWarn) + "): its maps do not follow the " +
                           (sp.mode == SanityMode::Labels ? "class" : "model") +
                           (last.undefined > 0 ? " (a mean over " + std::to_string(last.windows - last.undefined) + " of " +
                                                     std::to_string(last.windows) + " windows; the others had no heat)"
                                               : ""));
  }
  r.secondsTotal = since(t0);
  return r;
}

}  // namespace ev
