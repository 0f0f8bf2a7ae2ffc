// `explain-video VIDEO --model M.pt`: the main job, and --list-layers.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "cli/cli_common.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"

namespace po = boost::program_options;

namespace cli {

int runExplain(int argc, char** argv) {
  ev::ExplainParams p;
  ExplainArgs args(p);
  bool listLayers = false, quiet = false;

  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("model,m", po::value(&p.model), "TorchScript model file (scripted or traced), input N×3×T×H×W")
      ("list-layers", po::bool_switch(&listLayers), "print every submodule with its output shape and exit")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr")
      ("threads", po::value(&p.threads)->default_value(0), "LibTorch threads (0: every core)")
      ("batch-size", po::value(&p.batchSize)->default_value(ev::kDefaultBatchSize),
       "windows per forward pass (one backward pass per candidate class serves the batch)")
      ("device", po::value(&p.device)->default_value(p.device), "cpu, cuda or cuda:N (a LibTorch built with CUDA)");
  po::options_description expl("Explanation");
  args.addExplanation(expl);
  po::options_description prep("Windows and preprocessing");
  args.addPreprocessing(prep, "frames between window starts (the last window is aligned to the video's end)");
  po::options_description out("Output");
  out.add_options()
      ("out,o", po::value(&p.output), "annotated MP4 (default: <input dir>/<name>.explained.mp4)")
      ("save-heatmaps", po::value(&p.heatmapsNpy), "float32 .npy (frames, height, width): the rendered heatmaps")
      ("json", po::value(&p.jsonFile), "JSON summary: class, layer, windows, logits, top-5, per-frame importance")
      ("save-raw", po::value(&p.rawDir), "directory for every window's exact model input, CAM volume and logits");
  args.addRendering(out);
  po::options_description hidden;
  hidden.add_options()("input", po::value(&p.input));
  po::positional_options_description pos;
  pos.add("input", 1);

  po::options_description visible;
  visible.add(general).add(expl).add(prep).add(out);
  po::options_description all;
  all.add(visible).add(hidden);
  const po::variables_map vm = parseOptions("", argc, argv, all, pos);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video VIDEO --model MODEL.pt [options]\n"
                 "       explain-video --list-layers --model MODEL.pt [options]\n"
                 "       explain-video synth --help     (write the synthetic action benchmark)\n"
                 "       explain-video train --help     (train a TorchScript model on a benchmark split)\n"
                 "       explain-video distill --help   (train a student from a teacher: kd, explanation loss)\n"
                 "       explain-video accuracy --help  (clip-level accuracy of a model on a split)\n"
                 "       explain-video eval --help      (Avg Drop, Incr. in Conf., Win %, curves, localisation)\n"
                 "       explain-video batch --help     (many videos, one model load; shards for job arrays)\n"
                 "       explain-video merge DIR        (join a sharded batch's indexes)\n"
                 "       explain-video eval-merge --help (join a sharded eval's JSON outputs)\n\n"
                 "Explains a 3D-CNN video classifier's decision with spatio-temporal Grad-CAM++ and\n"
                 "writes the video with per-frame heatmaps.\n\n"
              << visible << "\nMethods (all share one forward pass per window, and the gradient methods one\n"
                            "backward pass per class):\n"
              << ev::camMethodTable()
              << "\nWith several methods or classes, --out is a side-by-side video (the input, then one panel\n"
                 "per explanation: up to 4 in a row, else a square-ish grid, panels at source size up to\n"
                 "7680x4320 in all), and --save-heatmaps, --save-raw write one file per explanation\n"
                 "tagged .METHOD, .cID or .METHOD.cID (heat.npy -> heat.gradcam.npy).\n"
                 "\nExit codes: 0 success, 1 internal error, 2 bad option, 3 unreadable video,\n"
                 "4 model/layer/class problem, 5 output cannot be written.\n";
    return kOk;
  }
  if (vm.count("version")) {
    std::cout << "explain-video " << EV_VERSION << "\n";
    return kOk;
  }
  args.apply();

  if (listLayers) {
    if (p.model.empty()) throw ev::Error(ev::ErrorKind::Usage, "--list-layers needs --model");
    std::cout << ev::listLayers(p.model, p.preprocess, p.windows, p.threads);
    return kOk;
  }
  if (p.input.empty()) throw ev::Error(ev::ErrorKind::Usage, "no input video given (see --help)");
  if (p.model.empty()) throw ev::Error(ev::ErrorKind::Usage, "--model is required (see --help)");

  ProgressPrinter printer;
  ev::ProgressCallback cb;
  if (!quiet) cb = [&printer](const ev::ExplainProgress& pr) { printer(pr); };
  const ev::ExplainResult r = ev::explainVideo(p, cb);
  ProgressPrinter::finish();
  for (const std::string& w : r.warnings) std::fprintf(stderr, "explain-video: warning: %s: %s\n", p.input.c_str(), w.c_str());
  std::string classes;
  for (const ev::Explanation& e : r.explanations)
    if (classes.find("'" + e.className + "'") == std::string::npos) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " (p=%.3f)", e.classScore);
      classes += (classes.empty() ? "class " : ", class ") + std::to_string(e.classId) + " '" + e.className + "'" + buf;
    }
  std::fprintf(stderr, "%s: %s, layer %s, %lld frames, %lld windows, %.1f s (model %.1f s)\n", p.input.c_str(),
               classes.c_str(), r.layer.c_str(), static_cast<long long>(r.frames), static_cast<long long>(r.windows),
               r.secondsTotal, r.secondsModel);
  if (!r.output.empty()) std::printf("%s\n", r.output.c_str());
  return kOk;
}

}  // namespace cli
