// `explain-video batch` (many videos, the model loaded once, shards for job arrays),
// `explain-video merge DIR` (join a sharded batch's indexes) and `explain-video eval-merge`
// (join a sharded eval's JSON outputs). docs/cluster.md.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.hpp"
#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace cli {
namespace {

const char* envReader(const char* name) { return std::getenv(name); }

}  // namespace

int runBatch(int argc, char** argv) {
  ev::BatchParams b;
  ev::ExplainParams& p = b.explain;
  ExplainArgs args(p);
  std::string shard;
  int shards = 0;
  bool quiet = false;

  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help and exit")
      ("model,m", value(&p.model, "FILE"), "TorchScript model file (required), loaded once for every video")
      ("out-dir,d", value(&b.outDir, "DIR"), "folder for every video's outputs and the index (required; created)")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr")
      ("threads", threadsValue(&p.threads), "LibTorch threads (0: every CPU; more are capped there)")
      ("batch-size", value(&p.batchSize, "N")->default_value(ev::kDefaultBatchSize), "windows per forward pass")
      ("device", valueOr(&p.device, "DEVICE"), "cpu, cuda or cuda:N (a LibTorch built with CUDA)");
  po::options_description run("Run");
  run.add_options()
      ("shard", value(&shard, "K/N"), "K/N: explain only shard K (from 0) of N; input i belongs to shard i mod N "
                                   "(default: from SLURM_ARRAY_TASK_ID/_MIN/_COUNT, or JOB_COMPLETION_INDEX with --shards)")
      ("shards", value(&shards, "N"), "N, the shard count of a Kubernetes Indexed Job (its completions)")
      ("overwrite", po::bool_switch(&b.overwrite), "redo videos whose outputs are complete (default: skip them)")
      ("fail-fast", po::bool_switch(&b.failFast), "stop at the first video that fails (default: record it and go on)");
  po::options_description expl("Explanation (as the main command)");
  args.addExplanation(expl);
  po::options_description prep("Windows and preprocessing (as the main command)");
  args.addPreprocessing(prep, "frames between window starts");
  po::options_description out("Outputs per video, in --out-dir");
  out.add_options()
      ("no-video", po::bool_switch(&b.noVideo), "no NAME.explained.mp4 (NAME.json only)")
      ("save-heatmaps", po::bool_switch(&b.saveHeatmaps), "NAME.heatmaps.npy (tagged per method/class, as the main command)")
      ("save-raw", po::bool_switch(&b.saveRaw), "NAME.raw/: every window's model input, maps and logits");
  args.addRendering(out);
  po::options_description hidden;
  hidden.add_options()("input", po::value(&b.inputs)->composing());
  po::positional_options_description pos;
  pos.add("input", -1);
  po::options_description visible;
  visible.add(general).add(run).add(expl).add(prep).add(out);
  po::options_description all;
  all.add(visible).add(hidden);
  const po::variables_map vm = parseOptions("batch", argc, argv, all, pos);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video batch INPUT... --model MODEL.pt --out-dir DIR [options]\n\n"
                 "Explains every video of the INPUTs with one loaded model. An INPUT is a video file, a folder\n"
                 "(every video in it and its subfolders, sorted by path) or a manifest: a .csv with a 'path' column\n"
                 "and an optional 'class' column (the class to explain for that video), or a .txt with one path a\n"
                 "line (paths relative to the manifest). Per video in DIR: NAME.explained.mp4 and NAME.json, NAME\n"
                 "the file's stem (stem-XXXXXXXX, a hash of the path, when stems repeat). DIR/index.csv (per shard\n"
                 "DIR/index.shard-K-of-N.csv, joined by `explain-video merge DIR`) has a row per video: input,\n"
                 "status ok|failed|skipped, class, score, frames, windows, seconds, error. A rerun skips videos\n"
                 "whose outputs are complete.\n\n"
              << visible << "\nMethods (--method, as the main command):\n"
              << ev::camMethodTable()
              << "\nExit codes: 0 every video ok or skipped; 6 some videos failed (the index says which); with\n"
                 "--fail-fast the first failure's own code (3 unreadable video, 4 model/class problem, ...);\n"
                 "2 bad option, 4 the model cannot be used, 5 DIR cannot be written; 130/143 stopped by\n"
                 "SIGINT/SIGTERM (the finished videos and their index rows are kept; a re-run resumes).\n"
              << examplesSection({
                     "# Every video of a folder; a rerun skips the finished ones",
                     "explain-video batch clips --model models/c3d_small_synth.pt --labels models/labels.txt --out-dir out",
                     "# Two shards of a job array (here one after the other), joined into out2/index.csv",
                     "explain-video batch clips -m models/c3d_small_synth.pt --out-dir out2 --no-video --shard 0/2",
                     "explain-video batch clips -m models/c3d_small_synth.pt --out-dir out2 --no-video --shard 1/2",
                     "explain-video merge out2",
                 });
    return kOk;
  }
  args.apply();
  if (b.inputs.empty()) throw ev::Error(ev::ErrorKind::Usage, "batch: no input given (see explain-video batch --help)");
  if (p.model.empty()) throw ev::Error(ev::ErrorKind::Usage, "batch: --model is required");
  if (b.outDir.empty()) throw ev::Error(ev::ErrorKind::Usage, "batch: --out-dir is required");
  b.shard = ev::resolveShard(shard, shards, envReader);

  ProgressPrinter printer;
  ev::BatchProgressFn cb;
  if (!quiet)
    cb = [&printer](const ev::BatchProgress& e) {
      std::string note;
      if (e.failed) note += std::to_string(e.failed) + " failed ";
      if (e.skipped) note += std::to_string(e.skipped) + " skipped";
      printer.update("videos", static_cast<long long>(e.done), static_cast<long long>(e.total), e.seconds, note);
    };
  const ev::BatchResult r = ev::runBatch(b, cb);
  ProgressPrinter::finish();
  for (const std::string& w : r.warnings) std::fprintf(stderr, "explain-video batch: warning: %s\n", w.c_str());
  for (const ev::BatchRow& row : r.rows)
    if (row.status == "failed") std::fprintf(stderr, "explain-video batch: failed: %s\n", row.error.c_str());
  std::fprintf(stderr, "batch%s: %zu ok, %zu skipped, %zu failed; index %s\n",
               r.shard.sharded() ? (" shard " + r.shard.name() + " (" + r.shard.source + ")").c_str() : "", r.ok,
               r.skipped, r.failed, r.index.c_str());
  std::printf("%s\n", r.index.c_str());
  return r.failed > 0 ? kSomeFailed : kOk;
}

int runMerge(int argc, char** argv) {
  std::string dir;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help and exit");
  po::options_description all;
  all.add(opts).add_options()("dir", po::value(&dir));
  po::positional_options_description pos;
  pos.add("dir", 1);
  const po::variables_map vm = parseOptions("merge", argc, argv, all, pos);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video merge DIR\n\nJoins the shard indexes DIR/index.shard-K-of-N.csv of a sharded "
                 "`batch` into DIR/index.csv, in input order.\nFails (exit 3) when a shard's index is missing; "
                 "exits with 6 when the index lists failed videos.\n\n"
              << opts
              << examplesSection({
                     "explain-video batch clips -m models/c3d_small_synth.pt --out-dir out2 --no-video --shard 0/2",
                     "explain-video batch clips -m models/c3d_small_synth.pt --out-dir out2 --no-video --shard 1/2",
                     "explain-video merge out2",
                 });
    return kOk;
  }
  if (dir.empty()) throw ev::Error(ev::ErrorKind::Usage, "merge: give the batch's output folder");
  const std::vector<ev::BatchRow> rows = ev::mergeBatchIndex(dir);
  size_t failed = 0;
  for (const auto& r : rows) failed += r.status == "failed";
  std::fprintf(stderr, "merge: %s, %zu failed\n", ev::plural(rows.size(), "video").c_str(), failed);
  std::printf("%s\n", (fs::path(dir) / "index.csv").string().c_str());
  return failed > 0 ? kSomeFailed : kOk;
}

int runEvalMerge(int argc, char** argv) {
  std::vector<std::string> files;
  std::string jsonFile, csvDir, plotsDir;
  po::options_description opts("Options");
  opts.add_options()
      ("help,h", "show this help and exit")
      ("json", value(&jsonFile, "FILE"), "the merged eval JSON")
      ("csv-dir", value(&csvDir, "DIR"), "folder for the merged CSVs (as eval)")
      ("plots", value(&plotsDir, "DIR"), "folder for the merged plots (as eval)");
  po::options_description all;
  all.add(opts).add_options()("shard-json", po::value(&files)->composing());
  po::positional_options_description pos;
  pos.add("shard-json", -1);
  const po::variables_map vm = parseOptions("eval-merge", argc, argv, all, pos);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video eval-merge SHARD.json... [--json OUT.json] [--csv-dir DIR] [--plots DIR]\n\n"
                 "Joins the --json outputs of the shards of one `eval --shard K/N` run (all N of them) into the\n"
                 "table, JSON, CSV and plots one unsharded eval gives: clips and windows in the unsharded order,\n"
                 "every number recomputed from the per-window records.\n\n"
              << opts
              << examplesSection({
                     "explain-video eval clips -m models/c3d_small_synth.pt --curve-steps 0 --del-steps 0 --shard 0/2 --json eval.0.json",
                     "explain-video eval clips -m models/c3d_small_synth.pt --curve-steps 0 --del-steps 0 --shard 1/2 --json eval.1.json",
                     "explain-video eval-merge eval.0.json eval.1.json --json eval.json",
                 });
    return kOk;
  }
  if (files.empty()) throw ev::Error(ev::ErrorKind::Usage, "eval-merge: give the shards' eval JSON files");
  const ev::EvalResult r = ev::mergeEvalShards(files);
  if (!jsonFile.empty()) ev::writeEvalJson(r, jsonFile);
  if (!csvDir.empty()) ev::writeEvalCsv(r, csvDir);
  if (!plotsDir.empty()) ev::writeEvalPlots(r, plotsDir);
  std::cout << ev::formatEvalTable(r);
  return kOk;
}

}  // namespace cli
