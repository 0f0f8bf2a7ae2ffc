// `explain-video eval-merge`: the shards of one eval run joined into the result of one
// unsharded run. The shard JSON keeps every per-window record and the raw localisation sums,
// so every aggregate is recomputed (aggregateEval), not averaged from averages.
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "util/plural.hpp"

namespace ev {
namespace {

nlohmann::json readJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::Input, path + ": cannot read");
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Input, path + ": not JSON (" + std::string(e.what()).substr(0, 120) + ")");
  }
}

// The parts of an eval JSON that must agree across the shards of one run.
nlohmann::json runIdentity(const nlohmann::json& j) {
  nlohmann::json id;
  for (const char* k : {"format", "version", "model", "layer", "methods", "class_source", "class", "preprocess",
                        "options", "thetas", "fractions"})
    if (j.contains(k)) id[k] = j[k];
  return id;
}

EvalParams paramsOf(const nlohmann::json& j) {
  EvalParams p;
  p.model = j.at("model").get<std::string>();
  p.methods = j.at("methods").get<std::vector<std::string>>();
  const std::string source = j.at("class_source").get<std::string>();
  p.classFromTruth = source == "truth";
  if (j.contains("class")) p.classSpec = j.at("class").get<std::string>();
  const auto& pre = j.at("preprocess");
  p.preprocess.resizeHeight = pre.at("resize").at(0).get<int>();
  p.preprocess.resizeWidth = pre.at("resize").at(1).get<int>();
  p.preprocess.cropHeight = pre.at("crop").at(0).get<int>();
  p.preprocess.cropWidth = pre.at("crop").at(1).get<int>();
  p.preprocess.scale = pre.at("scale").get<float>();
  p.preprocess.mean = pre.at("mean").get<std::array<float, 3>>();
  p.preprocess.std = pre.at("std").get<std::array<float, 3>>();
  p.preprocess.bgr = pre.at("channel_order").get<std::string>() == "BGR";
  p.windows.clipLen = pre.at("clip_len").get<int>();
  p.windows.stride = pre.at("stride").get<int>();
  const auto& o = j.at("options");
  p.curveSteps = o.at("curve_steps").get<int>();
  p.delSteps = o.at("del_steps").get<int>();
  p.blurKernel = o.at("blur_kernel").get<int>();
  p.pointingTolerance = o.at("pointing_tolerance").get<double>();
  p.iouThreshold = o.at("iou_threshold").get<double>();
  p.instanceTolerance = o.value("instance_tolerance", p.instanceTolerance);
  p.instancePeak = o.value("instance_peak", p.instancePeak);
  return p;
}

}  // namespace

EvalResult mergeEvalShards(const std::vector<std::string>& files) {
  if (files.empty()) throw Error(ErrorKind::Usage, "eval-merge: no shard JSON given");
  EvalResult r;
  nlohmann::json identity;
  int count = -1;
  std::map<int, std::string> seen;
  std::map<std::string, size_t> positionOf;  // clip → position
  struct Win {
    size_t position;
    WindowEval w;
  };
  std::map<std::string, std::vector<Win>> windows;  // by method
  std::set<std::string> warnings;
  for (const std::string& f : files) {
    const nlohmann::json j = readJsonFile(f);
    try {
      if (j.value("format", std::string()) != "explain-video-eval")
        throw Error(ErrorKind::Input, f + ": not an explain-video eval JSON");
      const int k = j.contains("shard") ? j.at("shard").at("index").get<int>() : 0;
      const int n = j.contains("shard") ? j.at("shard").at("count").get<int>() : 1;
      if (count >= 0 && n != count)
        throw Error(ErrorKind::Input, f + ": shard " + std::to_string(k) + " of " + std::to_string(n) +
                                          ", but the other files are shards of " + std::to_string(count));
      count = n;
      if (seen.count(k))
        throw Error(ErrorKind::Input, f + ": shard " + std::to_string(k) + " again (also in " + seen[k] + ")");
      seen[k] = f;
      const nlohmann::json id = runIdentity(j);
      if (identity.is_null()) {
        identity = id;
        r.params = paramsOf(j);
        r.layer = j.at("layer").get<std::string>();
        r.thetas = j.at("thetas").get<std::vector<double>>();
      } else if (id != identity) {
        throw Error(ErrorKind::Input, f + ": a shard of another run (model, layer, methods or options differ from " +
                                          files.front() + ")");
      }
      for (const auto& c : j.at("clips")) {
        ClipEval ce;
        ce.clip = c.at("clip").get<std::string>();
        ce.position = c.at("position").get<size_t>();
        ce.classId = c.at("class").get<int>();
        ce.truthClass = c.at("truth_class").is_null() ? -1 : c.at("truth_class").get<int>();
        ce.frames = c.at("frames").get<int>();
        ce.windows = c.at("windows").get<int>();
        ce.seconds = c.at("seconds").get<double>();
        for (const auto& [m, l] : c.at("localization").items()) {
          ClipLocalization cl;
          cl.valid = true;
          cl.actionFrames = l.at("action_frames").get<int>();
          cl.partial = l.at("partial").get<bool>();
          cl.pointingHits = l.at("pointing_hits").get<int>();
          cl.heatInBoxSum = l.at("heat_in_box_sum").get<double>();
          cl.iouSum = l.at("iou_sum").get<double>();
          cl.heatInRange = l.at("heat_in_range_share").get<double>();
          if (l.contains("instances")) {
            const auto& in = l.at("instances");
            cl.instances = in.at("count").get<int>();
            cl.instancePairs = in.at("pairs").get<int>();
            cl.instancesFound = in.at("found").get<int>();
            cl.instanceFrames = in.at("frames").get<int>();
            cl.shareByRankSum = in.at("share_by_rank_sum").get<std::vector<double>>();
            cl.shareByRankFrames = in.at("share_by_rank_frames").get<std::vector<int>>();
            cl.giniSum = in.at("gini_sum").get<double>();
          }
          ce.localization[m] = cl;
        }
        positionOf[ce.clip] = ce.position;
        r.clips.push_back(ce);
      }
      for (const auto& x : j.at("windows")) {
        WindowEval w;
        w.clip = x.at("clip").get<std::string>();
        w.window = x.at("window").get<int64_t>();
        w.firstFrame = x.at("first_frame").get<int64_t>();
        w.lastFrame = x.at("last_frame").get<int64_t>();
        w.classId = x.at("class").get<int>();
        w.Y = x.at("Y").get<double>();
        w.O = x.at("O").get<double>();
        w.drop = x.at("drop").get<double>();
        w.thresholdConf = x.at("threshold_conf").get<std::vector<double>>();
        w.deletion = x.at("deletion").get<std::vector<double>>();
        w.insertion = x.at("insertion").get<std::vector<double>>();
        w.deletionAuc = x.at("deletion_auc").get<double>();
        w.insertionAuc = x.at("insertion_auc").get<double>();
        const auto it = positionOf.find(w.clip);
        if (it == positionOf.end()) throw Error(ErrorKind::Input, f + ": window of a clip not in its clip list");
        windows[x.at("method").get<std::string>()].push_back({it->second, w});
      }
      r.secondsTotal += j.value("seconds_total", 0.0);
      r.forwardPasses += j.value("forward_passes", int64_t{0});
      if (j.contains("warnings"))
        for (const auto& w : j.at("warnings")) warnings.insert(w.get<std::string>());
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Input, f + ": not an eval JSON of this version (" + std::string(e.what()).substr(0, 160) + ")");
    }
  }
  std::string missing;
  int nMissing = 0;
  for (int k = 0; k < count; ++k)
    if (!seen.count(k)) missing += (nMissing++ ? ", " : "") + std::to_string(k);
  if (!missing.empty())
    throw Error(ErrorKind::Input, "eval-merge: " + pluralNoun(nMissing, "shard") + " " + missing + " of " +
                                      std::to_string(count) + (nMissing == 1 ? " is" : " are") + " missing");
  std::sort(r.clips.begin(), r.clips.end(), [](const ClipEval& a, const ClipEval& b) { return a.position < b.position; });
  for (size_t i = 1; i < r.clips.size(); ++i)
    if (r.clips[i].position == r.clips[i - 1].position)
      throw Error(ErrorKind::Input, "eval-merge: clip " + r.clips[i].clip + " is in two shards");
  for (const std::string& m : r.params.methods) {
    MethodEval me;
    me.method = m;
    auto& ws = windows[m];
    std::stable_sort(ws.begin(), ws.end(), [](const Win& a, const Win& b) {
      return a.position != b.position ? a.position < b.position : a.w.window < b.w.window;
    });
    for (auto& w : ws) me.windows.push_back(std::move(w.w));
    r.methods.push_back(std::move(me));
  }
  r.warnings.assign(warnings.begin(), warnings.end());
  aggregateEval(r);
  return r;
}

}  // namespace ev
