// Whole datasets: `explain-video batch` over many videos with one loaded model, deterministic
// shards for job arrays (Slurm, Kubernetes Indexed Jobs), and the index that records every
// video's outcome. docs/cluster.md describes the workflow.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "explain_video/explain.hpp"

namespace ev {

// ---------------------------------------------------------------- shards

// Shard K of N (K counted from 0). Input number i (0-based, in the order listBatchInputs gives)
// belongs to shard i mod N: every input is in exactly one shard, and the shards differ in size
// by at most one.
struct ShardSpec {
  int index = 0, count = 1;
  std::string source;  // "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"; empty: unsharded
  bool sharded() const { return !source.empty(); }
  bool contains(size_t position) const { return static_cast<int>(position % static_cast<size_t>(count)) == index; }
  std::string name() const { return std::to_string(index) + "/" + std::to_string(count); }  // "2/3"
};

// "K/N" with 0 <= K < N. Errors: Usage naming `flag`.
ShardSpec parseShard(const std::string& text, const std::string& flag = "--shard");

// The shard to run: --shard when given (shardFlag non-empty); else inside a Slurm array task
// K = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN, N = SLURM_ARRAY_TASK_COUNT; else inside a
// Kubernetes Indexed Job K = JOB_COMPLETION_INDEX with N = `shards` (--shards, required there);
// else unsharded. `env` reads an environment variable (nullptr when unset; tests pass their own).
// Errors: Usage (malformed values, K out of range, JOB_COMPLETION_INDEX without --shards).
using EnvReader = std::function<const char*(const char*)>;
ShardSpec resolveShard(const std::string& shardFlag, int shards, const EnvReader& env);

// ---------------------------------------------------------------- inputs

struct BatchInput {
  size_t position = 0;     // in the whole list (all shards)
  std::string path;
  std::string classSpec;   // a manifest's class column for this video (else empty: --class)
  std::string name;        // base name of its outputs in the output folder
};

// The inputs of a batch or eval run, in order: each INPUT expanded where it stands (a video file
// as given; a folder: every video in it and its subfolders, by file extension, sorted by path,
// outputs of ours (*.explained.*) left out; a manifest: `.csv` with a `path` column and an
// optional `class` column, or `.txt` with one path a line, paths relative to the manifest's
// folder, in the manifest's order). A path listed twice is kept once. Output names: the file's
// stem, or, when several inputs share a stem, the stem + "-" + 8 hex digits of the FNV-1a hash
// of the path as listed. Errors: Input (a missing file or folder, an empty folder, a manifest
// without a path column).
std::vector<BatchInput> listBatchInputs(const std::vector<std::string>& inputs);

// The extensions treated as videos in folders (lower case, with the dot).
const std::vector<std::string>& videoExtensions();

// ---------------------------------------------------------------- the run

struct BatchParams {
  ExplainParams explain;           // model, layer, methods, class, preprocessing, rendering
  std::vector<std::string> inputs;
  std::string outDir;
  bool noVideo = false;            // no <name>.explained.mp4
  bool saveHeatmaps = false;       // <name>.heatmaps.npy
  bool saveRaw = false;            // <name>.raw/
  bool overwrite = false;          // redo inputs whose outputs are complete
  bool failFast = false;           // stop at the first failed input
  ShardSpec shard;
};

// One row of the index.
struct BatchRow {
  size_t position = 0;
  std::string input;
  std::string status;  // "ok", "failed" or "skipped" (outputs already complete)
  int classId = -1;
  std::string className;
  double score = 0;
  int64_t frames = 0, windows = 0;
  double seconds = 0;
  std::string error;
  std::string shard;   // "K/N", empty when unsharded
};

struct BatchProgress {
  size_t done = 0, total = 0, failed = 0, skipped = 0;
  double seconds = 0;
  std::string current;  // the input being explained
};
using BatchProgressFn = std::function<void(const BatchProgress&)>;

struct BatchResult {
  std::vector<BatchRow> rows;
  size_t ok = 0, failed = 0, skipped = 0;
  std::string index;  // the index file written
  ShardSpec shard;
  std::vector<std::string> warnings;  // per video, "<input>: <warning>"
  bool stoppedEarly = false;          // --fail-fast stopped the run
};

// Explains every input of the shard, loading the model once. A video that fails is recorded
// with its one-line error and the run goes on (unless failFast). The index (DIR/index.csv, or
// DIR/index.shard-K-of-N.csv for a shard) is rewritten atomically as videos finish.
// Errors (the whole run): Usage, Model (the model itself), Output (DIR cannot be created).
BatchResult runBatch(const BatchParams& params, const BatchProgressFn& progress = {});

// The index file of a shard ("index.csv" unsharded, "index.shard-K-of-N.csv").
std::string indexFileName(const ShardSpec& shard);
void writeBatchIndex(const std::vector<BatchRow>& rows, const std::string& path);
std::vector<BatchRow> readBatchIndex(const std::string& path);

// `explain-video merge DIR`: joins DIR/index.shard-K-of-N.csv (K = 0..N−1, all present, one N)
// into DIR/index.csv in input order. Returns the rows. Errors: Input (no shard index, missing
// shards, shards of different N).
std::vector<BatchRow> mergeBatchIndex(const std::string& dir);

}  // namespace ev
