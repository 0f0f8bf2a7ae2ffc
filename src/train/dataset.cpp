#include "train/dataset.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "explain_video/error.hpp"
#include "explain_video/video.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace trainimpl {
namespace {

[[noreturn]] void badSplit(const std::string& dir, const std::string& problem) {
  throw Error(ErrorKind::Input, dir + ": " + problem);
}

std::vector<std::string> readLabels(const fs::path& path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

void decodeClip(ClipRecord& c, const PreprocessParams& raw) {
  VideoReader reader(c.video);
  Frame f;
  std::vector<uint8_t> pixels;
  const int64_t hint = reader.info().frameCountHint;
  if (hint > 0 && hint < 100000)
    pixels.reserve(static_cast<size_t>(hint) * 3 * static_cast<size_t>(raw.cropHeight) * static_cast<size_t>(raw.cropWidth));
  int frames = 0;
  while (reader.read(f)) {
    const std::vector<float> v = WindowSampler::preprocess(f, raw, nullptr);
    const size_t off = pixels.size();
    pixels.resize(off + v.size());
    // scale 1, mean 0, std 1: the values are the resized bytes exactly.
    for (size_t i = 0; i < v.size(); ++i) pixels[off + i] = static_cast<uint8_t>(std::lround(v[i]));
    ++frames;
  }
  if (frames == 0) throw Error(ErrorKind::Input, c.video + ": no decodable video frames");
  pixels.shrink_to_fit();
  c.pixels = std::move(pixels);
  c.frames = frames;
  c.actionEnd = std::min(c.actionEnd, frames);
  c.actionStart = std::min(c.actionStart, std::max(0, c.actionEnd - 1));
}

}  // namespace

size_t SplitData::bytes() const {
  size_t n = 0;
  for (const auto& c : clips) n += c.pixels.size();
  return n;
}

SplitData loadSplit(const std::string& dir, const PreprocessParams& pre, int threads,
                    const std::function<void(int, int)>& progress) {
  std::error_code ec;
  if (dir.empty()) throw Error(ErrorKind::Usage, "no split folder given");
  if (!fs::exists(dir, ec)) badSplit(dir, "no such split folder");
  if (!fs::is_directory(dir, ec)) badSplit(dir, "not a folder (expected a split folder written by explain-video synth)");
  const fs::path indexPath = fs::path(dir) / "index.json";
  if (!fs::exists(indexPath, ec))
    badSplit(dir, "no index.json (not a split folder written by explain-video synth, or an incomplete one)");

  SplitData data;
  data.dir = dir;
  data.height = pre.cropHeight;
  data.width = pre.cropWidth;
  centreCropGeometry(1, 1, pre);  // validates crop <= resize (Usage)

  nlohmann::json j;
  {
    std::ifstream in(indexPath, std::ios::binary);
    if (!in) badSplit(indexPath.string(), "cannot open");
    try {
      j = nlohmann::json::parse(in);
    } catch (const std::exception&) {
      badSplit(indexPath.string(), "not valid JSON");
    }
  }
  try {
    if (j.value("format", std::string()) != "explain-video-synth-index")
      badSplit(indexPath.string(), "not a synth split index (format is not \"explain-video-synth-index\")");
    if (j.contains("classes"))
      for (const auto& n : j.at("classes")) data.classNames.push_back(n.get<std::string>());
    const fs::path labels = fs::path(dir) / "labels.txt";
    if (fs::exists(labels, ec)) {
      auto names = readLabels(labels);
      if (!names.empty()) data.classNames = std::move(names);
    }
    if (data.classNames.empty()) badSplit(dir, "no class names (labels.txt or index.json \"classes\")");
    const int numClasses = static_cast<int>(data.classNames.size());
    for (const auto& c : j.at("clips")) {
      ClipRecord r;
      const std::string video = c.at("video").get<std::string>();
      r.video = (fs::path(dir) / video).string();
      r.truth = (fs::path(dir) / c.value("truth", std::string())).string();
      r.stem = fs::path(video).stem().string();
      r.classId = c.at("class_id").get<int>();
      if (r.classId < 0 || r.classId >= numClasses)
        badSplit(indexPath.string(), r.stem + ": class_id " + std::to_string(r.classId) + " is not in 0.." +
                                         std::to_string(numClasses - 1));
      r.actionStart = c.at("action_start").get<int>();
      r.actionEnd = c.at("action_end").get<int>();
      if (r.actionStart < 0 || r.actionEnd <= r.actionStart)
        badSplit(indexPath.string(), r.stem + ": bad action range");
      data.clips.push_back(std::move(r));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    badSplit(indexPath.string(), "malformed index (" + what + ")");
  }
  if (data.clips.empty()) badSplit(dir, "the split has no clips");

  PreprocessParams raw = pre;
  raw.scale = 1.0f;
  raw.mean = {0.f, 0.f, 0.f};
  raw.std = {1.f, 1.f, 1.f};

  const int total = static_cast<int>(data.clips.size());
  int workers = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  workers = std::max(1, std::min(workers, total));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  int done = 0;
  std::exception_ptr error;
  auto work = [&] {
    for (;;) {
      const int i = next++;
      if (i >= total || failed) return;
      try {
        decodeClip(data.clips[static_cast<size_t>(i)], raw);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (progress) progress(done, total);
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return data;
}

Normalisation normalisationOf(const PreprocessParams& pre) {
  Normalisation n{};
  for (int c = 0; c < 3; ++c) {
    n.a[c] = pre.scale / pre.std[c];
    n.b[c] = -pre.mean[c] / pre.std[c];
  }
  return n;
}

void fillWindow(const SplitData& data, int clip, int64_t start, int clipLen, const Normalisation& norm, float* out) {
  const ClipRecord& c = data.clips.at(static_cast<size_t>(clip));
  const size_t plane = static_cast<size_t>(data.height) * data.width;
  for (int t = 0; t < clipLen; ++t) {
    const uint8_t* src = data.frame(c, start + t);
    for (int ch = 0; ch < 3; ++ch) {
      const float a = norm.a[ch], b = norm.b[ch];
      const uint8_t* s = src + ch * plane;
      float* d = out + (static_cast<size_t>(ch) * clipLen + t) * plane;
      for (size_t i = 0; i < plane; ++i) d[i] = s[i] * a + b;
    }
  }
}

std::vector<int64_t> trainingStarts(int64_t frames, int clipLen, int actionStart, int actionEnd) {
  if (frames <= clipLen) return {0};
  const int64_t need = std::min<int64_t>({clipLen, actionEnd - actionStart, 8});
  std::vector<int64_t> all, good;
  for (int64_t s = 0; s + clipLen <= frames; ++s) {
    all.push_back(s);
    const int64_t overlap = std::min<int64_t>(s + clipLen, actionEnd) - std::max<int64_t>(s, actionStart);
    if (overlap >= need && overlap > 0) good.push_back(s);
  }
  return good.empty() ? all : good;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t epochDataSeed(uint64_t seed, int epoch) {
  return splitmix64(splitmix64(seed ^ 0x7472616964617461ULL) + static_cast<uint64_t>(epoch));
}

uint64_t epochTorchSeed(uint64_t seed, int epoch) {
  // at::manual_seed keeps the full 64 bits for the CPU generator (mt19937 seeded with them).
  return splitmix64(splitmix64(seed ^ 0x746f726368726e67ULL) + static_cast<uint64_t>(epoch));
}

EpochPlan planEpoch(const SplitData& data, int clipLen, uint64_t seed, int epoch) {
  Rng rng(epochDataSeed(seed, epoch));
  EpochPlan plan;
  const int n = static_cast<int>(data.clips.size());
  plan.order.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) plan.order[static_cast<size_t>(i)] = i;
  for (int i = n - 1; i > 0; --i) {  // Fisher-Yates
    const int j = static_cast<int>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(plan.order[static_cast<size_t>(i)], plan.order[static_cast<size_t>(j)]);
  }
  plan.starts.reserve(static_cast<size_t>(n));
  for (int i : plan.order) {
    const ClipRecord& c = data.clips[static_cast<size_t>(i)];
    const auto starts = trainingStarts(c.frames, clipLen, c.actionStart, c.actionEnd);
    plan.starts.push_back(starts[static_cast<size_t>(rng.below(starts.size()))]);
  }
  return plan;
}

}  // namespace trainimpl
}  // namespace ev
