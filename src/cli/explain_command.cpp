// `explain-video VIDEO --model M.pt`: the main job, and --list-layers.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "cli/cli_common.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "video/input_file.hpp"

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
      ("model,m", value(&p.model, "FILE"), "TorchScript model file (scripted or traced), input N×3×T×H×W")
      ("list-layers", po::bool_switch(&listLayers), "print every submodule with its output shape and exit")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr")
      ("threads", threadsValue(&p.threads), "LibTorch threads (0: every CPU; more are capped there)")
      ("batch-size", value(&p.batchSize, "N")->default_value(ev::kDefaultBatchSize),
       "windows per forward pass (one backward pass per candidate class serves the batch)")
      ("device", valueOr(&p.device, "DEVICE"), "cpu, cuda or cuda:N (a LibTorch built with CUDA)");
  po::options_description expl("Explanation");
  args.addExplanation(expl);
  po::options_description prep("Windows and preprocessing");
  args.addPreprocessing(prep, "frames between window starts (the last window is aligned to the video's end)");
  po::options_description out("Output");
  out.add_options()
      ("out,o", value(&p.output, "FILE"), "annotated MP4 (default: <input dir>/<name>.explained.mp4)")
      ("save-heatmaps", value(&p.heatmapsNpy, "FILE"), "float32 .npy (frames, height, width): the rendered heatmaps")
      ("json", value(&p.jsonFile, "FILE"), "JSON summary: class, layer, windows, logits, top-5, per-frame importance")
      ("save-raw", value(&p.rawDir, "DIR"), "directory for every window's exact model input, CAM volume and logits");
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
                 "       explain-video COMMAND [options]   (explain-video help COMMAND: its options)\n\n"
                 "Commands:\n"
              << commandList()
              << "\nExplains a 3D-CNN video classifier's decision with spatio-temporal Grad-CAM++ and\n"
                 "writes the video with per-frame heatmaps.\n\n"
              << visible << "\nMethods (all share one forward pass per window, and the gradient methods one\n"
                            "backward pass per class):\n"
              << ev::camMethodTable()
              << "\nWith several methods or classes, --out is a side-by-side video (the input, then one panel\n"
                 "per explanation: up to 4 in a row, else a square-ish grid, panels at source size up to\n"
                 "7680x4320 in all), and --save-heatmaps, --save-raw write one file per explanation\n"
                 "tagged .METHOD, .cID or .METHOD.cID (heat.npy -> heat.gradcam.npy).\n"
                 "\nExit codes: 0 success, 1 internal error, 2 bad option, 3 unreadable video,\n"
                 "4 model/layer/class problem, 5 output cannot be written, 7 --strict and a warning;\n"
                 "130 (SIGINT, Ctrl-C) and 143 (SIGTERM): stopped, nothing written. VIDEO '-' reads standard\n"
                 "input (needs --out); a FIFO works too (both are copied once into $TMPDIR).\n"
              << examplesSection({
                     "# Grad-CAM++ of the top-1 class; writes clips/synth_move_up.explained.mp4",
                     "explain-video clips/synth_move_up.mp4 --model models/c3d_small_synth.pt --labels models/labels.txt",
                     "# A named class with Grad-CAM at layer pool4, and a JSON summary",
                     "explain-video clips/synth_move_up.mp4 -m models/c3d_small_synth.pt --labels models/labels.txt \\",
                     "    --class bounce --method gradcam --layer pool4 --out bounce.mp4 --json bounce.json",
                     "# Every method side by side, and the two best classes",
                     "explain-video clips/synth_move_up.mp4 -m models/c3d_small_synth.pt --method all --out all.mp4",
                     "explain-video clips/synth_move_up.mp4 -m models/c3d_small_synth.pt --class top2 --out top2.mp4",
                     "# A torchvision model's preprocessing, and the layers it offers",
                     "explain-video --list-layers --model models/c3d_small_synth.pt --preset kinetics",
                     "# The other commands' help",
                     "explain-video help eval",
                 });
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
  const std::string input = ev::InputFile::displayName(p.input);  // "-": standard input
  for (const std::string& w : r.warnings) std::fprintf(stderr, "explain-video: warning: %s: %s\n", input.c_str(), w.c_str());
  std::string classes;
  for (const ev::Explanation& e : r.explanations)
    if (classes.find("'" + e.className + "'") == std::string::npos) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " (p=%.3f)", e.classScore);
      classes += (classes.empty() ? "class " : ", class ") + std::to_string(e.classId) + " '" + e.className + "'" + buf;
    }
  std::fprintf(stderr, "%s: %s, layer %s, %s, %s, %.1f s (model %.1f s)\n", input.c_str(), classes.c_str(),
               r.layer.c_str(), ev::plural(r.frames, "frame").c_str(), ev::plural(r.windows, "window").c_str(),
               r.secondsTotal, r.secondsModel);
  if (!r.output.empty()) std::printf("%s\n", r.output.c_str());
  return kOk;
}

}  // namespace cli
