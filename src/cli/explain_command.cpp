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
  std::string method = "gradcam++", normalize = "video";
  PreprocessArgs prepArgs(p.preprocess, p.windows.clipLen, p.windows.stride);
  bool listLayers = false, quiet = false, noStrip = false;

  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("model,m", po::value(&p.model), "TorchScript model file (scripted or traced), input N×3×T×H×W")
      ("list-layers", po::bool_switch(&listLayers), "print every submodule with its output shape and exit")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr")
      ("threads", po::value(&p.threads)->default_value(0), "LibTorch threads (0: every core)");
  po::options_description expl("Explanation");
  expl.add_options()
      ("layer,l", po::value(&p.layer), "dotted submodule path, e.g. features.conv5b, layer4, layer4.1.conv2 "
                                       "(default: the last submodule whose output is 5D)")
      ("output", po::value(&p.modelOutput),
       "for a model whose forward() returns a tuple, list or dict: the element holding the logits, as an index "
       "or key, dotted when nested (default: the first tensor)")
      ("method", po::value(&method)->default_value(method),
       "a method (list below), a comma-separated list, or all; several give a side-by-side video")
      ("class,c", po::value(&p.classSpec),
       "class id or --labels name, a comma-separated list of them, or topK (the K best of the mean logits); "
       "several give one panel each (default: top-1 of the mean logits)")
      ("labels", po::value(&p.labelsFile), "class names, one per line, line N = class id N")
      ("normalize", po::value(&normalize)->default_value(normalize),
       "heatmap normalisation: video (divide by the video's maximum), window or frame");
  po::options_description prep("Windows and preprocessing");
  prepArgs.add(prep, "frames between window starts (the last window is aligned to the video's end)");
  po::options_description out("Output");
  out.add_options()
      ("out,o", po::value(&p.output), "annotated MP4 (default: <input dir>/<name>.explained.mp4)")
      ("save-heatmaps", po::value(&p.heatmapsNpy), "float32 .npy (frames, height, width): the rendered heatmaps")
      ("json", po::value(&p.jsonFile), "JSON summary: class, layer, windows, logits, top-5, per-frame importance")
      ("save-raw", po::value(&p.rawDir), "directory for every window's exact model input, CAM volume and logits")
      ("colormap", po::value(&p.render.colormap)->default_value(p.render.colormap), "jet, turbo, inferno, viridis, ...")
      ("alpha", po::value(&p.render.alpha)->default_value(p.render.alpha), "heatmap weight in the blend, 0..1")
      ("no-strip", po::bool_switch(&noStrip), "do not draw the temporal-importance strip")
      ("crf", po::value(&p.crf)->default_value(p.crf), "H.264 quality (lower is better)")
      ("x264-preset", po::value(&p.preset)->default_value(p.preset), "x264 speed preset of the MP4 (ultrafast ... veryslow)");
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
                 "       explain-video eval --help      (Avg Drop, Incr. in Conf., Win %, curves, localisation)\n\n"
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
  p.methods = ev::parseCamMethods(method, "--method", &p.skipUnavailable);
  p.normalize = ev::parseNormalize(normalize);
  prepArgs.apply();
  p.render.strip = !noStrip;
  ev::WindowSampler validate(p.preprocess, p.windows);  // checks sizes, clip length, stride
  (void)validate;

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
