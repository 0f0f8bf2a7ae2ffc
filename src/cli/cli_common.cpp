#include "cli/cli_common.hpp"
#include "util/resources.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/render.hpp"

namespace cli {

boost::program_options::typed_value<int>* threadsValue(int* v) {
  return value(v, "N")->default_value(0)->notifier([v](int n) {
    if (n < 0) throw ev::Error(ev::ErrorKind::Usage, "--threads must be 0 (every core) or more");
    const int cpus = ev::usableCpus();
    if (n > cpus) {
      std::fprintf(stderr, "explain-video: warning: --threads %d: this process may use %s; using %d\n", n,
                   ev::plural(cpus, "CPU").c_str(), cpus);
      *v = cpus;
    }
  });
}
namespace {

bool g_progressLineOpen = false;  // a progress line without its newline is on stderr

}  // namespace

std::string joinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string examplesSection(const std::vector<std::string>& lines) {
  std::string s = "\nExamples (run in the repository's root, where explain-video is build/explain-video):\n";
  for (const std::string& l : lines) s += l.empty() ? "\n" : "  " + l + "\n";
  return s;
}

std::string formatDuration(double s) {
  char buf[32];
  const long t = std::lround(std::max(0.0, s));
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

boost::program_options::variables_map parseOptions(const std::string& command, int argc, char** argv,
                                                   const boost::program_options::options_description& opts,
                                                   const boost::program_options::positional_options_description& positional) {
  namespace po = boost::program_options;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    if (command.empty()) throw ev::Error(ev::ErrorKind::Usage, std::string(e.what()) + " (see --help)");
    throw ev::Error(ev::ErrorKind::Usage, command + ": " + e.what() + " (see explain-video " + command + " --help)");
  }
  return vm;
}

void PreprocessArgs::add(boost::program_options::options_description& opts, const char* strideHelp) {
  namespace po = boost::program_options;
  strideHelp_ = std::string(strideHelp) + ", at most --clip-len (default: " + std::to_string(stride_) +
                ", or --clip-len if that is shorter)";
  presetHelp_ = "the preprocessing a model family was trained with, one of: " + joinNames(ev::preprocessPresetNames()) +
                " (kinetics: torchvision r3d_18, mc3_18, r2plus1d_18, the defaults below; c3d-sports1m: C3D with "
                "c3d-pytorch's weights); flags given explicitly override it";
  opts.add_options()
      ("clip-len", valueOr(&clipLen_, "N"), "frames per window")
      ("stride", value(&strideArg_, "N"), strideHelp_.c_str())
      ("preset", value(&preset_, "NAME"), presetHelp_.c_str())
      ("resize", value(&resize_, "HxW"), "resize every frame to HEIGHTxWIDTH (default 128x171)")
      ("crop", value(&crop_, "HxW"), "centre crop HEIGHTxWIDTH of the resized frame: the model input (default 112x112)")
      ("scale", value(&scale_, "X"), "multiply 8-bit pixel values by this before --mean/--std, a number or a "
                                    "fraction such as 1/255 (default 1/255)")
      ("mean", value(&mean_, "X[,X,X]"), "mean in scaled units, one value for all three channels or one per channel "
                                          "(default 0.43216,0.394666,0.37645)")
      ("std", value(&std_, "X[,X,X]"), "std in scaled units (> 0), one value for all three channels or one per channel "
                                        "(default 0.22803,0.22145,0.216989)")
      ("bgr", po::bool_switch(&bgr_), "feed channels in B,G,R order (--mean/--std then in B,G,R)");
}

ExplainArgs::ExplainArgs(ev::ExplainParams& p) : p_(p), prep_(p.preprocess, p.windows.clipLen, p.windows.stride) {
  normalizeHelp_ = "heatmap normalisation, one of: " + joinNames(ev::normalizeNames()) +
                   " (video: divide by the 99th percentile of the video's positive heat, the hottest 1% clip, frames "
                   "without evidence stay dark; video-max: by the video's maximum; window: by each window's maximum; "
                   "frame: by each frame's maximum)";
  colormapHelp_ = "heatmap colours, one of: " + joinNames(ev::colormapNames());
}

void ExplainArgs::addExplanation(boost::program_options::options_description& opts) {
  namespace po = boost::program_options;
  opts.add_options()
      ("layer,l", value(&p_.layer, "PATH"), "dotted submodule path, e.g. features.conv5b, layer4, layer4.1.conv2 "
                                        "(default: the last submodule whose output is 5D)")
      ("output", value(&p_.modelOutput, "KEY"),
       "for a model whose forward() returns a tuple, list or dict: the element holding the logits, as an index "
       "or key, dotted when nested (default: the first tensor)")
      ("method", valueOr(&method_, "LIST"),
       "a method (list below), a comma-separated list, or all; several give a side-by-side video")
      ("class,c", value(&p_.classSpec, "SPEC"),
       "class id or --labels name, a comma-separated list of them, or topK (the K best of the mean logits); "
       "several give one panel each (default: top-1 of the mean logits)")
      ("labels", value(&p_.labelsFile, "FILE"), "class names, one per line, line N = class id N")
      ("normalize", valueOr(&normalize_, "MODE"), normalizeHelp_.c_str())
      ("allow-image", po::bool_switch(&p_.allowImage),
       "explain a still image (PNG, JPEG, ...) as a one-frame clip instead of refusing it")
      ("strict", po::bool_switch(&p_.strict),
       "any warning (mostly empty or dark maps, unknown cell geometry, a skipped method) is an error: exit 7, "
       "nothing written");
  addPerturbationOptions(opts, p_.perturbation);
}

void addPerturbationOptions(boost::program_options::options_description& opts, ev::PerturbationParams& q) {
  namespace po = boost::program_options;
  opts.add_options()
      ("seed", valueOr(&q.seed, "N"), "smoothgradcam++, rise: the seed of their noise and masks (same seed, same maps)")
      ("smooth-samples", valueOr(&q.smoothSamples, "N"), "smoothgradcam++: noisy copies per window")
      ("smooth-sigma", valueOr(&q.smoothSigma, "X"), "smoothgradcam++: noise std as a share of the input's max - min")
      ("score-channels", valueOr(&q.scoreChannels, "K"),
       "scorecam, ablationcam: use only the K channels of largest mean activation (0: all; an approximation that "
       "trades fidelity for speed)")
      ("rise-masks", valueOr(&q.riseMasks, "M"), "rise: random masks per window (one forward pass each)")
      ("rise-grid", po::value<std::string>()->value_name("TxHxW")->default_value("4x7x7")->notifier([&q](const std::string& g) {
         int t = 0, h = 0, w = 0;
         char x1 = 0, x2 = 0, extra = 0;
         if (std::sscanf(g.c_str(), "%d%c%d%c%d%c", &t, &x1, &h, &x2, &w, &extra) != 5 || x1 != 'x' || x2 != 'x' || t < 1 ||
             h < 1 || w < 1 || t > 1000 || h > 1000 || w > 1000)
           throw ev::Error(ev::ErrorKind::Usage, "--rise-grid must be TxHxW with each 1..1000 (e.g. 4x7x7), not '" + g + "'");
         q.riseGrid[0] = t, q.riseGrid[1] = h, q.riseGrid[2] = w;
       }),
       "rise: the masks' coarse cells along time, height and width (each cell kept with probability 0.5)");
}

void checkPerturbationParams(const ev::PerturbationParams& q) {
  if (q.smoothSamples < 1 || q.smoothSamples > 100000) throw ev::Error(ev::ErrorKind::Usage, "--smooth-samples must be 1..100000");
  if (!(q.smoothSigma >= 0 && q.smoothSigma <= 10)) throw ev::Error(ev::ErrorKind::Usage, "--smooth-sigma must be 0..10");
  if (q.scoreChannels < 0) throw ev::Error(ev::ErrorKind::Usage, "--score-channels must be >= 0");
  if (q.riseMasks < 1 || q.riseMasks > 1000000) throw ev::Error(ev::ErrorKind::Usage, "--rise-masks must be 1..1000000");
}

void ExplainArgs::addPreprocessing(boost::program_options::options_description& opts, const char* strideHelp) {
  namespace po = boost::program_options;
  prep_.add(opts, strideHelp);
  opts.add_options()
      ("frame-step", valueOr(&p_.windows.frameStep, "K"),
       "a window takes every k-th frame (mmaction2's frame_interval): it spans (clip-len - 1)*k + 1 frames, "
       "--stride counts source frames, and every spanned frame gets heat")
      ("spatial", valueOr(&spatial_, "MODE"),
       "what the model sees: crop (the centre crop; the rest of the frame keeps its own pixels, outlined), full "
       "(the whole frame resized to --crop, aspect changed) or tiles (crops covering the resized frame, each "
       "explained, class from their mean logits, heat averaged where they overlap)");
}

void ExplainArgs::addRendering(boost::program_options::options_description& opts) {
  namespace po = boost::program_options;
  opts.add_options()
      ("colormap", valueOr(&p_.render.colormap, "NAME"), colormapHelp_.c_str())
      ("alpha", valueOr(&p_.render.alpha, "X"), "heatmap weight in the blend, 0..1")
      ("no-strip", po::bool_switch(&noStrip_), "do not draw the temporal-importance strip")
      ("crf", valueOr(&p_.crf, "N"), "H.264 quality, 0..51 (lower is better)")
      ("x264-preset", valueOr(&p_.preset, "NAME"),
       "x264 speed preset of the MP4, one of: ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, "
       "veryslow, placebo");
}

void ExplainArgs::apply() {
  p_.methods = ev::parseCamMethods(method_, "--method", &p_.skipUnavailable);
  checkPerturbationParams(p_.perturbation);
  p_.normalize = ev::parseNormalize(normalize_);
  prep_.apply();
  p_.preprocess.spatial = ev::parseSpatial(spatial_);
  p_.render.strip = !noStrip_;
  ev::checkRenderParams(p_.render);
  ev::WindowSampler validate(p_.preprocess, p_.windows);  // checks sizes, clip length, stride
  (void)validate;
}

void PreprocessArgs::apply() {
  stride_ = strideArg_ != INT_MIN ? strideArg_ : std::min(stride_, clipLen_);
  if (!preset_.empty()) pre_ = ev::preprocessPreset(preset_);
  if (bgr_) pre_.bgr = true;
  if (!scale_.empty()) pre_.scale = parseScale("--scale", scale_);
  if (!mean_.empty()) pre_.mean = parseTriple("--mean", mean_);
  if (!std_.empty()) pre_.std = parseTriple("--std", std_, true);
  if (!resize_.empty()) parseSize("--resize", resize_, pre_.resizeHeight, pre_.resizeWidth);
  if (!crop_.empty()) parseSize("--crop", crop_, pre_.cropHeight, pre_.cropWidth);
}

void ProgressPrinter::update(const std::string& stage, long long done, long long total, double seconds,
                             const std::string& note) {
  const auto now = std::chrono::steady_clock::now();
  const bool stageChanged = stage != stage_;
  if (stageChanged && g_progressLineOpen) std::fputc('\n', stderr);
  const bool last = total > 0 && done >= total;
  if (!stageChanged && !last && now - lastPrint_ < std::chrono::milliseconds(250)) return;
  stage_ = stage;
  lastPrint_ = now;
  const double rate = seconds > 0 ? done / seconds : 0;
  std::fprintf(stderr, "\r%-10s %6lld", stage.c_str(), done);
  if (total > 0) {
    const double eta = rate > 0 ? (total - done) / rate : 0;
    std::fprintf(stderr, "/%lld (%3.0f%%)  %.1f/s  ETA %s  %s ", total, 100.0 * std::min(done, total) / total, rate,
                 formatDuration(std::max(0.0, eta)).c_str(), note.c_str());
  } else {
    std::fprintf(stderr, "  %.1f/s   ", rate);
  }
  std::fflush(stderr);
  g_progressLineOpen = true;
}

void ProgressPrinter::operator()(const ev::ExplainProgress& p) {
  std::string note;
  if (p.windowsDone > 0 && p.passes > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f model passes/window", static_cast<double>(p.passes) / p.windowsDone);
    note = buf;
  }
  if (p.passesInBatch > 0) note += (note.empty() ? "" : ", ") + ev::plural(p.passesInBatch, "pass") + " in this batch";
  update(p.stage + " frames", p.framesDone, p.framesTotal, p.seconds, note);
}

void ProgressPrinter::finish() {
  if (g_progressLineOpen) std::fputc('\n', stderr);
  g_progressLineOpen = false;
}

}  // namespace cli
