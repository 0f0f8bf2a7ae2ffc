// `explain-video synth`: writes splits of the synthetic action benchmark (docs/benchmark.md).
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/cli_common.hpp"
#include "explain_video/error.hpp"
#include "explain_video/synth.hpp"

namespace po = boost::program_options;

namespace cli {

int runSynth(int argc, char** argv) {
  ev::SynthParams sp;
  std::string out, splits = "train,val,test";
  int clipsPerClass = 10;
  uint64_t seed = 1;
  bool quiet = false, noMover = false;
  po::options_description opts("explain-video synth: write the synthetic action benchmark");
  opts.add_options()
      ("help,h", "show this help and exit")
      ("out,o", po::value(&out), "dataset folder; each split goes to <out>/<split>/ (required)")
      ("split", po::value(&splits)->default_value(splits), "comma-separated split names; each gets its own seeds")
      ("clips-per-class", po::value(&clipsPerClass)->default_value(clipsPerClass), "clips of each of the 8 classes per split")
      ("seed", po::value(&seed)->default_value(seed), "base seed; split and clip seeds derive from it")
      ("width", po::value(&sp.width)->default_value(sp.width), "frame width in pixels")
      ("height", po::value(&sp.height)->default_value(sp.height), "frame height in pixels")
      ("frames", po::value(&sp.frames)->default_value(sp.frames), "frames per clip")
      ("fps", po::value(&sp.fpsNum)->default_value(sp.fpsNum), "frame rate")
      ("partial-share", po::value(&sp.partialShare)->default_value(sp.partialShare),
       "share of clips whose action covers only part of the frames")
      ("max-static", po::value(&sp.maxStatic)->default_value(sp.maxStatic), "static distractors per clip: 1..N (0: none)")
      ("no-mover", po::bool_switch(&noMover), "no jittering distractor")
      ("noise", po::value(&sp.noise)->default_value(sp.noise), "per-pixel noise, std in 8-bit levels")
      ("jitter", po::value(&sp.jitter)->default_value(sp.jitter), "camera shake, max shift in pixels")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr");
  const po::variables_map vm = parseOptions("synth", argc, argv, opts);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video synth --out DIR [options]\n\n" << opts
              << "\nWrites <out>/<split>/clip_NNNNNN.mp4 with clip_NNNNNN.json ground truth, labels.txt and\n"
                 "index.json for every split. The same options and seed give the same files.\n";
    return kOk;
  }
  if (out.empty()) throw ev::Error(ev::ErrorKind::Usage, "synth: --out DIR is required");
  sp.distractorMover = !noMover;
  ev::validateSynthParams(sp);
  std::vector<std::string> names;
  std::istringstream in(splits);
  for (std::string s; std::getline(in, s, ',');)
    if (!s.empty()) names.push_back(s);
  if (names.empty()) throw ev::Error(ev::ErrorKind::Usage, "synth: --split names no split");
  for (const auto& split : names) {
    ProgressPrinter printer;
    const auto t0 = std::chrono::steady_clock::now();
    ev::SynthProgress progress;
    if (!quiet)
      progress = [&](int done, int total) {
        printer.update("synth " + split, done, total,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      };
    const int n = ev::writeSynthSplit(out, split, clipsPerClass, seed, sp, progress);
    ProgressPrinter::finish();
    std::fprintf(stderr, "%s/%s: %d clips\n", out.c_str(), split.c_str(), n);
  }
  return kOk;
}

}  // namespace cli
