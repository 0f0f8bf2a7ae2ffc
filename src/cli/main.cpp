// explain-video: a thin command line over the library. Dispatches to a subcommand, and maps
// ev::Error kinds to exit codes (the only place that knows about exit codes).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/cli_common.hpp"
#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"

namespace {

int exitCodeFor(ev::ErrorKind k) {
  switch (k) {
    case ev::ErrorKind::Usage: return cli::kUsage;
    case ev::ErrorKind::Input: return cli::kInput;
    case ev::ErrorKind::Model: return cli::kModel;
    case ev::ErrorKind::Output: return cli::kOutput;
    case ev::ErrorKind::Internal: return cli::kInternal;
    case ev::ErrorKind::Strict: return cli::kStrict;
    case ev::ErrorKind::Interrupted: return ev::stopExitCode();
  }
  return cli::kInternal;
}

// The subcommands, in the order the overview lists them. Each sees its own name as argv[0].
struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};
const Command kCommands[] = {
    {"synth", "write the synthetic action benchmark", cli::runSynth},
    {"train", "train a TorchScript model on a benchmark split", cli::runTrain},
    {"distill", "train a student from a teacher: kd, explanation loss", cli::runDistill},
    {"accuracy", "clip-level accuracy of a model on a split", cli::runAccuracy},
    {"eval", "Avg Drop, Incr. in Conf., Win %, curves, localisation", cli::runEval},
    {"batch", "many videos, one model load; shards for job arrays", cli::runBatch},
    {"merge", "join a sharded batch's indexes", cli::runMerge},
    {"eval-merge", "join a sharded eval's JSON outputs", cli::runEvalMerge},
};

const Command* findCommand(const char* name) {
  for (const Command& c : kCommands)
    if (std::strcmp(c.name, name) == 0) return &c;
  return nullptr;
}

std::string commandNames() {
  std::string s;
  for (const Command& c : kCommands) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

// `explain-video help [COMMAND]`: the overview (the main command's --help) or that command's.
int runHelp(int argc, char** argv) {
  char helpFlag[] = "--help";
  if (argc == 1 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    char self[] = "explain-video";
    char* args[] = {self, helpFlag, nullptr};
    return cli::runExplain(2, args);
  }
  if (argc > 2)
    throw ev::Error(ev::ErrorKind::Usage, "help: give one command, not " + std::to_string(argc - 1) + " words");
  const Command* c = findCommand(argv[1]);
  if (!c)
    throw ev::Error(ev::ErrorKind::Usage,
                    std::string("help: unknown command '") + argv[1] + "' (commands: " + commandNames() + ")");
  std::string name = c->name;
  char* args[] = {name.data(), helpFlag, nullptr};
  return c->run(2, args);
}

}  // namespace

namespace cli {

std::string commandList() {
  std::string s;
  for (const Command& c : kCommands) {
    std::string name = c.name;
    name.resize(12, ' ');
    s += "  " + name + c.summary + "\n";
  }
  return s;
}

}  // namespace cli

int main(int argc, char** argv) {
  // SIGINT/SIGTERM/SIGHUP stop the run at the next window or frame: temporaries removed, no
  // output written, exit 128 + signal.
  ev::installStopHandlers();
  try {
    if (argc > 1 && std::strcmp(argv[1], "help") == 0) return runHelp(argc - 1, argv + 1);
    if (argc > 1)
      if (const Command* c = findCommand(argv[1])) return c->run(argc - 1, argv + 1);
    return cli::runExplain(argc, argv);
  } catch (const ev::Error& e) {
    cli::ProgressPrinter::finish();
    if (e.kind() == ev::ErrorKind::Interrupted)
      std::fprintf(stderr, "explain-video: %s; the outputs of the unfinished work were not written\n", e.what());
    else
      std::fprintf(stderr, "explain-video: error: %s\n", e.what());
    return exitCodeFor(e.kind());
  } catch (const std::exception& e) {
    cli::ProgressPrinter::finish();
    std::fprintf(stderr, "explain-video: internal error: %s\n", e.what());
    return cli::kInternal;
  }
}
