// Pieces shared by the explain-video subcommands: option value parsers and progress output.
#pragma once
#include <array>
#include <chrono>
#include <string>

namespace ev {
struct ExplainProgress;
}

namespace cli {

enum ExitCode { kOk = 0, kInternal = 1, kUsage = 2, kInput = 3, kModel = 4, kOutput = 5 };

// "0.5,0.25,0.125" → three floats; throws ev::Error(Usage) naming the flag otherwise.
std::array<float, 3> parseTriple(const std::string& flag, const std::string& text);
// "128x171" → height 128, width 171.
void parseSize(const std::string& flag, const std::string& text, int& h, int& w);

// Progress on stderr, redrawn in place at most a few times a second.
class ProgressPrinter {
 public:
  void update(const std::string& stage, long long done, long long total, double seconds);
  void operator()(const ev::ExplainProgress& p);
  static void finish();  // ends an open progress line (also before an error message)

 private:
  std::string stage_;
  std::chrono::steady_clock::time_point lastPrint_{};
};

// Subcommands: each parses its own options and returns an exit code; ev::Error propagates.
int runExplain(int argc, char** argv);
int runSynth(int argc, char** argv);
int runEval(int argc, char** argv);      // eval_command.cpp
int runTrain(int argc, char** argv);     // train_command.cpp
int runAccuracy(int argc, char** argv);  // train_command.cpp

}  // namespace cli
