// `explain-video batch`: one Explainer (the model loaded once) over every input of the shard;
// each video's outputs are atomic, a failure is recorded and the run goes on, a rerun skips what
// is complete.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace ev {
namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Outputs {
  std::string video, json, heatmaps, raw;
};

Outputs outputsOf(const BatchParams& p, const BatchInput& in) {
  const fs::path d(p.outDir);
  Outputs o;
  if (!p.noVideo) o.video = (d / (in.name + ".explained.mp4")).string();
  o.json = (d / (in.name + ".json")).string();
  if (p.saveHeatmaps) o.heatmaps = (d / (in.name + ".heatmaps.npy")).string();
  if (p.saveRaw) o.raw = (d / (in.name + ".raw")).string();
  return o;
}

// A video is complete when its JSON summary (committed last) exists, parses, and every file it
// names is there. Fills the row from it.
bool complete(const Outputs& o, const BatchParams& p, BatchRow& row) {
  std::error_code ec;
  if (!fs::is_regular_file(o.json, ec)) return false;
  try {
    std::ifstream in(o.json);
    const nlohmann::json j = nlohmann::json::parse(in);
    const std::string video = j.value("output", std::string());
    if (!o.video.empty() && (video.empty() || !fs::exists(video, ec))) return false;
    if (!o.raw.empty() && !fs::is_directory(o.raw, ec)) return false;
    if (!o.heatmaps.empty()) {
      bool tagged = false;
      for (const auto& e : j.at("explanations"))
        if (e.contains("heatmaps")) {
          tagged = true;
          if (!fs::exists(e.at("heatmaps").get<std::string>(), ec)) return false;
        }
      if (!tagged && !fs::exists(o.heatmaps, ec)) return false;
    }
    row.classId = j.at("class").at("id").get<int>();
    row.className = j.at("class").at("name").get<std::string>();
    row.score = j.at("class").at("score").get<double>();
    row.frames = j.at("video").at("frames").get<int64_t>();
    row.windows = static_cast<int64_t>(j.at("windows").size());
    row.seconds = j.at("timings").at("total_s").get<double>();
    return true;
  } catch (const std::exception&) {
    return false;  // unreadable: redo it
  }
}

}  // namespace

BatchResult runBatch(const BatchParams& p, const BatchProgressFn& progress) {
  const auto t0 = Clock::now();
  if (p.outDir.empty()) throw Error(ErrorKind::Usage, "batch: --out-dir is required");
  if (p.inputs.empty()) throw Error(ErrorKind::Usage, "batch: no input given (videos, folders or a manifest)");
  if (p.explain.model.empty()) throw Error(ErrorKind::Usage, "batch: --model is required");
  const std::vector<BatchInput> all = listBatchInputs(p.inputs);
  std::vector<BatchInput> mine;
  for (const BatchInput& b : all)
    if (p.shard.contains(b.position)) mine.push_back(b);

  std::error_code ec;
  fs::create_directories(p.outDir, ec);
  if (!fs::is_directory(p.outDir, ec))
    throw Error(ErrorKind::Output, p.outDir + ": cannot create the output folder" + (ec ? " (" + ec.message() + ")" : ""));

  BatchResult result;
  result.shard = p.shard;
  result.index = (fs::path(p.outDir) / indexFileName(p.shard)).string();
  writeBatchIndex({}, result.index);  // the run has started; fails early if DIR is not writable

  Explainer explainer(p.explain);  // the model, its layer and geometry: once for the run
  auto lastIndex = Clock::now();
  // A test hook: EV_BATCH_TEST_KILL_AT=N kills the process (SIGKILL, as an out-of-memory killer or
  // a cluster's time limit would) during the N-th video this run explains, after its model pass.
  const char* killAt = std::getenv("EV_BATCH_TEST_KILL_AT");
  size_t explained = 0;

  for (size_t i = 0; i < mine.size(); ++i) {
    const BatchInput& in = mine[i];
    try {
      checkStop("batch", static_cast<int64_t>(i));
    } catch (const Error&) {  // stopped between videos: the index keeps every finished one
      writeBatchIndex(result.rows, result.index);
      throw;
    }
    if (progress) progress({i, mine.size(), result.failed, result.skipped, since(t0), in.path});
    BatchRow row;
    row.position = in.position;
    row.input = in.path;
    row.shard = p.shard.sharded() ? p.shard.name() : "";
    const Outputs o = outputsOf(p, in);
    const auto tv = Clock::now();
    if (!p.overwrite && complete(o, p, row)) {
      row.status = "skipped";
      ++result.skipped;
    } else {
      ExplainRequest rq = p.explain;
      rq.input = in.path;
      rq.noVideo = p.noVideo;
      rq.output = o.video;
      rq.jsonFile = o.json;
      rq.heatmapsNpy = o.heatmaps;
      rq.rawDir = o.raw;
      if (!in.classSpec.empty()) rq.classSpec = in.classSpec;
      ProgressCallback hook;
      if (killAt && std::atoi(killAt) == static_cast<int>(explained))
        hook = [](const ExplainProgress& e) {
          if (e.stage == "render") std::raise(SIGKILL);
        };
      ++explained;
      try {
        const ExplainResult r = explainer.explain(rq, hook);
        row.status = "ok";
        row.classId = r.classId;
        row.className = r.className;
        row.score = r.classScore;
        row.frames = r.frames;
        row.windows = r.windows;
        for (const std::string& w : r.warnings) result.warnings.push_back(in.path + ": " + w);
        ++result.ok;
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::Interrupted) {  // stop here; the index keeps every finished video
          writeBatchIndex(result.rows, result.index);
          throw;
        }
        row.status = "failed";
        row.error = e.what();
        ++result.failed;
        if (p.failFast) {
          row.seconds = since(tv);
          result.rows.push_back(row);
          writeBatchIndex(result.rows, result.index);
          result.stoppedEarly = true;
          throw;
        }
      }
      row.seconds = since(tv);
    }
    result.rows.push_back(row);
    // Rewritten atomically as videos finish (at most once a second, and at the end): a killed run
    // leaves an index whose every row is true.
    if (since(lastIndex) >= 1.0 || i + 1 == mine.size()) {
      writeBatchIndex(result.rows, result.index);
      lastIndex = Clock::now();
    }
  }
  if (mine.empty()) writeBatchIndex(result.rows, result.index);
  if (progress) progress({mine.size(), mine.size(), result.failed, result.skipped, since(t0), ""});
  return result;
}

}  // namespace ev
