// The command line end to end: a good run, and every kind of bad input, each of which must
// give one error line naming the problem, a non-zero exit code and no output file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_runner.hpp"
#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/render.hpp"
#include "explain_video/video.hpp"
#include "explain_video/windows.hpp"
#include "synthetic_clip.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {


std::string quote(const std::string& s) { return evtest::shellQuote(s); }


evtest::CliRun runCli(const std::string& args) {
  return evtest::runCli(args, ::testing::TempDir() + "/ev_cli_stderr_" + std::to_string(::getpid()) + ".txt");
}

std::string dir() {
  static const std::string d = [] {
    // One folder per test process: CTest runs tests in parallel processes.
    const std::string p = ::testing::TempDir() + "/ev_cli_" + std::to_string(::getpid());
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string goodClip() {
  static const std::string clip = [] {
    evtest::SquareClip spec;
    spec.frames = 20, spec.presentFrom = 4, spec.presentTo = 16;
    const std::string path = dir() + "/good.mp4";
    evtest::writeSquareClip(path, spec);
    return path;
  }();
  return clip;
}

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

std::string writeFile(const std::string& name, const std::string& bytes) {
  const std::string path = dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::vector<std::string> listDir(const std::string& d) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// Runs a failing command and checks the contract: exit code, one line naming the problem,
// and nothing new in the output folder.
void expectFailure(const std::string& args, int code, const std::vector<std::string>& phrases) {
  goodClip();
  const auto before = listDir(dir());
  const evtest::CliRun r = runCli(args + " --quiet");
  EXPECT_EQ(r.code, code) << args << "\n" << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("explain-video: error: ", 0), 0u) << r.err;
  for (const auto& ph : phrases) EXPECT_NE(r.err.find(ph), std::string::npos) << "missing '" << ph << "' in: " << r.err;
  EXPECT_EQ(listDir(dir()), before) << "a failed run left files behind: " << args;
}

}  // namespace

TEST(Cli, ExplainsAClipEndToEnd) {
  const std::string out = dir() + "/good.explained.mp4";
  const evtest::CliRun r = runCli(quote(goodClip()) + " --model " + quote(model("red_detector.pt")) +
                       " --labels " + quote(model("red_detector_labels.txt")) + " --json " + quote(dir() + "/good.json") +
                       " --save-heatmaps " + quote(dir() + "/good.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, out + "\n");  // stdout: where the video went (default: beside the input)
  EXPECT_TRUE(fs::exists(out));
  // Outputs get the permissions of a normally created file (0666 less the umask), not 0600.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(static_cast<unsigned>(fs::status(out).permissions()), 0666u & ~mask);
  EXPECT_EQ(static_cast<unsigned>(fs::status(dir() + "/good.npy").permissions()), 0666u & ~mask);
  EXPECT_NE(r.err.find("class 0 'red'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("render"), std::string::npos) << "progress expected on stderr: " << r.err;
  // The .npy files load with numpy.
  const std::string py = "/usr/bin/python3 -c \"import numpy as n; a=n.load('" + dir() +
                         "/good.npy'); assert a.shape==(20,240,320) and a.dtype==n.float32 and a.max()==1.0\"";
  EXPECT_EQ(std::system(py.c_str()), 0);
  fs::remove(out);
  fs::remove(dir() + "/good.json");
  fs::remove(dir() + "/good.npy");
}

// A window shorter than the default stride: the stride follows it (no frame unexplained).
TEST(Cli, DefaultStrideFollowsAShortWindow) {
  const std::string json = dir() + "/short.json";
  const evtest::CliRun r = runCli(quote(goodClip()) + " --model " + quote(model("red_detector.pt")) +
                                  " --clip-len 4 -q -o " + quote(dir() + "/short.mp4") + " --json " + quote(json));
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("preprocess").at("stride").get<int>(), 4);
  const auto& w = j.at("windows");
  ASSERT_GE(w.size(), 2u);
  EXPECT_EQ(w[1].at("first_frame").get<int>() - w[0].at("first_frame").get<int>(), 4);
  fs::remove(json);
  fs::remove(dir() + "/short.mp4");
}

// Several methods on the command line: one side-by-side video, a warning for each method the
// model cannot run under `all`, tagged side outputs.
TEST(Cli, SeveralMethodsGiveOneSideBySideVideo) {
  const std::string out = dir() + "/multi.mp4";
  evtest::CliRun r = runCli(quote(goodClip()) + " -m " + quote(model("red_detector.pt")) + " --method gradcam++,layercam -o " +
                            quote(out) + " --save-heatmaps " + quote(dir() + "/multi.npy") + " -q");
  ASSERT_EQ(r.code, 0) << r.err;
  ev::VideoReader v(out);
  EXPECT_EQ(v.info().width, 3 * 320);
  EXPECT_EQ(v.info().height, 240);
  EXPECT_TRUE(fs::exists(dir() + "/multi.gradcam++.npy"));
  EXPECT_TRUE(fs::exists(dir() + "/multi.layercam.npy"));
  EXPECT_FALSE(fs::exists(dir() + "/multi.npy"));
  for (const char* f : {"/multi.mp4", "/multi.gradcam++.npy", "/multi.layercam.npy"}) fs::remove(dir() + f);
  // `all` on C3D: cam is left out, with one warning line saying why.
  r = runCli(quote(goodClip()) + " -m " + quote(std::string(evtest::sourceDir()) + "/models/c3d_small_synth.pt") +
             " --method all -o " + quote(out) + " -q");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("explain-video: warning: " + goodClip() + ": cam skipped: cam needs layer 'pool5'"),
            std::string::npos) << r.err;
  EXPECT_EQ(ev::VideoReader(out).info().width, 3 * 320);  // 8 panels and the input: 3×3
  fs::remove(out);
}

TEST(Cli, QuietPrintsOnlyTheSummary) {
  const std::string out = dir() + "/quiet.mp4";
  const evtest::CliRun r = runCli(quote(goodClip()) + " -m " + quote(model("red_detector.pt")) + " -o " + quote(out) + " -q");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  fs::remove(out);
}

TEST(Cli, ListLayers) {
  const evtest::CliRun r = runCli("--list-layers --model " + quote(model("red_detector.pt")) + " --clip-len 8 --crop 32x32");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("input 1x3x8x32x32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("detect"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1x1x8x16x16   <- default layer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1x2"), std::string::npos) << r.out;  // fc
}

TEST(Cli, HelpAndVersion) {
  const evtest::CliRun h = runCli("--help");
  EXPECT_EQ(h.code, 0);
  for (const char* flag : {"--model", "--layer", "--list-layers", "--method", "--class", "--labels", "--mean", "--std",
                           "--bgr", "--clip-len", "--stride", "--resize", "--crop", "--normalize", "--colormap", "--alpha",
                           "--out", "--save-heatmaps", "--json", "--save-raw", "--quiet", "--preset", "--output",
                           "--x264-preset", "--scale"})
    EXPECT_NE(h.out.find(flag), std::string::npos) << flag;
  // The method list is the registry's, with each method's paper.
  for (const auto& i : ev::camMethods()) {
    EXPECT_NE(h.out.find("  " + i.name + " "), std::string::npos) << i.name;
    EXPECT_NE(h.out.find(i.reference), std::string::npos) << i.reference;
  }
  EXPECT_EQ(runCli("--version").code, 0);
}

// Every command's --help: placeholders instead of Boost's "arg", defaults without float noise,
// and an Examples section at the end; `help COMMAND` prints the same, `help` the overview.
TEST(Cli, HelpOfEveryCommand) {
  const std::regex boostArg(R"((\] |--[a-z0-9+-]+ )arg\b)");
  const std::regex floatNoise(R"(\d\.\d{8,})");
  for (const std::string c : {"", "synth", "train", "distill", "accuracy", "eval", "batch", "merge", "eval-merge"}) {
    const evtest::CliRun h = runCli(c.empty() ? "--help" : c + " --help");
    ASSERT_EQ(h.code, 0) << c << ": " << h.err;
    EXPECT_FALSE(std::regex_search(h.out, boostArg)) << c << ": an option shows 'arg':\n" << h.out;
    EXPECT_FALSE(std::regex_search(h.out, floatNoise)) << c << ": a default with float noise:\n" << h.out;
    const auto ex = h.out.rfind("\nExamples");
    ASSERT_NE(ex, std::string::npos) << c << ": no Examples section:\n" << h.out;
    const std::string examples = h.out.substr(ex);
    EXPECT_NE(examples.find("  explain-video " + (c.empty() ? std::string() : c + " ")), std::string::npos)
        << c << ": no example of the command itself:\n" << examples;
    const evtest::CliRun viaHelp = runCli(c.empty() ? "help" : "help " + c);
    EXPECT_EQ(viaHelp.code, 0) << c << ": " << viaHelp.err;
    EXPECT_EQ(viaHelp.out, h.out) << "help " << c;
  }
  // The names an option takes come from the library's lists.
  const evtest::CliRun h = runCli("--help");
  const std::string flat = std::regex_replace(h.out, std::regex(R"(\s+)"), " ");  // help wraps long lines
  const auto listed = [](const std::vector<std::string>& names) {
    std::string s;
    for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
    return "one of: " + s;
  };
  EXPECT_NE(flat.find("heatmap colours, " + listed(ev::colormapNames())), std::string::npos) << flat;
  EXPECT_NE(flat.find(listed(ev::preprocessPresetNames()) + " ("), std::string::npos) << flat;
  EXPECT_NE(flat.find("heatmap normalisation, " + listed(ev::normalizeNames())), std::string::npos) << flat;
  for (const std::string& n : ev::normalizeNames()) EXPECT_NO_THROW(ev::parseNormalize(n)) << n;
  EXPECT_NE(h.out.find("--mean X[,X,X]"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("--resize HxW"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("-m [ --model ] FILE"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("--alpha X (=0.5)"), std::string::npos) << h.out;
  // batch takes the main command's --method: its help lists the registry too.
  const evtest::CliRun b = runCli("batch --help");
  for (const auto& i : ev::camMethods()) EXPECT_NE(b.out.find("  " + i.name + " "), std::string::npos) << i.name;
  EXPECT_NE(runCli("train --help").out.find("--momentum X (=0.9)"), std::string::npos);
  EXPECT_NE(runCli("eval --help").out.find("--pointing-tolerance X (=0.1)"), std::string::npos);
}

// --help lists ev::normalizeNames(): they are exactly the names parseNormalize takes (its error
// for an unknown name lists them, "choose a, b or c").
TEST(Cli, NormalizeNamesAreTheParsersNames) {
  std::string msg;
  try {
    ev::parseNormalize("nosuch");
  } catch (const ev::Error& e) {
    msg = e.what();
  }
  const auto at = msg.find("choose ");
  ASSERT_NE(at, std::string::npos) << msg;
  std::vector<std::string> listed;
  const std::string list = std::regex_replace(msg.substr(at + 7), std::regex(" or "), ", ");
  const std::regex comma(", ");
  for (std::sregex_token_iterator it(list.begin(), list.end(), comma, -1), end; it != end; ++it)
    listed.push_back(*it);
  std::vector<std::string> names = ev::normalizeNames();
  std::sort(listed.begin(), listed.end());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(listed, names) << msg;
  for (const std::string& n : names) EXPECT_EQ(ev::normalizeName(ev::parseNormalize(n)), n);
}

TEST(Cli, HelpOfAnUnknownCommand) {
  for (const char* args : {"help nosuch", "help eval extra"}) {
    const evtest::CliRun r = runCli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("explain-video: error: help: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  const evtest::CliRun r = runCli("help nosuch");
  EXPECT_NE(r.err.find("unknown command 'nosuch'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("eval-merge"), std::string::npos) << r.err;  // the commands there are
}

// A count is followed by its noun in the number it asks for: "1 window", "2 windows".
TEST(Cli, SummaryCountsAreSingularForOne) {
  const std::string out = dir() + "/one_window.mp4";
  evtest::CliRun r = runCli(quote(goodClip()) + " -m " + quote(model("red_detector.pt")) + " --clip-len 20 -q -o " + quote(out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(", 20 frames, 1 window, "), std::string::npos) << r.err;
  r = runCli(quote(goodClip()) + " -m " + quote(model("red_detector.pt")) + " -q -o " + quote(out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(", 20 frames, 2 windows, "), std::string::npos) << r.err;
  fs::remove(out);
}

// --mean / --std: one value stands for all three channels, in every command that feeds a model.
TEST(Cli, OneMeanAndStdForAllChannels) {
  const std::string json = dir() + "/mean.json", out = dir() + "/mean.mp4";
  const evtest::CliRun r = runCli(quote(goodClip()) + " -m " + quote(model("red_detector.pt")) +
                                  " --mean 0.5 --std 0.25 -q -o " + quote(out) + " --json " + quote(json));
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(json);
  const nlohmann::json pre = nlohmann::json::parse(in).at("preprocess");
  EXPECT_EQ(pre.at("mean"), nlohmann::json({0.5, 0.5, 0.5})) << pre;
  EXPECT_EQ(pre.at("std"), nlohmann::json({0.25, 0.25, 0.25})) << pre;
  fs::remove(json);
  fs::remove(out);
  const std::string m = " --model " + quote(model("red_detector.pt"));
  const std::string o = " -o " + quote(dir() + "/never.mp4");
  for (const char* bad : {"0.5,0.5", "0.5,", "0.5,0.5,0.5,0.5", "x", "nan", "0.5,inf,0.5", "-inf", "1e60"}) {
    // --flag=VALUE: "-inf" after a space would read as an option.
    expectFailure(quote(goodClip()) + m + " --mean=" + bad + o, 2,
                  {"--mean '" + std::string(bad) + "'", "one number (for all three channels) or three"});
    expectFailure(quote(goodClip()) + m + " --std=" + bad + o, 2, {"--std '" + std::string(bad) + "'"});
  }
  // The std divides: zero and negative values are refused too.
  for (const char* bad : {"0", "0.5,0,0.5", "-0.25"})
    expectFailure(quote(goodClip()) + m + " --std=" + bad + o, 2,
                  {"--std '" + std::string(bad) + "'", "one positive number (for all three channels) or three"});
  // The other commands share the parser: train refuses two values before any work.
  expectFailure("train --model x.pt --data nodata --out never.pt --mean 0.5,0.5", 2, {"--mean '0.5,0.5'", "one number"});
  expectFailure("accuracy --model x.pt --data nodata --std 1,2", 2, {"--std '1,2'", "one positive number"});
}

// Every class problem exits with 4 (the README's "model/layer/class problem"), in one line.
TEST(Cli, ClassProblemsExitWith4) {
  const std::string clip = quote(goodClip());
  const std::string m = " --model " + quote(model("red_detector.pt"));
  const std::string labels = " --labels " + quote(model("red_detector_labels.txt"));
  const std::string out = " -o " + quote(dir() + "/never.mp4");
  expectFailure(clip + m + labels + " --class nosuch" + out, 4,
                {"--class 'nosuch' is not a name in", "red_detector_labels.txt", "(names: red, "});
  expectFailure(clip + m + " --class nosuch" + out, 4, {"--class 'nosuch' is a name", "--labels"});
  expectFailure(clip + m + " --class 7" + out, 4, {"class id 7 out of range", "2 classes"});
  expectFailure(clip + m + " --class 99999999999" + out, 4, {"--class 99999999999", "out of range"});
  expectFailure(clip + m + labels + " --class -1" + out, 4, {"--class -1", "out of range", "ids start at 0"});
  expectFailure(clip + m + " --class=-3" + out, 4, {"--class -3", "out of range"});
  expectFailure(clip + m + " --class top0" + out, 4, {"--class top0", "K must be between"});
  expectFailure(clip + m + " --class ' , '" + out, 4, {"names no class"});
  expectFailure(clip + m + " --class 0,0" + out, 4, {"--class lists class 0 twice"});
  // A negative id is an id, never looked up as a name.
  const evtest::CliRun r = runCli(clip + m + labels + " --class -1 -q" + out);
  EXPECT_EQ(r.err.find("not a name"), std::string::npos) << r.err;
  // eval and batch take --class as well.
  expectFailure("eval " + clip + m + labels + " --class nosuch", 4, {"--class 'nosuch' is not a name"});
}

TEST(Cli, BadInputs) {
  const std::string m = " --model " + quote(model("red_detector.pt"));
  const std::string clip = quote(goodClip());
  const std::string out = " -o " + quote(dir() + "/never.mp4");
  expectFailure(quote(dir() + "/missing.mp4") + m + out, 3, {"missing.mp4", "does not exist"});
  expectFailure(quote(writeFile("empty.mp4", "")) + m + out, 3, {"empty.mp4", "empty"});
  expectFailure(quote(writeFile("text.mp4", "hello, this is not a video\n")) + m + out, 3, {"text.mp4"});
  {
    // An MP4 cut short before its index (moov) was written, as by an interrupted recording.
    const std::string whole = dir() + "/whole.mp4";
    ASSERT_EQ(std::system(("ffmpeg -loglevel error -y -i " + clip + " -c copy " + quote(whole)).c_str()), 0);
    std::ifstream in(whole, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    fs::remove(whole);
    expectFailure(quote(writeFile("truncated.mp4", bytes.substr(0, bytes.size() / 2))) + m + out, 3,
                  {"truncated.mp4", "truncated"});
  }
  const std::string audio = dir() + "/audio.m4a";
  ASSERT_EQ(std::system(("ffmpeg -loglevel error -y -f lavfi -i sine=frequency=440:duration=1 " + quote(audio)).c_str()), 0);
  expectFailure(quote(audio) + m + out, 3, {"audio.m4a", "no video stream"});
  fs::remove(audio);

  expectFailure(clip + " --model " + quote(model("not_a_model.pt")) + out, 4, {"not_a_model.pt", "TorchScript"});
  expectFailure(clip + " --model " + quote(model("cap_truncated.pt")) + out, 4, {"cap_truncated.pt"});
  expectFailure(clip + " --model " + quote(dir() + "/nomodel.pt") + out, 4, {"nomodel.pt", "does not exist"});
  expectFailure(clip + m + " --layer features.conv9" + out, 4, {"features.conv9", "does not exist"});
  expectFailure(clip + m + " --layer fc" + out, 4, {"'fc'", "5D"});
  expectFailure(clip + m + " --class 7" + out, 4, {"class id 7 out of range", "2 classes"});
  {
    // An unknown method lists every registered one.
    std::vector<std::string> phrases{"unknown method 'nosuchcam'", "registered methods are"};
    for (const auto& n : ev::camMethodNames()) phrases.push_back(n);
    expectFailure(clip + m + " --method nosuchcam" + out, 2, phrases);
    expectFailure(clip + m + " --method gradcam,gradcam" + out, 2, {"--method lists gradcam twice"});
  }
  // A stride longer than the window would leave frames unexplained: refused before any work.
  expectFailure(clip + m + " --clip-len 8 --stride 9" + out, 2, {"--stride 9 is larger than --clip-len 8"});
  expectFailure(clip + m + " --stride 0" + out, 2, {"--stride must be at least 1"});
  // The perturbation methods' sizes are checked before any work.
  expectFailure(clip + m + " --method smoothgradcam++ --smooth-samples 0" + out, 2, {"--smooth-samples must be 1..100000"});
  expectFailure(clip + m + " --method smoothgradcam++ --smooth-sigma -1" + out, 2, {"--smooth-sigma must be 0..10"});
  expectFailure(clip + m + " --method scorecam --score-channels -2" + out, 2, {"--score-channels must be >= 0"});
  expectFailure(clip + m + " --method rise --rise-masks 0" + out, 2, {"--rise-masks must be 1..1000000"});
  expectFailure(clip + m + " --method rise --rise-grid 4x7" + out, 2, {"--rise-grid must be TxHxW", "'4x7'"});
  expectFailure(clip + m + " --method rise --rise-grid 0x7x7" + out, 2, {"--rise-grid must be TxHxW", "'0x7x7'"});
  expectFailure(clip + " --model " + quote(std::string(evtest::sourceDir()) + "/models/c3d_small_synth.pt") +
                    " --method cam" + out, 4, {"c3d_small_synth.pt", "cam needs layer 'pool5'", "flatten, linear"});
  expectFailure(clip + m + " -o " + quote(dir() + "/no/such/dir/out.mp4"), 5, {"no/such/dir", "does not exist"});
  expectFailure(clip + m + " -o /proc/explained.mp4", 5, {"/proc/explained.mp4", "cannot write"});
  expectFailure(clip + m + " --json " + quote(dir() + "/nodir/x.json") + out, 5, {"nodir"});
  expectFailure(clip + m + " --crop 200x200" + out, 2, {"crop"});
  expectFailure(clip + m + " --colormap nope" + out, 2, {"colormap 'nope'"});
  expectFailure(clip + m + " --no-such-flag" + out, 2, {"no-such-flag"});
  expectFailure(clip + m + " -o " + clip, 2, {"overwrite the input"});
}

// --strict: an explanation that is empty by construction (the red detector's "no red" class) is
// an error with its own exit code, in one line, and nothing is written.
TEST(Cli, StrictRefusesAnEmptyExplanation) {
  const std::string m = " --model " + quote(model("red_detector.pt"));
  const std::string outs = " --out " + quote(dir() + "/strict.mp4") + " --json " + quote(dir() + "/strict.json");
  expectFailure(quote(goodClip()) + m + outs + " --class 1 --strict", 7,
                {"--strict: gradcam++ for 'class 1': the map is all zero", "try another layer"});
  // Without --strict: exit 0, the same line as a warning.
  const evtest::CliRun r = runCli(quote(goodClip()) + m + outs + " --class 1 --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("explain-video: warning: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the map is all zero"), std::string::npos) << r.err;
  fs::remove(dir() + "/strict.mp4");
  fs::remove(dir() + "/strict.json");
  expectFailure(quote(goodClip()) + m + outs + " --normalize max", 2, {"--normalize 'max'", "video, video-max, window or frame"});
}

// With --frame-step the stride is checked against the window's span, up front.
TEST(Cli, StrideLargerThanTheSpanIsRefused) {
  const std::string m = " --model " + quote(model("red_detector.pt")) + " --out " + quote(dir() + "/span.mp4");
  expectFailure(quote(goodClip()) + m + " --clip-len 4 --frame-step 2 --stride 8", 2,
                {"--stride 8 is larger than the window's span of 7 frames"});
  expectFailure(quote(goodClip()) + m + " --frame-step 0", 2, {"--frame-step must be 1..1000"});
  expectFailure(quote(goodClip()) + m + " --spatial centre", 2, {"--spatial 'centre'", "crop, full or tiles"});
}

// A labels file one name short is accepted with a warning (the missing class shown as
// "class N"); one name too many is refused before any progress line.
TEST(Cli, LabelsShorterWarnsLongerIsRefused) {
  const std::string m = " --model " + quote(model("red_detector.pt")) + " --out " + quote(dir() + "/labels.mp4");
  const std::string shortLabels = writeFile("short_labels.txt", "red\n");
  const evtest::CliRun r = runCli(quote(goodClip()) + m + " --labels " + quote(shortLabels) + " --class 1 --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("short_labels.txt: 1 name for the model's 2 classes; class 1 is shown as 'class N'"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'class 1'"), std::string::npos) << r.err;
  fs::remove(dir() + "/labels.mp4");
  // Without --quiet: the error is the only line (no progress started).
  const std::string longLabels = writeFile("long_labels.txt", "red\nno red\nblue\n");
  const auto before = listDir(dir());
  const evtest::CliRun e = runCli(quote(goodClip()) + m + " --labels " + quote(longLabels));
  EXPECT_EQ(e.code, 2) << e.err;
  EXPECT_EQ(e.err, "explain-video: error: " + longLabels + ": 3 names, but the model has 2 classes (line N names class id N)\n");
  EXPECT_EQ(listDir(dir()), before);
}

// A still image is not a video: refused in one line (exit 3) unless --allow-image.
TEST(Cli, StillImageNeedsAllowImage) {
  const std::string png = dir() + "/still.png";
  cv::Mat img(48, 64, CV_8UC3, cv::Scalar(20, 20, 235));
  ASSERT_TRUE(cv::imwrite(png, img));
  const std::string m = " --model " + quote(model("red_detector.pt")) + " --out " + quote(dir() + "/still.mp4");
  expectFailure(quote(png) + m, 3, {"still.png: a still image (png), not a video", "--allow-image"});
  const evtest::CliRun r = runCli(quote(png) + m + " --allow-image --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir() + "/still.mp4"));
  fs::remove(dir() + "/still.mp4");
  fs::remove(png);
}

// Every output must differ from every input and from every other output, by file identity (a
// symlink or a hard link counts): refused before any work, exit 2, inputs untouched.
TEST(Cli, OutputsNeverOverwriteInputsOrEachOther) {
  const std::string clipCopy = dir() + "/identity_in.mp4";
  fs::copy_file(goodClip(), clipCopy, fs::copy_options::overwrite_existing);
  const std::string modelCopy = dir() + "/identity_model.pt";
  fs::copy_file(model("red_detector.pt"), modelCopy, fs::copy_options::overwrite_existing);
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string clipBytes = bytes(clipCopy), modelBytes = bytes(modelCopy);
  const std::string link = dir() + "/identity_link.mp4", hard = dir() + "/identity_hard.mp4";
  fs::remove(link);
  fs::remove(hard);
  fs::create_symlink(clipCopy, link);
  fs::create_hard_link(clipCopy, hard);
  const std::string m = " --model " + quote(modelCopy);
  const std::string out = " --out " + quote(dir() + "/identity_out.mp4");
  expectFailure(quote(clipCopy) + m + out + " --json " + quote(clipCopy), 2, {"--json would overwrite the input video"});
  expectFailure(quote(clipCopy) + m + out + " --json " + quote(link), 2, {"identity_link.mp4: --json would overwrite the input video"});
  expectFailure(quote(clipCopy) + m + out + " --save-heatmaps " + quote(hard), 2, {"--save-heatmaps would overwrite the input video"});
  expectFailure(quote(clipCopy) + m + out + " --save-heatmaps " + quote(modelCopy), 2, {"--save-heatmaps would overwrite the model file"});
  expectFailure(quote(clipCopy) + m + " --out " + quote(dir() + "/same.mp4") + " --json " + quote(dir() + "/same.mp4"), 2,
                {"same.mp4: --json and output name the same file"});
  expectFailure(quote(clipCopy) + m + " --out " + quote(hard), 2, {"output would overwrite the input video"});
  EXPECT_EQ(bytes(clipCopy), clipBytes);
  EXPECT_EQ(bytes(modelCopy), modelBytes);
  fs::remove(link);
  fs::remove(hard);
  fs::remove(clipCopy);
  fs::remove(modelCopy);
}

// A label that is not valid UTF-8 does not cost the outputs: the JSON gets U+FFFD in its place.
TEST(Cli, InvalidUtf8LabelIsReplacedInTheJson) {
  const std::string labels = writeFile("latin1_labels.txt", "rouge \xe9tait\nno red\n");
  const std::string json = dir() + "/latin1.json";
  const evtest::CliRun r = runCli(quote(goodClip()) + " --model " + quote(model("red_detector.pt")) + " --labels " +
                                  quote(labels) + " --class 0 --out " + quote(dir() + "/latin1.mp4") + " --json " +
                                  quote(json) + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["class"]["name"], "rouge \xef\xbf\xbdtait");
  fs::remove(json);
  fs::remove(dir() + "/latin1.mp4");
  fs::remove(labels);
}

// Resource bounds: a huge --clip-len and an endless labels file are refused in one line before
// anything is allocated or read to the end.
TEST(Cli, ResourceBoundsAreCheckedFirst) {
  const std::string m = " --model " + quote(model("red_detector.pt")) + " --out " + quote(dir() + "/bounds.mp4");
  expectFailure(quote(goodClip()) + m + " --clip-len 100000 --stride 8", 2, {"--clip-len 100000 is more than 1024 frames"});
  expectFailure(quote(goodClip()) + m + " --labels /dev/zero", 2, {"/dev/zero: labels file larger than 16 MiB"});
}

// A faststart MP4 cut short keeps its index: the frames that are there are explained, with a
// warning that the container promised more (and --strict refuses).
TEST(Cli, TruncatedInputWarns) {
  std::ifstream in(goodClip(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string cut = writeFile("cut.mp4", bytes.substr(0, bytes.size() * 2 / 5));
  const std::string m = " --model " + quote(model("red_detector.pt")) + " --out " + quote(dir() + "/cut.explained.mp4");
  const evtest::CliRun r = runCli(quote(cut) + m + " --json " + quote(dir() + "/cut.json") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("cut.mp4: the container promises"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(truncated or damaged data)"), std::string::npos) << r.err;
  std::ifstream js(dir() + "/cut.json");
  const nlohmann::json j = nlohmann::json::parse(js);
  EXPECT_LT(j["video"]["frames"].get<int64_t>(), j["video"]["frames_promised"].get<int64_t>());
  fs::remove(dir() + "/cut.json");
  fs::remove(dir() + "/cut.explained.mp4");
  expectFailure(quote(cut) + m + " --strict", 7, {"--strict", "the container promises"});
  fs::remove(cut);
}
