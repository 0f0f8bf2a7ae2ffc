// Hostile and careless input, interrupts, streams and leftovers (issue 15): every case asserts
// the exit code, the stderr contract (one error line, or only warning lines on success), that
// no file other than the requested outputs exists afterwards, and that every input is
// byte-identical.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/interrupt.hpp"
#include "io/atomic_output.hpp"
#include "scratch_dir.hpp"
#include "synthetic_clip.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) { return evtest::shellQuote(s); }
std::string modelFile() { return std::string(evtest::testModelsDir()) + "/red_detector.pt"; }

std::string bytesOf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// Every file under `d` (hidden ones too) with its bytes; folders as "<name>/".
std::map<std::string, std::string> snapshot(const fs::path& d) {
  std::map<std::string, std::string> s;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(d, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), d).string();
    if (it->is_symlink(ec))
      s[rel] = "-> " + fs::read_symlink(it->path(), ec).string();
    else if (it->is_directory(ec))
      s[rel + "/"] = "";
    else if (it->is_regular_file(ec))
      s[rel] = bytesOf(it->path().string());
    else
      s[rel] = "(special)";
  }
  return s;
}

std::vector<std::string> names(const std::map<std::string, std::string>& s) {
  std::vector<std::string> n;
  for (const auto& [k, v] : s) n.push_back(k);
  return n;
}

std::vector<std::string> linesOf(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < s.size()) {
    const size_t nl = s.find('\n', at);
    out.push_back(s.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

// `prefix` (shell: environment, ulimit, a pipe) then the CLI with `args`.
evtest::CliRun run(const std::string& prefix, const std::string& args) {
  return evtest::runCli(args, ::testing::TempDir() + "/ev_hostile_err_" + std::to_string(::getpid()) + ".txt", prefix);
}

void ffmpeg(const std::string& args) {
  if (std::system(("ffmpeg -loglevel error -y " + args + " </dev/null").c_str()) != 0)
    throw std::runtime_error("ffmpeg " + args + " failed");
}

// The red square clip (red_detector's class 0 has something to find).
std::string squareClip(const std::string& path, int frames = 20) {
  evtest::SquareClip spec;
  spec.width = 160, spec.height = 120, spec.frames = frames, spec.presentFrom = 2, spec.presentTo = frames - 2;
  spec.size = 20;
  spec.blue = {110, 20, 16, 16};
  evtest::writeSquareClip(path, spec);
  return path;
}

std::string lavfi(const std::string& d, const std::string& name, const std::string& codecArgs, int w = 160, int h = 120,
                  int frames = 16) {
  const std::string path = d + "/" + name;
  ffmpeg("-f lavfi -i testsrc2=size=" + std::to_string(w) + "x" + std::to_string(h) + ":rate=25 -frames:v " +
         std::to_string(frames) + " " + codecArgs + " " + q(path));
  return path;
}

// ---- the corpus ----

struct Case {
  std::string name;
  std::function<std::string(const std::string& d)> setup;  // makes the inputs in d; returns the arguments
  int code;
  std::vector<std::string> phrases;  // in the error line, or (success) in the warnings
  std::string prefix;                // shell before the command
  bool defaultOutputs = true;        // --out d/out.mp4 --json d/out.json
  std::vector<std::string> absent;   // phrases stderr must not contain
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // readable test names in CTest

std::vector<Case> corpus() {
  std::vector<Case> c;
  auto add = [&](Case k) { c.push_back(std::move(k)); };
  add({"missing", [](const std::string& d) { return q(d + "/missing.mp4"); }, 3, {"missing.mp4", "does not exist"}});
  add({"empty", [](const std::string& d) { writeBytes(d + "/empty.mp4", ""); return q(d + "/empty.mp4"); }, 3,
       {"empty.mp4", "empty"}});
  add({"random_bytes",
       [](const std::string& d) {
         std::mt19937 rng(7);
         std::string b(65536, '\0');
         for (char& ch : b) ch = static_cast<char>(rng());
         writeBytes(d + "/random.mp4", b);
         return q(d + "/random.mp4");
       },
       3, {"random.mp4"}});
  add({"audio_only",
       [](const std::string& d) {
         ffmpeg("-f lavfi -i sine=frequency=440:duration=1 " + q(d + "/audio.m4a"));
         return q(d + "/audio.m4a");
       },
       3, {"audio.m4a", "no video stream"}});
  add({"directory", [](const std::string& d) { fs::create_directory(d + "/folder.mp4"); return q(d + "/folder.mp4"); }, 3,
       {"folder.mp4", "is a directory"}});
  add({"still_image",
       [](const std::string& d) {
         ffmpeg("-f lavfi -i testsrc=size=64x48 -frames:v 1 " + q(d + "/still.png"));
         return q(d + "/still.png");
       },
       3, {"still.png", "still image", "--allow-image"}});
  add({"truncated_index",
       [](const std::string& d) {
         const std::string whole = lavfi(d, "whole.mp4", "-c:v libx264 -pix_fmt yuv420p", 160, 120, 20);
         writeBytes(d + "/cut.mp4", bytesOf(whole).substr(0, bytesOf(whole).size() / 2));
         fs::remove(whole);
         return q(d + "/cut.mp4");
       },
       3, {"cut.mp4", "truncated"}});
  add({"truncated_faststart",
       [](const std::string& d) {
         const std::string whole = squareClip(d + "/whole.mp4", 40);  // faststart: the index comes first
         const std::string b = bytesOf(whole);
         writeBytes(d + "/cut.mp4", b.substr(0, b.size() * 2 / 5));
         fs::remove(whole);
         return q(d + "/cut.mp4");
       },
       0, {"cut.mp4: the container promises 40 frames"}});
  add({"corrupt_packets",
       [](const std::string& d) {
         const std::string clean = lavfi(d, "clean.avi", "-c:v mpeg4 -g 12", 160, 120, 32);
         std::string b = bytesOf(clean);
         std::mt19937 rng(1);
         for (int i = 0; i < 40; ++i) b[b.size() / 3 + rng() % (b.size() / 3)] ^= static_cast<char>(0xff);
         writeBytes(d + "/damaged.avi", b);
         fs::remove(clean);
         return q(d + "/damaged.avi");
       },
       0, {"damaged.avi: the decoder reported", "damaged data"}});
  for (auto [w, h] : std::vector<std::pair<int, int>>{{4, 4}, {320, 6}, {320, 7}, {33, 17}, {2, 2}}) {
    const std::string n = std::to_string(w) + "x" + std::to_string(h);
    add({"size_" + n,
         [w = w, h = h, n](const std::string& d) {
           return q(lavfi(d, n + ".mkv", "-c:v libx264 -pix_fmt yuv444p", w, h, 16));
         },
         0, {}});
  }
  add({"size_320x6_two_methods",  // the side-by-side grid and its title strips on a 6-pixel frame
       [](const std::string& d) {
         return q(lavfi(d, "strip.mkv", "-c:v libx264 -pix_fmt yuv444p", 320, 6, 16)) + " --method gradcam,gradcam++";
       },
       0, {}});
  add({"size_6x4_yuv420", [](const std::string& d) { return q(lavfi(d, "s.mp4", "-c:v libx264 -pix_fmt yuv420p", 6, 4, 16)); },
       0, {}});
  add({"size_4000x3000", [](const std::string& d) { return q(lavfi(d, "big.avi", "-c:v mjpeg -q:v 8", 4000, 3000, 8)) + " --clip-len 8"; },
       0, {}});
  add({"gray", [](const std::string& d) { return q(lavfi(d, "gray.mkv", "-c:v ffv1 -pix_fmt gray")); }, 0, {}});
  add({"hevc_10bit",
       [](const std::string& d) { return q(lavfi(d, "hevc10.mkv", "-c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=error")); },
       0, {}});
  add({"two_video_streams",
       [](const std::string& d) {
         ffmpeg("-f lavfi -i testsrc=size=160x120:rate=25 -f lavfi -i smptebars=size=96x64:rate=25 -frames:v 16 -map 0 -map 1 "
                "-c:v libx264 -pix_fmt yuv420p " + q(d + "/two.mkv"));
         return q(d + "/two.mkv");
       },
       0, {}});
  add({"timestamp_gaps",
       [](const std::string& d) {
         return q(lavfi(d, "gaps.mkv", "-vf \"setpts='(N+gte(N,8)*40)/25/TB'\" -fps_mode passthrough -c:v libx264 -pix_fmt yuv420p",
                        160, 120, 20));
       },
       0, {}});
  add({"rotated_phone_video",
       [](const std::string& d) {
         const std::string plain = lavfi(d, "plain.mp4", "-c:v libx264 -pix_fmt yuv420p", 160, 96, 16);
         ffmpeg("-i " + q(plain) + " -c copy -metadata:s:v:0 rotate=90 " + q(d + "/rotated.mp4"));
         fs::remove(plain);
         return q(d + "/rotated.mp4");
       },
       0, {}});
  add({"name_not_utf8",
       [](const std::string& d) { return q(squareClip(d + "/caf\xe9.mp4")); }, 0, {}});
  add({"out_onto_input_by_symlink",
       [](const std::string& d) {
         const std::string in = squareClip(d + "/in.mp4");
         fs::create_symlink(in, d + "/link.mp4");
         return q(in) + " --out " + q(d + "/link.mp4");
       },
       2, {"link.mp4: output would overwrite the input video"}, "", false});
  add({"out_onto_input_by_hard_link",
       [](const std::string& d) {
         const std::string in = squareClip(d + "/in.mp4");
         fs::create_hard_link(in, d + "/hard.mp4");
         return q(in) + " --out " + q(d + "/hard.mp4");
       },
       2, {"hard.mp4: output would overwrite the input video"}, "", false});
  add({"json_onto_model",
       [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --out " + q(d + "/o.mp4") + " --json " + q(d + "/model.pt"); },
       2, {"--json would overwrite the model file"}, "", false});
  add({"json_is_out",
       [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --out " + q(d + "/o.mp4") + " --json " + q(d + "/o.mp4"); },
       2, {"name the same file"}, "", false});
  add({"labels_dev_zero", [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --labels /dev/zero"; }, 2,
       {"/dev/zero: labels file larger than 16 MiB"}});
  add({"clip_len_huge", [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --clip-len 100000 --stride 8"; }, 2,
       {"--clip-len 100000 is more than 1024 frames"}});
  add({"windows_beyond_memory",
       [](const std::string& d) {
         return q(squareClip(d + "/in.mp4")) + " --clip-len 1024 --stride 8 --resize 4096x4096 --crop 4096x4096";
       },
       2, {"--clip-len 1024, --crop 4096x4096 and --batch-size 8 need", "of memory is available"}});
  add({"threads_1000", [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --threads 1000"; }, 0,
       {"--threads 1000: this process may use", "; using "}});
  add({"class_negative", [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --class -1"; }, 4,
       {"--class -1", "ids start at 0"}});
  add({"stdin_needs_out", [](const std::string& d) { return "- < " + q(squareClip(d + "/in.mp4")); }, 2,
       {"standard input", "give --out"}, "", false});
  add({"out_to_stdout", [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --out -"; }, 2,
       {"--out -: standard output is not supported"}, "", false});
  add({"unwritable_folder", [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --out /proc/explained.mp4"; }, 5,
       {"/proc/explained.mp4", "cannot write"}, "", false});
  add({"save_raw_onto_a_file",
       [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --save-raw " + q(d + "/in.mp4"); }, 2,
       {"--save-raw would overwrite the input video"}});
  add({"save_raw_folder_holds_the_input",
       [](const std::string& d) { return q(squareClip(d + "/in.mp4")) + " --save-raw " + q(d); }, 2,
       {"--save-raw folder holds the input video"}});
  // A full disk, by the file size limit: the error names the user's file, not the temporary.
  // (512 KB: the window store fits, the MP4 of 16 noisy 640x480 frames, about 1.1 MB, does not.)
  add({"out_of_space",
       [](const std::string& d) {
         return q(lavfi(d, "noisy.mp4", "-vf noise=alls=40:allf=t -c:v libx264 -pix_fmt yuv420p", 640, 480, 16)) +
                " --out " + q(d + "/full.mp4");
       },
       5, {"full.mp4: cannot write video data (File too large)"}, "trap '' XFSZ; ulimit -f 1000;", false, {".partial-"}});
  return c;
}

class Hostile : public ::testing::TestWithParam<Case> {};

TEST_P(Hostile, ExitCodeOneLineNoDebrisInputsIntact) {
  const Case& k = GetParam();
  evtest::ScratchDir scratch("ev_hostile_");
  const std::string d = scratch.path().string();
  fs::copy_file(modelFile(), d + "/model.pt");
  std::string args = k.setup(d);
  args += " --model " + q(d + "/model.pt") + " --quiet";
  if (k.defaultOutputs) args += " --out " + q(d + "/out.mp4") + " --json " + q(d + "/out.json");
  const auto before = snapshot(d);

  const evtest::CliRun r = run(k.prefix, args);
  EXPECT_EQ(r.code, k.code) << args << "\n" << r.err;
  const std::vector<std::string> lines = linesOf(r.err);
  if (k.code == 0) {  // warnings, then the summary line
    ASSERT_FALSE(lines.empty());
    for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].rfind("explain-video: warning: ", 0), 0u) << r.err;
    EXPECT_NE(lines.back().find(", layer "), std::string::npos) << r.err;
  } else {
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("explain-video: error: ", 0), 0u) << r.err;
  }
  for (const std::string& ph : k.phrases) EXPECT_NE(r.err.find(ph), std::string::npos) << "missing '" << ph << "' in: " << r.err;
  for (const std::string& ph : k.absent) EXPECT_EQ(r.err.find(ph), std::string::npos) << "'" << ph << "' in: " << r.err;

  auto after = snapshot(d);
  for (const auto& [name, bytes] : before) {
    auto it = after.find(name);
    ASSERT_NE(it, after.end()) << name << " disappeared";
    EXPECT_TRUE(it->second == bytes) << name << " changed";
    after.erase(it);
  }
  std::vector<std::string> expected;
  if (k.code == 0 && k.defaultOutputs) expected = {"out.json", "out.mp4"};
  EXPECT_EQ(names(after), expected) << "files other than the requested outputs";
  if (k.code == 0 && k.defaultOutputs) {
    std::ifstream js(d + "/out.json");
    EXPECT_NO_THROW(nlohmann::json::parse(js));
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, Hostile, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

// ---- interrupts ----

std::vector<std::string> partialsUnder(const fs::path& d) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(d, ec); it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename().string().find(".partial-") != std::string::npos) found.push_back(it->path().string());
  return found;
}

struct InterruptCase {
  const char* name;
  const char* hook;  // EV_TEST_SIGNAL_AT
  int code;
  const char* phrase;
};

void PrintTo(const InterruptCase& c, std::ostream* os) { *os << c.name; }

class Interrupt : public ::testing::TestWithParam<InterruptCase> {};

// SIGINT and SIGTERM inside the model pass, the decoder and the render pass: the run stops at
// the next window or frame, removes its temporaries, writes nothing and exits 128 + signal.
TEST_P(Interrupt, StopsCleanlyWithTheDocumentedCode) {
  const InterruptCase& k = GetParam();
  evtest::ScratchDir scratch("ev_interrupt_");
  const std::string d = scratch.path().string();
  const std::string clip = squareClip(d + "/in.mp4", 48);
  const auto before = snapshot(d);
  const evtest::CliRun r =
      run(std::string("EV_TEST_SIGNAL_AT=") + k.hook,
          q(clip) + " --model " + q(modelFile()) + " --stride 4 --batch-size 2 --out " + q(d + "/out.mp4") + " --json " +
              q(d + "/out.json") + " --save-heatmaps " + q(d + "/heat.npy") + " --save-raw " + q(d + "/raw") + " --quiet");
  EXPECT_EQ(r.code, k.code) << r.err;
  const std::vector<std::string> lines = linesOf(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0], std::string("explain-video: interrupted by ") + k.phrase +
                          "; the outputs of the unfinished work were not written");
  EXPECT_EQ(names(snapshot(d)), names(before));
  EXPECT_TRUE(partialsUnder(d).empty());
}

INSTANTIATE_TEST_SUITE_P(Points, Interrupt,
                         ::testing::Values(InterruptCase{"SigintInTheModelPass", "explain:3:INT", 130, "SIGINT"},
                                           InterruptCase{"SigtermInTheModelPass", "explain:3:TERM", 143, "SIGTERM"},
                                           InterruptCase{"SigintWhileDecoding", "decode:10:INT", 130, "SIGINT"},
                                           InterruptCase{"SigintInTheRenderPass", "render:10:INT", 130, "SIGINT"},
                                           InterruptCase{"SigtermInTheRenderPass", "render:10:TERM", 143, "SIGTERM"},
                                           InterruptCase{"SighupInTheRenderPass", "render:30:HUP", 129, "SIGHUP"}),
                         [](const ::testing::TestParamInfo<InterruptCase>& i) { return i.param.name; });

// A second signal ends the process at once: the temporary files are unlinked by the handler,
// the staging folder of --save-raw stays, and the next run into that folder sweeps it.
TEST(InterruptTwice, EndsAtOnceAndTheNextRunSweeps) {
  evtest::ScratchDir scratch("ev_interrupt_twice_");
  const std::string d = scratch.path().string();
  const std::string clip = squareClip(d + "/in.mp4", 48);
  const std::string args = q(clip) + " --model " + q(modelFile()) + " --stride 4 --out " + q(d + "/out.mp4") + " --json " +
                           q(d + "/out.json") + " --save-raw " + q(d + "/raw") + " --quiet";
  fs::create_directory(d + "/raw");
  evtest::CliRun r = run("EV_TEST_SIGNAL_AT=render:5:INT:2", args);
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.err.find("stopped at once (second signal)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d + "/out.mp4"));
  for (const std::string& p : partialsUnder(d))
    EXPECT_NE(p.find("/raw/.partial-"), std::string::npos) << "a temporary file left: " << p;
  EXPECT_FALSE(partialsUnder(d + "/raw").empty()) << "the staging folder was expected to stay (nothing removes it here)";
  r = run("", args);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(partialsUnder(d).empty());
}

// A batch stops between videos' work: the finished videos and their index rows stay, the
// unfinished one leaves nothing, and a re-run resumes.
TEST(InterruptBatch, KeepsFinishedVideosAndResumes) {
  evtest::ScratchDir scratch("ev_interrupt_batch_");
  const std::string d = scratch.path().string();
  fs::create_directory(d + "/in");
  for (const char* n : {"a", "b", "c"}) squareClip(d + "/in/" + n + ".mp4");
  const std::string args = q(d + "/in") + " --model " + q(modelFile()) + " --out-dir " + q(d + "/out") + " --quiet";
  evtest::CliRun r = run("EV_TEST_SIGNAL_AT=batch:1:INT", "batch " + args);
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.err.find("interrupted by SIGINT"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(d + "/out/a.json"));
  EXPECT_TRUE(fs::exists(d + "/out/a.explained.mp4"));
  EXPECT_FALSE(fs::exists(d + "/out/b.json"));
  EXPECT_TRUE(partialsUnder(d).empty());
  const std::vector<std::string> rows = linesOf(bytesOf(d + "/out/index.csv"));
  EXPECT_EQ(rows.size(), 2u) << bytesOf(d + "/out/index.csv");  // the header and a's row
  r = run("", "batch " + args);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(d + "/out/c.json"));
}

// A FIFO nobody writes to: the copy waits (as cat would), and Ctrl-C still ends it at once.
TEST(InterruptStream, AFifoWithoutAWriterCanBeInterrupted) {
  evtest::ScratchDir scratch("ev_interrupt_fifo_");
  const std::string fifo = scratch.file("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const evtest::CliRun r = run("EV_TEST_SIGNAL_AT=spool:3:INT",
                               q(fifo) + " --model " + q(modelFile()) + " --out " + q(scratch.file("o.mp4")) + " --quiet");
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60.0);
  EXPECT_FALSE(fs::exists(scratch.file("o.mp4")));
}

// The library's own stop request (what a GUI's cancel button calls), from a progress callback.
TEST(InterruptLibrary, RequestStopEndsTheRunWithInterrupted) {
  evtest::ScratchDir scratch("ev_interrupt_lib_");
  ev::ExplainParams p;
  p.input = squareClip(scratch.file("in.mp4"), 48);
  p.model = modelFile();
  p.output = scratch.file("out.mp4");
  p.jsonFile = scratch.file("out.json");
  p.windows.stride = 4;
  p.batchSize = 2;
  int calls = 0;
  ev::clearStopRequest();
  try {
    ev::explainVideo(p, [&](const ev::ExplainProgress&) {
      if (++calls == 2) ev::requestStop();
    });
    ADD_FAILURE() << "the run did not stop";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Interrupted);
    EXPECT_STREQ(e.what(), "stopped on request");
  }
  EXPECT_TRUE(ev::stopRequested());
  ev::clearStopRequest();
  EXPECT_FALSE(ev::stopRequested());
  EXPECT_EQ(names(snapshot(scratch.path())), std::vector<std::string>{"in.mp4"});
  // Cleared, the next run works.
  EXPECT_NO_THROW(ev::explainVideo(p, {}));
  EXPECT_TRUE(fs::exists(p.output));
}

// ---- streams ----

// A FIFO and standard input (a pipe, or a redirected file) are read once and explained whole.
TEST(Streams, FifoAndStandardInput) {
  evtest::ScratchDir scratch("ev_streams_");
  const std::string clip = squareClip(scratch.file("in.mp4"));
  const std::string m = " --model " + q(modelFile()) + " --quiet";
  const std::string fifo = scratch.file("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // waits for the reader
    if (fd < 0) return;
    const std::string b = bytesOf(clip);
    for (size_t done = 0; done < b.size();) {
      const ssize_t n = ::write(fd, b.data() + done, std::min<size_t>(4096, b.size() - done));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  evtest::CliRun r = run("", q(fifo) + m + " --out " + q(scratch.file("fifo.mp4")) + " --json " + q(scratch.file("fifo.json")));
  writer.join();
  EXPECT_EQ(r.code, 0) << r.err;
  std::ifstream js(scratch.file("fifo.json"));
  const nlohmann::json j = nlohmann::json::parse(js);
  EXPECT_EQ(j["video"]["frames"], 20);
  EXPECT_EQ(j["input"], fifo);

  r = run("cat " + q(clip) + " |", "-" + m + " --out " + q(scratch.file("pipe.mp4")) + " --json " + q(scratch.file("pipe.json")));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("standard input: class "), std::string::npos) << r.err;
  std::ifstream pj(scratch.file("pipe.json"));
  EXPECT_EQ(nlohmann::json::parse(pj)["video"]["frames"], 20);

  r = run("", "- < " + q(clip) + m + " --out " + q(scratch.file("redirect.mp4")));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(scratch.file("redirect.mp4")));

  // Not a video on a pipe: the one line names standard input.
  r = run("echo nonsense |", "-" + m + " --out " + q(scratch.file("never.mp4")));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.err.rfind("explain-video: error: standard input: ", 0), 0u) << r.err;
  EXPECT_FALSE(fs::exists(scratch.file("never.mp4")));
}

// ---- leftovers ----

// A run killed outright leaves its temporaries; the next run into that folder removes those no
// live process holds, and never one that a running process holds.
TEST(Leftovers, StalePartialsAreSweptLiveOnesKept) {
  evtest::ScratchDir scratch("ev_leftovers_");
  const std::string d = scratch.path().string();
  const std::string clip = squareClip(d + "/in.mp4");
  writeBytes(d + "/.old.explained.mp4.partial-AbC123.mp4", "stale");
  writeBytes(d + "/.live.json.partial-XyZ789", "live");
  fs::create_directories(d + "/raw/.partial-QwE456");
  writeBytes(d + "/raw/.partial-QwE456/window_0000_input.npy", "stale");
  writeBytes(d + "/.look.partial-alike", "not ours: no six-character tag");
  const int live = ::open((d + "/.live.json.partial-XyZ789").c_str(), O_RDONLY);
  ASSERT_GE(live, 0);
  ASSERT_EQ(::flock(live, LOCK_EX | LOCK_NB), 0);  // as the process writing it would
  const evtest::CliRun r = run("", q(clip) + " --model " + q(modelFile()) + " --out " + q(d + "/new.mp4") + " --save-raw " +
                                       q(d + "/raw") + " --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(d + "/.old.explained.mp4.partial-AbC123.mp4"));
  EXPECT_FALSE(fs::exists(d + "/raw/.partial-QwE456"));
  EXPECT_TRUE(fs::exists(d + "/.live.json.partial-XyZ789"));
  EXPECT_TRUE(fs::exists(d + "/.look.partial-alike"));
  ::close(live);
}

// While another run moves its outputs into place (it holds the folder's lock), this one waits:
// two runs onto the same files replace them whole, one after the other.
TEST(Leftovers, CommitLockWaitsForTheOtherRun) {
  evtest::ScratchDir scratch("ev_commit_lock_");
  const int other = ::open(scratch.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(other, 0);
  ASSERT_EQ(::flock(other, LOCK_EX), 0);
  std::atomic<bool> locked{false};
  std::thread t([&] {
    ev::CommitLock lock({scratch.file("a.mp4"), scratch.file("a.json")});
    locked = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(locked.load()) << "took the lock another process holds";
  ::close(other);
  t.join();
  EXPECT_TRUE(locked.load());
}

// --save-raw into a folder an earlier run filled: its window files are replaced, the ones this
// run has no window for are removed, other files stay; a failed run leaves no new folder.
TEST(Leftovers, RawFolderHoldsOnlyThisRunsWindows) {
  evtest::ScratchDir scratch("ev_raw_");
  const std::string d = scratch.path().string();
  const std::string clip = squareClip(d + "/in.mp4", 40);
  const std::string m = " --model " + q(modelFile()) + " --out " + q(d + "/o.mp4") + " --quiet --save-raw " + q(d + "/raw");
  evtest::CliRun r = run("", q(clip) + m + " --stride 4");
  ASSERT_EQ(r.code, 0) << r.err;
  auto count = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(d + "/raw"))
      if (e.path().extension() == ".json") ++n;
    return n;
  };
  const int many = count();
  writeBytes(d + "/raw/notes.txt", "mine");
  r = run("", q(clip) + m + " --stride 16 --json " + q(d + "/few.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream js(d + "/few.json");
  const int windows = nlohmann::json::parse(js)["windows"].size();
  EXPECT_LT(windows, many);
  EXPECT_EQ(count(), windows);
  EXPECT_EQ(bytesOf(d + "/raw/notes.txt"), "mine");

  r = run("", q(clip) + " --model " + q(modelFile()) + " --class 1 --strict --out " + q(d + "/o2.mp4") +
                  " --quiet --save-raw " + q(d + "/fresh"));
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_FALSE(fs::exists(d + "/fresh"));
  r = run("EV_TEST_SIGNAL_AT=explain:1:INT", q(clip) + m.substr(0, m.find(" --save-raw")) + " --save-raw " + q(d + "/fresh"));
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_FALSE(fs::exists(d + "/fresh"));
}

}  // namespace
