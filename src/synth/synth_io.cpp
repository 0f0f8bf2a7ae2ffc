// Files of the synthetic benchmark: clip MP4 + ground-truth JSON, split folders with an index.
// The JSON holds no time, host or path, so the same clip always gives the same bytes.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"
#include "explain_video/synth.hpp"
#include "explain_video/video.hpp"
#include "io/atomic_output.hpp"
#include "util/plural.hpp"

namespace ev {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr const char* kTruthFormat = "explain-video-synth-truth";
constexpr const char* kIndexFormat = "explain-video-synth-index";
constexpr int kFormatVersion = 1;

// x264 settings of the clips. "superfast" rather than "veryfast": with Debian 12's x264
// (0.164.3095) the macroblock tree that veryfast turns on makes the bytes depend on uninitialised
// heap memory (same frames, different MP4 from run to run); superfast has no MB-tree and gives
// the same bytes every run on a given machine (the thread count x264 picks still matters).
constexpr int kCrf = 18;
constexpr const char* kPreset = "superfast";

ojson paramsJson(const SynthParams& p) {
  ojson j;
  j["width"] = p.width;
  j["height"] = p.height;
  j["frames"] = p.frames;
  j["fps"] = p.fpsNum;
  j["partial_share"] = p.partialShare;
  j["max_static"] = p.maxStatic;
  j["distractor_mover"] = p.distractorMover;
  j["noise"] = p.noise;
  j["jitter"] = p.jitter;
  if (p.instancesMax > 1) j["instances"] = {p.instancesMin, p.instancesMax};  // absent: one actor
  return j;
}

ojson boxJson(const Box& b) { return ojson::array({b.x, b.y, b.w, b.h}); }

// Row-major over the box, run lengths alternating 0-runs and 1-runs, starting with a 0-run
// (which may be 0). The runs add up to w*h.
ojson maskRle(const std::vector<uint8_t>& mask, int width, const Box& b) {
  ojson runs = ojson::array();
  if (b.empty()) return runs;
  uint8_t cur = 0;
  int run = 0;
  for (int y = b.y; y < b.y + b.h; ++y)
    for (int x = b.x; x < b.x + b.w; ++x) {
      const uint8_t v = mask[static_cast<size_t>(y) * width + x] ? 1 : 0;
      if (v != cur) runs.push_back(run), run = 0, cur = v;
      ++run;
    }
  runs.push_back(run);
  return runs;
}

// Top-level fields one per line, the per-frame records one per line: diff-friendly and compact.
std::string truthText(const ClipTruth& t) {
  ojson head;
  head["format"] = kTruthFormat;
  head["version"] = kFormatVersion;
  head["class_id"] = t.classId;
  head["class_name"] = t.className;
  head["seed"] = t.seed;
  head["params"] = paramsJson(t.params);
  head["action_start"] = t.actionStart;
  head["action_end"] = t.actionEnd;
  head["partial"] = t.partial;
  head["actor"] = {{"shape", t.shape}, {"colour", t.colour}, {"rgb", {t.rgb[0], t.rgb[1], t.rgb[2]}}};
  ojson motion = ojson::object();
  for (const auto& [k, v] : t.motion) motion[k] = v;
  head["motion"] = motion;
  head["background"] = t.background;
  ojson ds = ojson::array();
  for (const SynthDistractor& d : t.distractors) ds.push_back({{"kind", d.kind}, {"shape", d.shape}, {"colour", d.colour}});
  head["distractors"] = ds;
  head["mask_encoding"] = "rle-box";
  if (!t.instances.empty()) {
    ojson in = ojson::array();
    for (const SynthInstance& i : t.instances) {
      ojson m = ojson::object();
      for (const auto& [k, v] : i.motion) m[k] = v;
      in.push_back({{"shape", i.shape}, {"colour", i.colour}, {"rgb", {i.rgb[0], i.rgb[1], i.rgb[2]}},
                    {"action_start", i.actionStart}, {"action_end", i.actionEnd}, {"motion", m}});
    }
    head["instances"] = in;
  }

  std::ostringstream os;
  os << "{\n";
  for (auto it = head.begin(); it != head.end(); ++it) os << "  " << ojson(it.key()).dump() << ": " << it.value().dump() << ",\n";
  os << "  \"frames\": [";
  const int T = static_cast<int>(t.actorBoxes.size());
  for (int i = 0; i < T; ++i) {
    ojson f;
    f["t"] = i;
    f["active"] = i >= t.actionStart && i < t.actionEnd;
    f["camera"] = {t.camera[static_cast<size_t>(i)].first, t.camera[static_cast<size_t>(i)].second};
    f["actor"] = boxJson(t.actorBoxes[static_cast<size_t>(i)]);
    f["mask"] = maskRle(t.actorMasks[static_cast<size_t>(i)], t.params.width, t.actorBoxes[static_cast<size_t>(i)]);
    ojson db = ojson::array();
    for (const SynthDistractor& d : t.distractors) db.push_back(boxJson(d.boxes[static_cast<size_t>(i)]));
    f["distractors"] = db;
    if (!t.instances.empty()) {
      ojson ib = ojson::array(), im = ojson::array();
      for (const SynthInstance& in : t.instances) {
        ib.push_back(boxJson(in.boxes[static_cast<size_t>(i)]));
        im.push_back(maskRle(in.masks[static_cast<size_t>(i)], t.params.width, in.boxes[static_cast<size_t>(i)]));
      }
      f["instances"] = ib;
      f["instance_masks"] = im;
    }
    os << (i ? ",\n    " : "\n    ") << f.dump();
  }
  os << "\n  ]\n}\n";
  return os.str();
}

void writeText(const std::string& path, const std::string& text) {
  AtomicOutput out(path, fs::path(path).extension().string());
  {
    std::ofstream f(out.tempPath(), std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) throw Error(ErrorKind::Output, path + ": cannot write the file");
  }
  out.commit();
}

[[noreturn]] void badTruth(const std::string& path, const std::string& problem) {
  throw Error(ErrorKind::Input, path + ": " + problem);
}

Box readBox(const nlohmann::json& j) {
  if (!j.is_array() || j.size() != 4) throw std::runtime_error("a box is not [x, y, w, h]");
  return Box{j[0].get<int>(), j[1].get<int>(), j[2].get<int>(), j[3].get<int>()};
}

// A full-frame mask from its box and run lengths (maskRle).
std::vector<uint8_t> readMask(const std::string& path, const nlohmann::json& frame, const Box& b, const nlohmann::json& runs,
                              int W, int H, const char* what) {
  std::vector<uint8_t> mask(static_cast<size_t>(W) * H, 0);
  if (b.empty()) return mask;
  const std::string at = "frame " + frame.at("t").dump() + ": ";
  if (b.x < 0 || b.y < 0 || b.x + b.w > W || b.y + b.h > H) badTruth(path, at + what + " box outside the frame");
  int64_t pos = 0, total = static_cast<int64_t>(b.w) * b.h;
  uint8_t v = 0;
  for (const auto& r : runs) {
    const int64_t n = r.get<int64_t>();
    if (n < 0 || pos + n > total) badTruth(path, at + "mask runs do not fit the box");
    if (v)
      for (int64_t i = pos; i < pos + n; ++i) mask[static_cast<size_t>(b.y + i / b.w) * W + static_cast<size_t>(b.x + i % b.w)] = 1;
    pos += n;
    v ^= 1;
  }
  if (pos != total) badTruth(path, at + "mask runs do not cover the box");
  return mask;
}

void ensureDir(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  if (fs::exists(dir, ec)) throw Error(ErrorKind::Output, dir + ": exists and is not a directory");
  const fs::path parent = fs::path(dir).lexically_normal().parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(ErrorKind::Output, dir + ": parent directory '" + parent.string() + "' does not exist");
  if (!fs::create_directory(dir, ec) && !fs::is_directory(dir))
    throw Error(ErrorKind::Output, dir + ": cannot create directory (" + ec.message() + ")");
}

}  // namespace

void writeSynthClip(const SynthClip& clip, const std::string& mp4Path, const std::string& jsonPath) {
  const ClipTruth& t = clip.truth;
  const std::string text = truthText(t);  // before any file exists: a broken clip fails early
  AtomicOutput video(mp4Path, ".mp4");
  {
    VideoWriterOptions o;
    o.width = t.params.width;
    o.height = t.params.height;
    o.fpsNum = t.params.fpsNum;
    o.fpsDen = 1;
    o.crf = kCrf;
    o.preset = kPreset;
    VideoWriter w(video.tempPath(), o);
    for (const Frame& f : clip.frames) w.write(f);
    w.close();
  }
  writeText(jsonPath, text);
  video.commit();
}

ClipTruth readClipTruth(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) badTruth(path, "cannot open the ground-truth file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception&) {
    badTruth(path, "not valid JSON");
  }
  ClipTruth t;
  try {
    if (j.value("format", std::string()) != kTruthFormat) badTruth(path, "not a synth ground-truth file (format is not \"" + std::string(kTruthFormat) + "\")");
    if (j.at("version").get<int>() != kFormatVersion) badTruth(path, "unsupported version " + j.at("version").dump());
    t.classId = j.at("class_id").get<int>();
    t.className = j.at("class_name").get<std::string>();
    t.seed = j.at("seed").get<uint64_t>();
    const auto& p = j.at("params");
    t.params.width = p.at("width").get<int>();
    t.params.height = p.at("height").get<int>();
    t.params.frames = p.at("frames").get<int>();
    t.params.fpsNum = p.at("fps").get<int>();
    t.params.partialShare = p.at("partial_share").get<double>();
    t.params.maxStatic = p.at("max_static").get<int>();
    t.params.distractorMover = p.at("distractor_mover").get<bool>();
    t.params.noise = p.at("noise").get<double>();
    t.params.jitter = p.at("jitter").get<int>();
    t.actionStart = j.at("action_start").get<int>();
    t.actionEnd = j.at("action_end").get<int>();
    t.partial = j.at("partial").get<bool>();
    const auto& a = j.at("actor");
    t.shape = a.at("shape").get<std::string>();
    t.colour = a.at("colour").get<std::string>();
    for (int c = 0; c < 3; ++c) t.rgb[c] = a.at("rgb").at(static_cast<size_t>(c)).get<uint8_t>();
    for (const auto& [k, v] : j.at("motion").items()) t.motion[k] = v.get<double>();
    t.background = j.at("background").get<std::string>();
    for (const auto& d : j.at("distractors"))
      t.distractors.push_back({d.at("kind").get<std::string>(), d.at("shape").get<std::string>(), d.at("colour").get<std::string>(), {}});
    if (j.at("mask_encoding").get<std::string>() != "rle-box") badTruth(path, "unknown mask_encoding " + j.at("mask_encoding").dump());
    if (p.contains("instances")) {
      t.params.instancesMin = p.at("instances").at(0).get<int>();
      t.params.instancesMax = p.at("instances").at(1).get<int>();
    }
    if (j.contains("instances")) {
      if (j.at("instances").size() > static_cast<size_t>(kMaxSynthInstances)) badTruth(path, "too many instances");
      for (const auto& a : j.at("instances")) {
        SynthInstance in;
        in.shape = a.at("shape").get<std::string>();
        in.colour = a.at("colour").get<std::string>();
        for (int c = 0; c < 3; ++c) in.rgb[c] = a.at("rgb").at(static_cast<size_t>(c)).get<uint8_t>();
        in.actionStart = a.at("action_start").get<int>();
        in.actionEnd = a.at("action_end").get<int>();
        for (const auto& [k, v] : a.at("motion").items()) in.motion[k] = v.get<double>();
        t.instances.push_back(std::move(in));
      }
    }

    const int W = t.params.width, H = t.params.height;
    if (W <= 0 || H <= 0 || W > 65536 || H > 65536) badTruth(path, "bad frame size");
    const auto& frames = j.at("frames");
    if (static_cast<int>(frames.size()) != t.params.frames)
      badTruth(path, "has " + plural(frames.size(), "frame record") + ", params.frames is " + std::to_string(t.params.frames));
    for (const auto& f : frames) {
      const auto& cam = f.at("camera");
      t.camera.emplace_back(cam.at(0).get<int>(), cam.at(1).get<int>());
      const Box b = readBox(f.at("actor"));
      t.actorBoxes.push_back(b);
      t.actorMasks.push_back(readMask(path, f, b, f.at("mask"), W, H, "actor"));
      if (!t.instances.empty()) {
        const auto& ib = f.at("instances");
        const auto& im = f.at("instance_masks");
        if (ib.size() != t.instances.size() || im.size() != t.instances.size())
          badTruth(path, "frame " + f.at("t").dump() + ": wrong number of instance boxes or masks");
        for (size_t i = 0; i < t.instances.size(); ++i) {
          const Box ibox = readBox(ib[i]);
          t.instances[i].boxes.push_back(ibox);
          t.instances[i].masks.push_back(readMask(path, f, ibox, im[i], W, H, "instance"));
        }
      }
      const auto& db = f.at("distractors");
      if (db.size() != t.distractors.size()) badTruth(path, "frame " + f.at("t").dump() + ": wrong number of distractor boxes");
      for (size_t i = 0; i < db.size(); ++i) t.distractors[i].boxes.push_back(readBox(db[i]));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    badTruth(path, "malformed ground truth (" + what + ")");
  }
  return t;
}

int writeSynthSplit(const std::string& dir, const std::string& split, int clipsPerClass, uint64_t baseSeed,
                    const SynthParams& params, const SynthProgress& progress) {
  validateSynthParams(params);
  const std::vector<SynthClipSpec> plan = synthSplitPlan(split, clipsPerClass, baseSeed);
  ensureDir(dir);
  const std::string splitDir = (fs::path(dir) / split).string();
  ensureDir(splitDir);

  const auto& names = synthClassNames();
  ojson clips = ojson::array();
  int done = 0;
  for (const SynthClipSpec& s : plan) {
    checkStop("synth", done);
    const SynthClip clip = renderSynthClip(s.classId, s.seed, params);
    const std::string video = s.stem + ".mp4", truth = s.stem + ".json";
    writeSynthClip(clip, (fs::path(splitDir) / video).string(), (fs::path(splitDir) / truth).string());
    ojson c;
    c["index"] = s.index;
    c["video"] = video;
    c["truth"] = truth;
    c["class_id"] = s.classId;
    c["class_name"] = names[static_cast<size_t>(s.classId)];
    c["seed"] = s.seed;
    c["action_start"] = clip.truth.actionStart;
    c["action_end"] = clip.truth.actionEnd;
    clips.push_back(std::move(c));
    ++done;
    if (progress) progress(done, static_cast<int>(plan.size()));
  }

  std::string labels;
  for (const std::string& n : names) labels += n + "\n";
  writeText((fs::path(splitDir) / "labels.txt").string(), labels);

  ojson index;
  index["format"] = kIndexFormat;
  index["version"] = kFormatVersion;
  index["split"] = split;
  index["base_seed"] = baseSeed;
  index["split_seed"] = synthSplitSeed(baseSeed, split);
  index["clips_per_class"] = clipsPerClass;
  index["classes"] = names;
  index["params"] = paramsJson(params);
  std::ostringstream os;
  os << "{\n";
  for (auto it = index.begin(); it != index.end(); ++it) os << "  " << ojson(it.key()).dump() << ": " << it.value().dump() << ",\n";
  os << "  \"clips\": [";
  for (size_t i = 0; i < clips.size(); ++i) os << (i ? ",\n    " : "\n    ") << clips[i].dump();
  os << "\n  ]\n}\n";
  writeText((fs::path(splitDir) / "index.json").string(), os.str());
  return done;
}

}  // namespace ev
