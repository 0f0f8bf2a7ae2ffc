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
  std::string instances = "1";
  po::options_description opts("explain-video synth: write the synthetic action benchmark");
  opts.add_options()
      ("help,h", "show this help and exit")
      ("out,o", value(&out, "DIR"), "dataset folder; each split goes to <out>/<split>/ (required)")
      ("split", valueOr(&splits, "LIST"), "comma-separated split names; each gets its own seeds")
      ("clips-per-class", valueOr(&clipsPerClass, "N"),
       ("clips of each of the " + std::to_string(ev::synthClassNames().size()) + " classes per split (" +
        joinNames(ev::synthClassNames()) + ")").c_str())
      ("seed", valueOr(&seed, "N"), "base seed; split and clip seeds derive from it")
      ("width", valueOr(&sp.width, "N"), "frame width in pixels, 64..4096")
      ("height", valueOr(&sp.height, "N"), "frame height in pixels, 48..4096")
      ("frames", valueOr(&sp.frames, "N"), "frames per clip, 8..1000")
      ("fps", valueOr(&sp.fpsNum, "N"), "frame rate")
      ("partial-share", valueOr(&sp.partialShare, "X"), "share of clips whose action covers only part of the frames")
      ("max-static", valueOr(&sp.maxStatic, "N"), "static distractors per clip: 1..N (0: none), N at most 8")
      ("no-mover", po::bool_switch(&noMover), "no jittering distractor")
      ("noise", valueOr(&sp.noise, "X"), "per-pixel noise, std in 8-bit levels")
      ("jitter", valueOr(&sp.jitter, "N"), "camera shake, max shift in pixels")
      ("instances", valueOr(&instances, "N|A-B"),
       ("actors performing the class's action in each clip: N, or a number drawn per clip from A..B; at most " +
        std::to_string(ev::kMaxSynthInstances) + ", each in its own lane (the ground truth lists every one)").c_str())
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr");
  const po::variables_map vm = parseOptions("synth", argc, argv, opts);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video synth --out DIR [options]\n\n" << opts
              << "\nWrites <out>/<split>/clip_NNNNNN.mp4 with clip_NNNNNN.json ground truth, labels.txt and\n"
                 "index.json for every split. The same options and seed give the same files. docs/benchmark.md\n"
                 "describes the classes and the ground truth.\n"
              << examplesSection({
                     "# A small benchmark: 2 clips per class in each of train, val and test",
                     "explain-video synth --out data --clips-per-class 2",
                     "# One split of square clips, 32 frames each, with another seed",
                     "explain-video synth --out square --split test --clips-per-class 3 --frames 32 --width 112 --height 112 --seed 7",
                     "# A test split with 2 or 3 actors per clip (the multiple-instance benchmark)",
                     "explain-video synth --out multi --split test --clips-per-class 2 --instances 2-3",
                 });
    return kOk;
  }
  if (out.empty()) throw ev::Error(ev::ErrorKind::Usage, "synth: --out DIR is required");
  sp.distractorMover = !noMover;
  {
    // "N" or "A-B"
    const auto dash = instances.find('-');
    auto number = [&](const std::string& t) {
      if (t.empty() || t.size() > 3 || t.find_first_not_of("0123456789") != std::string::npos)
        throw ev::Error(ev::ErrorKind::Usage, "synth: --instances '" + instances + "': expected N or A-B, e.g. 2-3");
      return std::stoi(t);
    };
    sp.instancesMin = number(instances.substr(0, dash));
    sp.instancesMax = dash == std::string::npos ? sp.instancesMin : number(instances.substr(dash + 1));
  }
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
    std::fprintf(stderr, "%s/%s: %s\n", out.c_str(), split.c_str(), ev::plural(n, "clip").c_str());
  }
  return kOk;
}

}  // namespace cli
