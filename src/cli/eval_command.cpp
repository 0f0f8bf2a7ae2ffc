// `explain-video eval CLIPS... --model M.pt`: the Grad-CAM++ paper's objective evaluation on
// videos (average drop, increase in confidence, win %, threshold curve), deletion/insertion,
// and localisation against ground truth (docs/eval.md).
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/cli_common.hpp"
#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/sanity.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace cli {
namespace {

// An output's folder must exist (files) / its parent must exist (folders): fail before the run.
void checkOutputParent(const std::string& flag, const std::string& path, bool isDir) {
  if (path.empty()) return;
  fs::path p = fs::path(path).lexically_normal();
  if (isDir && p.filename().empty()) p = p.parent_path();
  std::error_code ec;
  if (isDir && fs::exists(p, ec) && !fs::is_directory(p, ec))
    throw ev::Error(ev::ErrorKind::Output, flag + " " + path + ": exists and is not a folder");
  if (!isDir && fs::is_directory(p, ec)) throw ev::Error(ev::ErrorKind::Output, flag + " " + path + ": is a folder");
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(parent, ec))
    throw ev::Error(ev::ErrorKind::Output, flag + " " + path + ": folder '" + parent.string() + "' does not exist");
}

}  // namespace

int runEval(int argc, char** argv) {
  ev::EvalParams p;
  std::string methods, classSource = "predicted";
  PreprocessArgs prepArgs(p.preprocess, p.windows.clipLen, p.windows.stride);
  std::string jsonFile, csvDir, plotsDir, shard;
  int shards = 0;
  bool quiet = false;
  methods = "gradcam++,gradcam";

  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help and exit")
      ("model,m", value(&p.model, "FILE"), "TorchScript model file (required)")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr")
      ("shard", value(&shard, "K/N"), "K/N: evaluate only shard K (from 0) of N; clip i belongs to shard i mod N; join the "
                                   "shards' --json with eval-merge (default: from SLURM_ARRAY_TASK_ID/_MIN/_COUNT, or "
                                   "JOB_COMPLETION_INDEX with --shards)")
      ("shards", value(&shards, "N"), "N, the shard count of a Kubernetes Indexed Job (its completions)")
      ("threads", threadsValue(&p.threads), "LibTorch threads (0: every CPU; more are capped there)")
      ("batch-size", value(&p.batchSize, "N")->default_value(ev::kDefaultBatchSize),
       "inputs per forward pass: windows, and every masked, thresholded, deleted or inserted input")
      ("device", valueOr(&p.device, "DEVICE"), "cpu, cuda or cuda:N (a LibTorch built with CUDA)")
      ("temp-dir", po::value<std::string>()->value_name("DIR"),
       "no longer used (eval keeps each clip's maps in memory); accepted so that older scripts still run");
  po::options_description expl("Explanation (as the main command)");
  expl.add_options()
      ("methods", valueOr(&methods, "LIST"),
       "comma-separated CAM methods to compare, or all (every method below; one capture per window serves them all)")
      ("layer,l", value(&p.layer, "PATH"), "dotted submodule path (default: the last submodule whose output is 5D)")
      ("output", value(&p.modelOutput, "KEY"),
       "tuple/list/dict model outputs: the element holding the logits, index or key (default: the first tensor)")
      ("class,c", value(&p.classSpec, "SPEC"), "class id, or a name from --labels (default: top-1 of the mean logits)")
      ("class-source", valueOr(&classSource, "SOURCE"),
       "predicted (--class, else top-1 of the mean logits) or truth (the ground-truth class where a clip has one)")
      ("labels", value(&p.labelsFile, "FILE"), "class names, one per line, line N = class id N");
  addPerturbationOptions(expl, p.perturbation);
  po::options_description prep("Windows and preprocessing (as the main command)");
  prepArgs.add(prep, "frames between window starts");
  po::options_description metr("Metrics");
  metr.add_options()
      ("curve-steps", valueOr(&p.curveSteps, "N"), "threshold-curve points, theta equally spaced over [0,1] (0: no curve)")
      ("del-steps", valueOr(&p.delSteps, "N"), "deletion/insertion steps (0: skip both)")
      ("blur-kernel", value(&p.blurKernel, "PX")->default_value(0),
       "insertion baseline box-blur size in pixels (0: 2*floor(min(crop)/8)+1)")
      ("pointing-tolerance", valueOr(&p.pointingTolerance, "X"),
       "pointing game: actor box grown by this share of the frame width/height on each side")
      ("iou-threshold", valueOr(&p.iouThreshold, "X"), "IoU: heatmap thresholded at this share of the frame's maximum")
      ("instance-tolerance", valueOr(&p.instanceTolerance, "X"),
       "several instances: an instance's box grows by this share of the frame's width/height")
      ("instance-peak", valueOr(&p.instancePeak, "X"),
       "several instances: found when its grown box holds a local maximum of at least this share of the frame's peak");
  std::string sanityMode, sanityLayers;
  ev::SanityParams sp;
  po::options_description san("Sanity checks (Adebayo et al. 2018; instead of the metrics above)");
  san.add_options()
      ("sanity", value(&sanityMode, "MODE"),
       "cascade: randomise the model's layers from the top down, one more per step; independent: one layer "
       "at a time; labels: explain a random other class. Per method: Spearman, SSIM and top-k intersection "
       "with the original maps, mean over the windows (sanity.csv, sanity_*.png)")
      ("sanity-layers", value(&sanityLayers, "LIST"),
       "comma-separated layers to randomise (default: every submodule with parameters of its own)")
      ("sanity-seed", valueOr(&sp.seed, "N"), "seed of the re-initialisation and of the random classes")
      ("sanity-topk", valueOr(&sp.topK, "X"), "share of the voxels in the top-k intersection");
  po::options_description out("Output");
  out.add_options()
      ("json", value(&jsonFile, "FILE"), "everything as JSON: options, aggregates, curves, per clip, per window")
      ("csv-dir", value(&csvDir, "DIR"),
       "folder for windows.csv, clips.csv, summary.csv and the curves' CSVs (--sanity: sanity.csv)")
      ("plots", value(&plotsDir, "DIR"), "folder for threshold_curve.png, deletion.png, insertion.png (--sanity: "
                                        "sanity_spearman.png, sanity_ssim.png, sanity_topk.png)");
  po::options_description hidden;
  hidden.add_options()("input", po::value(&p.inputs)->composing());
  po::positional_options_description pos;
  pos.add("input", -1);

  po::options_description visible;
  visible.add(general).add(expl).add(prep).add(metr).add(san).add(out);
  po::options_description all;
  all.add(visible).add(hidden);
  const po::variables_map vm = parseOptions("eval", argc, argv, all, pos);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video eval CLIP_OR_FOLDER... --model MODEL.pt [options]\n\n"
                 "Objective evaluation of the explanations, per window: Average Drop %, % Increase in\n"
                 "Confidence, Win % (Grad-CAM++ paper, Sec. 6), the threshold curve (its Fig. 6), deletion\n"
                 "and insertion AUC; with ground truth beside a clip (<stem>.json, the synthetic benchmark):\n"
                 "pointing game, heat in the actor box, IoU, heat in the action's frame range. A folder with\n"
                 "index.json is a benchmark split; another folder means every video in it. docs/eval.md\n"
                 "defines every number.\n\n"
              << visible << "\nMethods:\n"
              << ev::camMethodTable()
              << examplesSection({
                     "# The committed benchmark clip (its ground truth clips/synth_move_up.json sits beside it),",
                     "# without the threshold curve and deletion/insertion (the slow part)",
                     "explain-video eval clips/synth_move_up.mp4 --model models/c3d_small_synth.pt --labels models/labels.txt \\",
                     "    --curve-steps 0 --del-steps 0",
                     "# Three methods on a benchmark clip, coarser curves, as JSON, CSV and plots",
                     "explain-video synth --out data --split test --clips-per-class 1",
                     "explain-video eval data/test/clip_000000.mp4 -m models/c3d_small_synth.pt --methods gradcam++,gradcam,layercam \\",
                     "    --curve-steps 5 --del-steps 4 --json eval.json --csv-dir eval_csv --plots eval_plots",
                     "# A whole split (a folder with index.json), one of two shards; join the shards' JSON with",
                     "# explain-video eval-merge",
                     "explain-video eval data/test -m models/c3d_small_synth.pt --curve-steps 0 --del-steps 0 --shard 0/2 --json eval.0.json",
                     "# The model-randomisation sanity check: how far each method's maps move as the layers are",
                     "# re-initialised from the top down (a table, sanity.csv and sanity_spearman.png ...); three",
                     "# layers here, every layer without --sanity-layers",
                     "explain-video eval clips/synth_move_up.mp4 -m models/c3d_small_synth.pt --methods gradcam++,gradcam \\",
                     "    --sanity cascade --sanity-layers fc8,conv5b,conv1a --csv-dir sanity_csv --plots sanity_plots",
                 });
    return kOk;
  }
  p.methods = ev::parseCamMethods(methods, "eval: --methods", &p.skipUnavailable);
  checkPerturbationParams(p.perturbation);
  if (classSource == "truth") p.classFromTruth = true;
  else if (classSource != "predicted")
    throw ev::Error(ev::ErrorKind::Usage, "eval: unknown --class-source '" + classSource + "': choose predicted or truth");
  prepArgs.apply();
  {
    const ev::ShardSpec s = ev::resolveShard(shard, shards, [](const char* n) { return std::getenv(n); });
    p.shardIndex = s.index;
    p.shardCount = s.count;
    p.shardSource = s.source;
  }
  ev::WindowSampler validate(p.preprocess, p.windows);  // checks sizes, clip length, stride
  (void)validate;
  if (p.inputs.empty()) throw ev::Error(ev::ErrorKind::Usage, "eval: no clip or folder given (see explain-video eval --help)");
  if (p.model.empty()) throw ev::Error(ev::ErrorKind::Usage, "eval: --model is required (see explain-video eval --help)");
  checkOutputParent("--json", jsonFile, false);
  checkOutputParent("--csv-dir", csvDir, true);
  checkOutputParent("--plots", plotsDir, true);

  ProgressPrinter printer;
  ev::EvalProgressFn cb;
  if (!quiet)
    cb = [&printer](const ev::EvalProgress& e) { printer.update(e.stage, e.done, e.total, e.seconds, e.note); };
  if (vm.count("sanity")) {
    sp.mode = ev::parseSanityMode(sanityMode);
    if (sp.mode == ev::SanityMode::Labels && !plotsDir.empty())
      throw ev::Error(ev::ErrorKind::Usage, "eval: --sanity labels has a single step and draws no plot: drop --plots");
    sp.eval = p;
    std::stringstream ls(sanityLayers);
    for (std::string l; std::getline(ls, l, ',');)
      if (!l.empty()) sp.layers.push_back(l);
    if (vm.count("sanity-layers") && sp.layers.empty())
      throw ev::Error(ev::ErrorKind::Usage, "eval: --sanity-layers names no layer");
    const ev::SanityResult r = ev::runSanityCheck(sp, cb);
    ProgressPrinter::finish();
    for (const std::string& w : r.warnings) std::fprintf(stderr, "explain-video eval: warning: %s\n", w.c_str());
    if (!jsonFile.empty()) ev::writeSanityJson(r, jsonFile);
    if (!csvDir.empty()) ev::writeSanityCsv(r, csvDir);
    if (!plotsDir.empty()) ev::writeSanityPlots(r, plotsDir);
    std::cout << ev::formatSanityTable(r);
    if (!quiet)
      std::fprintf(stderr, "eval --sanity %s: %s, %s, %zu steps, %.1f s\n", sanityMode.c_str(),
                   ev::plural(r.clips, "clip").c_str(), ev::plural(r.windows, "window").c_str(), r.steps.size(),
                   r.secondsTotal);
    return kOk;
  }
  for (const char* flag : {"sanity-layers", "sanity-seed", "sanity-topk"})
    if (vm.count(flag) && !vm[flag].defaulted())
      throw ev::Error(ev::ErrorKind::Usage, std::string("eval: --") + flag + " needs --sanity");
  const ev::EvalResult r = ev::runEvaluation(p, cb);
  ProgressPrinter::finish();
  for (const std::string& w : r.warnings) std::fprintf(stderr, "explain-video eval: warning: %s\n", w.c_str());
  if (!jsonFile.empty()) ev::writeEvalJson(r, jsonFile);
  if (!csvDir.empty()) ev::writeEvalCsv(r, csvDir);
  if (!plotsDir.empty()) ev::writeEvalPlots(r, plotsDir);
  std::cout << ev::formatEvalTable(r);
  if (!quiet)
    std::fprintf(stderr, "eval: %s, %s, %s, %.1f s (%.2f s per clip)\n", ev::plural(r.clips.size(), "clip").c_str(),
                 ev::plural(r.totalWindows(), "window").c_str(), ev::plural(r.forwardPasses, "forward pass").c_str(),
                 r.secondsTotal,
                 r.clips.empty() ? 0.0 : r.secondsTotal / static_cast<double>(r.clips.size()));
  return kOk;
}

}  // namespace cli
