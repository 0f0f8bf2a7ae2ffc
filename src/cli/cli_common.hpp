// Pieces shared by the explain-video subcommands: option value parsers and progress output.
#pragma once
#include <array>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <boost/program_options/variables_map.hpp>
#include <chrono>
#include <climits>
#include <cstdio>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "explain_video/explain.hpp"
#include "explain_video/windows.hpp"
#include "util/plural.hpp"

namespace ev {
struct ExplainProgress;
}

namespace cli {

// Interrupted runs exit with 128 + the signal: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).
enum ExitCode { kOk = 0, kInternal = 1, kUsage = 2, kInput = 3, kModel = 4, kOutput = 5, kSomeFailed = 6, kStrict = 7 };

// ---- help text ----
// A value as --help shows it: numbers with %g (0.9, not Boost's 0.90000000000000002).
template <class T>
std::string helpText(const T& v) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return buf;
  } else {
    std::ostringstream o;
    o << v;
    return o.str();
  }
}
// An option's value with its placeholder in --help (FILE, DIR, N, X, HxW, ...; Boost's own
// is "arg"), and optionally its current value as the default shown in --help.
template <class T>
boost::program_options::typed_value<T>* value(T* v, const char* placeholder) {
  return boost::program_options::value<T>(v)->value_name(placeholder);
}
template <class T>
boost::program_options::typed_value<T>* valueOr(T* v, const char* placeholder) {
  return value(v, placeholder)->default_value(*v, helpText(*v));
}
// --threads N: 0 (the default) is every CPU this process may use; more than that is capped
// there with a warning on stderr (more LibTorch threads than cores only slows it down).
boost::program_options::typed_value<int>* threadsValue(int* v);

// "a, b, c": a list of names for --help.
std::string joinNames(const std::vector<std::string>& names);
// The EXAMPLES section that ends every command's --help: lines of "command" and "# comment".
std::string examplesSection(const std::vector<std::string>& lines);

// "0.5,0.25,0.125" → three finite floats, "0.5" → 0.5 for all three; with `positive` (--std,
// a divisor) each must also be > 0. Throws ev::Error(Usage) naming the flag otherwise.
std::array<float, 3> parseTriple(const std::string& flag, const std::string& text, bool positive = false);
// "1/255" or "0.5" → a positive float; throws ev::Error(Usage) naming the flag otherwise.
float parseScale(const std::string& flag, const std::string& text);
// "128x171" → height 128, width 171.
void parseSize(const std::string& flag, const std::string& text, int& h, int& w);

// The windowing and preprocessing options every command that feeds a model shares, with the
// main command's names: --clip-len --stride --preset --resize --crop --scale --mean --std --bgr.
// add() registers them writing into `pre` and `win`; apply() parses the string-valued ones:
// first the --preset (ev::preprocessPreset), then every flag given explicitly on top of it.
class PreprocessArgs {
 public:
  PreprocessArgs(ev::PreprocessParams& pre, int& clipLen, int& stride) : pre_(pre), clipLen_(clipLen), stride_(stride) {}
  void add(boost::program_options::options_description& opts, const char* strideHelp);
  void apply();

 private:
  ev::PreprocessParams& pre_;
  int& clipLen_;
  int& stride_;
  int strideArg_ = INT_MIN;  // --stride as given; not given: the default, or --clip-len if shorter
  std::string strideHelp_;
  std::string preset_, resize_, crop_, scale_, mean_, std_;  // empty: not given
  std::string presetHelp_;
  bool bgr_ = false;
};

// The explanation, preprocessing and rendering options of the main command, shared by `batch`:
// --layer --output --method --class --labels --normalize, the PreprocessArgs, and --colormap
// --alpha --no-strip --crf --x264-preset. apply() parses the string-valued ones into `p`.
class ExplainArgs {
 public:
  explicit ExplainArgs(ev::ExplainParams& p);
  void addExplanation(boost::program_options::options_description& opts);
  void addPreprocessing(boost::program_options::options_description& opts, const char* strideHelp);
  void addRendering(boost::program_options::options_description& opts);
  void apply();

 private:
  ev::ExplainParams& p_;
  PreprocessArgs prep_;
  std::string method_ = "gradcam++", normalize_ = "video", spatial_ = "crop";
  std::string normalizeHelp_, colormapHelp_;  // --help texts listing the library's names
  bool noStrip_ = false;
};

// --seed --smooth-samples --smooth-sigma --rise-masks --score-channels (the perturbation
// methods), and their range checks (Error(Usage)).
void addPerturbationOptions(boost::program_options::options_description& opts, ev::PerturbationParams& p);
void checkPerturbationParams(const ev::PerturbationParams& p);

// Parses a subcommand's options; a Boost error becomes ev::Error(Usage) naming the command
// ("" for the main command) and where its help is.
boost::program_options::variables_map parseOptions(
    const std::string& command, int argc, char** argv, const boost::program_options::options_description& opts,
    const boost::program_options::positional_options_description& positional = {});

// "m:ss", or "h:mm:ss" from an hour on.
std::string formatDuration(double seconds);

// Progress on stderr, redrawn in place at most a few times a second.
class ProgressPrinter {
 public:
  // `note` follows the ETA ("3 failed").
  void update(const std::string& stage, long long done, long long total, double seconds, const std::string& note = "");
  void operator()(const ev::ExplainProgress& p);
  static void finish();  // ends an open progress line (also before an error message)

 private:
  std::string stage_;
  std::chrono::steady_clock::time_point lastPrint_{};
};

// The subcommands with a line each, for the main command's --help (main.cpp's table).
std::string commandList();

// Subcommands: each parses its own options and returns an exit code; ev::Error propagates.
int runExplain(int argc, char** argv);
int runSynth(int argc, char** argv);
int runEval(int argc, char** argv);      // eval_command.cpp
int runTrain(int argc, char** argv);     // train_command.cpp
int runDistill(int argc, char** argv);   // train_command.cpp
int runAccuracy(int argc, char** argv);  // train_command.cpp
int runBatch(int argc, char** argv);     // batch_command.cpp
int runMerge(int argc, char** argv);     // batch_command.cpp
int runEvalMerge(int argc, char** argv); // batch_command.cpp

}  // namespace cli
