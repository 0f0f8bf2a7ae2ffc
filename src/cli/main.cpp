// explain-video: a thin command line over the library. Dispatches to a subcommand, and maps
// ev::Error kinds to exit codes (the only place that knows about exit codes).
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/cli_common.hpp"
#include "explain_video/error.hpp"

namespace {

int exitCodeFor(ev::ErrorKind k) {
  switch (k) {
    case ev::ErrorKind::Usage: return cli::kUsage;
    case ev::ErrorKind::Input: return cli::kInput;
    case ev::ErrorKind::Model: return cli::kModel;
    case ev::ErrorKind::Output: return cli::kOutput;
    case ev::ErrorKind::Internal: return cli::kInternal;
    case ev::ErrorKind::Strict: return cli::kStrict;
  }
  return cli::kInternal;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    // `explain-video synth ...`: the subcommand sees its own name as argv[0].
    if (argc > 1 && std::strcmp(argv[1], "synth") == 0) return cli::runSynth(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "eval") == 0) return cli::runEval(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "train") == 0) return cli::runTrain(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "distill") == 0) return cli::runDistill(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "accuracy") == 0) return cli::runAccuracy(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "batch") == 0) return cli::runBatch(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "merge") == 0) return cli::runMerge(argc - 1, argv + 1);
    if (argc > 1 && std::strcmp(argv[1], "eval-merge") == 0) return cli::runEvalMerge(argc - 1, argv + 1);
    return cli::runExplain(argc, argv);
  } catch (const ev::Error& e) {
    cli::ProgressPrinter::finish();
    std::fprintf(stderr, "explain-video: error: %s\n", e.what());
    return exitCodeFor(e.kind());
  } catch (const std::exception& e) {
    cli::ProgressPrinter::finish();
    std::fprintf(stderr, "explain-video: internal error: %s\n", e.what());
    return cli::kInternal;
  }
}
