// Whole datasets: shards (assignment and the job-array environment), the input list (folders,
// manifests, names that cannot collide), `explain-video batch` end to end (failures recorded,
// resume after a kill, rerun skips), `merge` of shard indexes and `eval-merge` of shard evals
// against unsharded runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_runner.hpp"
#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "explain_video/synth.hpp"
#include "synthetic_clip.hpp"
#include "test_paths.hpp"
#include "tiny_split.hpp"

namespace fs = std::filesystem;

namespace {

const std::string& dir() { return evtest::processDir(); }

evtest::CliRun runCli(const std::string& args) { return evtest::runCli(args, dir() + "/batch_stderr.txt"); }

std::string q(const std::string& s) { return evtest::shellQuote(s); }

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

// Four short square clips in two folders (two share the stem "clip"), and a broken one.
const std::string& clipsDir() {
  static const std::string d = [] {
    const std::string root = dir() + "/batch_clips";
    fs::create_directories(root + "/a");
    fs::create_directories(root + "/b");
    int i = 0;
    for (const char* path : {"/a/clip.mp4", "/b/clip.mp4", "/b/other.mp4", "/b/third.mp4"}) {
      evtest::SquareClip spec;
      spec.frames = 12 + 4 * i++;
      spec.presentFrom = 2, spec.presentTo = spec.frames - 2;
      evtest::writeSquareClip(root + path, spec);
    }
    std::ofstream(root + "/b/broken.mp4") << "not a video\n";
    return root;
  }();
  return d;
}

const std::string kSmall = " --model " + model("red_detector.pt") + " --class 0 --clip-len 8 --stride 8 -q ";

std::vector<ev::BatchRow> index(const std::string& path) { return ev::readBatchIndex(path); }

}  // namespace

TEST(Shards, EveryInputInExactlyOneShard) {
  for (int n = 1; n <= 7; ++n)
    for (size_t inputs = 0; inputs <= 20; ++inputs) {
      std::vector<int> owner(inputs, -1);
      std::vector<size_t> sizes(static_cast<size_t>(n), 0);
      for (int k = 0; k < n; ++k) {
        ev::ShardSpec s = ev::parseShard(std::to_string(k) + "/" + std::to_string(n));
        for (size_t i = 0; i < inputs; ++i)
          if (s.contains(i)) {
            EXPECT_EQ(owner[i], -1) << "input " << i << " in two shards of " << n;
            owner[i] = k;
            ++sizes[static_cast<size_t>(k)];
          }
      }
      for (size_t i = 0; i < inputs; ++i) EXPECT_GE(owner[i], 0) << "input " << i << " in no shard of " << n;
      const auto [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
      EXPECT_LE(*hi - *lo, 1u);
    }
  for (const char* bad : {"3/3", "1", "a/2", "-1/2", "0/0", "1/2/3", ""}) EXPECT_THROW(ev::parseShard(bad), ev::Error) << bad;
}

TEST(Shards, FromTheJobArraysEnvironment) {
  auto envOf = [](std::map<std::string, std::string> vars) {
    return [vars](const char* n) -> const char* {
      auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  // Slurm: --array=3-6 gives IDs 3..6, MIN 3, COUNT 4.
  ev::ShardSpec s = ev::resolveShard("", 0, envOf({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "3"},
                                                  {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  EXPECT_EQ(s.name(), "2/4");
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
  // Kubernetes Indexed Job: the index, and the completions from --shards.
  s = ev::resolveShard("", 3, envOf({{"JOB_COMPLETION_INDEX", "2"}}));
  EXPECT_EQ(s.name(), "2/3");
  EXPECT_EQ(s.source, "JOB_COMPLETION_INDEX");
  // --shard wins over the environment; nothing set: unsharded.
  s = ev::resolveShard("1/2", 0, envOf({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "5"}}));
  EXPECT_EQ(s.name(), "1/2");
  EXPECT_FALSE(ev::resolveShard("", 0, envOf({})).sharded());
  EXPECT_THROW(ev::resolveShard("", 0, envOf({{"JOB_COMPLETION_INDEX", "2"}})), ev::Error);      // no --shards
  EXPECT_THROW(ev::resolveShard("", 2, envOf({{"JOB_COMPLETION_INDEX", "2"}})), ev::Error);      // 2 of 2
  EXPECT_THROW(ev::resolveShard("", 0, envOf({{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_MIN", "0"},
                                              {"SLURM_ARRAY_TASK_COUNT", "4"}})),
               ev::Error);
  EXPECT_THROW(ev::resolveShard("0/2", 3, envOf({})), ev::Error);
  EXPECT_THROW(ev::resolveShard("", 3, envOf({})), ev::Error);  // --shards outside an Indexed Job
}

TEST(BatchInputs, FoldersManifestsAndNames) {
  const std::string d = clipsDir();
  // A folder: recursive, sorted by path; our own outputs left out.
  std::ofstream(d + "/b/clip.explained.mp4") << "x";
  std::vector<ev::BatchInput> in = ev::listBatchInputs({d});
  fs::remove(d + "/b/clip.explained.mp4");
  ASSERT_EQ(in.size(), 5u);
  EXPECT_EQ(in[0].path, d + "/a/clip.mp4");
  EXPECT_EQ(in[1].path, d + "/b/broken.mp4");
  EXPECT_EQ(in[4].path, d + "/b/third.mp4");
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(in[i].position, i);
  // Shared stems get a hash of the path; unique stems stay as they are.
  EXPECT_EQ(in[0].name.rfind("clip-", 0), 0u);
  EXPECT_EQ(in[0].name.size(), 13u);
  EXPECT_NE(in[0].name, in[2].name);
  EXPECT_EQ(in[3].name, "other");
  // A CSV manifest: paths relative to it, a class column, its own order; a path twice is kept once.
  const std::string csv = d + "/list.csv";
  std::ofstream(csv) << "class,path\n0,b/other.mp4\n,a/clip.mp4\n\"1\",\"b/other.mp4\"\n";
  in = ev::listBatchInputs({csv});
  ASSERT_EQ(in.size(), 2u);
  const auto norm = [](const std::string& p) { return fs::path(p).lexically_normal().string(); };
  EXPECT_EQ(in[0].path, norm(d + "/b/other.mp4"));
  EXPECT_EQ(in[0].classSpec, "0");
  EXPECT_EQ(in[1].classSpec, "");
  EXPECT_EQ(in[1].name, "clip");  // unique within this list
  // A text manifest, one path a line.
  std::ofstream(d + "/list.txt") << "# comment\nb/third.mp4\n\na/clip.mp4\n";
  in = ev::listBatchInputs({d + "/list.txt"});
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[1].path, norm(d + "/a/clip.mp4"));
  std::ofstream(d + "/nopath.csv") << "file,class\nx.mp4,1\n";
  EXPECT_THROW(ev::listBatchInputs({d + "/nopath.csv"}), ev::Error);
  EXPECT_THROW(ev::listBatchInputs({d + "/missing.csv"}), ev::Error);
  fs::create_directories(d + "/empty");
  EXPECT_THROW(ev::listBatchInputs({d + "/empty"}), ev::Error);
  for (const char* f : {"/list.csv", "/list.txt", "/nopath.csv"}) fs::remove(d + f);
  fs::remove(d + "/empty");
}

// Good videos, a broken one and a missing one from a manifest: each recorded, the run goes on,
// exit 6; a rerun skips the finished ones; --overwrite redoes them.
TEST(BatchCli, RecordsFailuresAndSkipsFinishedVideosOnRerun) {
  const std::string d = clipsDir(), out = dir() + "/batch_out";
  fs::remove_all(out);
  const std::string manifest = dir() + "/batch_manifest.csv";
  std::ofstream(manifest) << "path\n" << d << "/a/clip.mp4\n" << d << "/b/broken.mp4\n" << d << "/b/missing.mp4\n"
                          << d << "/b/clip.mp4\n";
  evtest::CliRun r = runCli("batch " + q(manifest) + kSmall + "--out-dir " + q(out) + " --save-heatmaps");
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_EQ(r.out, out + "/index.csv\n");
  std::vector<ev::BatchRow> rows = index(out + "/index.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, "ok");
  EXPECT_EQ(rows[0].className, "class 0");
  EXPECT_EQ(rows[0].frames, 12);
  EXPECT_EQ(rows[1].status, "failed");
  EXPECT_NE(rows[1].error.find("broken.mp4"), std::string::npos) << rows[1].error;
  EXPECT_EQ(rows[2].status, "failed");
  EXPECT_NE(rows[2].error.find("missing.mp4: file does not exist"), std::string::npos) << rows[2].error;
  EXPECT_EQ(rows[3].status, "ok");
  EXPECT_EQ(rows[3].frames, 16);
  // Outputs of the good ones, nothing of the failed ones (no partial files either).
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(out)) files.insert(e.path().filename().string());
  const std::string a = ev::listBatchInputs({manifest})[0].name, b = ev::listBatchInputs({manifest})[3].name;
  EXPECT_EQ(files, (std::set<std::string>{"index.csv", a + ".explained.mp4", a + ".json", a + ".heatmaps.npy",
                                          b + ".explained.mp4", b + ".json", b + ".heatmaps.npy"}));
  EXPECT_NE(r.err.find("explain-video batch: failed: " + fs::path(d + "/b/broken.mp4").lexically_normal().string()),
            std::string::npos) << r.err;

  r = runCli("batch " + q(manifest) + kSmall + "--out-dir " + q(out) + " --save-heatmaps");
  EXPECT_EQ(r.code, 6) << r.err;
  rows = index(out + "/index.csv");
  EXPECT_EQ(rows[0].status, "skipped");
  EXPECT_EQ(rows[0].frames, 12);  // from its summary
  EXPECT_EQ(rows[3].status, "skipped");
  r = runCli("batch " + q(manifest) + kSmall + "--out-dir " + q(out) + " --save-heatmaps --overwrite");
  rows = index(out + "/index.csv");
  EXPECT_EQ(rows[0].status, "ok");
  // --fail-fast stops at the broken video with its own exit code.
  r = runCli("batch " + q(manifest) + kSmall + "--out-dir " + q(out) + " --overwrite --fail-fast --no-video");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(index(out + "/index.csv").size(), 2u);
}

// Killed in the middle of a video (SIGKILL, as a cluster's time limit or the OOM killer): the
// finished videos stay, the half-done one has no visible outputs, and a rerun redoes exactly it.
TEST(BatchCli, ResumesAfterAKillMidVideo) {
  const std::string d = clipsDir(), out = dir() + "/batch_kill";
  fs::remove_all(out);
  const std::string inputs = q(d + "/a/clip.mp4") + " " + q(d + "/b/other.mp4") + " " + q(d + "/b/third.mp4");
  // The test hook kills the run during the second video's render pass.
  const int status = std::system(("EV_BATCH_TEST_KILL_AT=1 " + std::string(evtest::cliPath()) + " batch " + inputs + kSmall +
                                  "--out-dir " + q(out) + " 2>/dev/null >/dev/null").c_str());
  EXPECT_NE(status, 0);
  evtest::CliRun r;
  EXPECT_TRUE(fs::exists(out + "/clip.json"));
  EXPECT_FALSE(fs::exists(out + "/other.json"));
  EXPECT_FALSE(fs::exists(out + "/other.explained.mp4"));
  EXPECT_FALSE(fs::exists(out + "/third.json"));
  // The killed run's temporaries are still there (nothing could remove them) ...
  auto partials = [&] {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(out))
      if (e.path().filename().string().find(".partial-") != std::string::npos) ++n;
    return n;
  };
  EXPECT_GT(partials(), 0);
  r = runCli("batch " + inputs + kSmall + "--out-dir " + q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(partials(), 0) << "the resumed run sweeps the killed run's temporaries";  // ... and now they are not
  const std::vector<ev::BatchRow> rows = index(out + "/index.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].status, "skipped");
  EXPECT_EQ(rows[1].status, "ok");
  EXPECT_EQ(rows[2].status, "ok");
}

// Two shards into one folder, merged: the same rows as one unsharded run, in input order.
TEST(BatchCli, ShardsMergeIntoTheUnshardedIndex) {
  const std::string d = clipsDir(), shardOut = dir() + "/batch_shards", whole = dir() + "/batch_whole";
  fs::remove_all(shardOut);
  fs::remove_all(whole);
  evtest::CliRun r = runCli("merge " + q(shardOut));
  EXPECT_EQ(r.code, 3) << r.err;
  for (int k = 0; k < 2; ++k) {
    r = runCli("batch " + q(d) + kSmall + "--no-video --out-dir " + q(shardOut) + " --shard " + std::to_string(k) + "/2");
    EXPECT_EQ(r.code, k == 1 ? 6 : 0) << r.err;  // the broken clip (input 1) is in shard 1
    EXPECT_TRUE(fs::exists(shardOut + "/index.shard-" + std::to_string(k) + "-of-2.csv"));
    if (k == 0) {
      r = runCli("merge " + q(shardOut));
      EXPECT_EQ(r.code, 3) << r.err;
      EXPECT_NE(r.err.find("shard 1 of 2 has no index yet"), std::string::npos) << r.err;
    }
  }
  r = runCli("merge " + q(shardOut));
  EXPECT_EQ(r.code, 6) << r.err;
  r = runCli("batch " + q(d) + kSmall + "--no-video --out-dir " + q(whole));
  const std::vector<ev::BatchRow> merged = index(shardOut + "/index.csv"), one = index(whole + "/index.csv");
  ASSERT_EQ(merged.size(), one.size());
  ASSERT_EQ(merged.size(), 5u);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(merged[i].position, i);
    EXPECT_EQ(merged[i].input, one[i].input);
    EXPECT_EQ(merged[i].status, one[i].status);
    EXPECT_EQ(merged[i].classId, one[i].classId);
    EXPECT_EQ(merged[i].frames, one[i].frames);
    EXPECT_EQ(merged[i].windows, one[i].windows);
    EXPECT_EQ(merged[i].shard, std::to_string(i % 2) + "/2");
  }
}

// Three eval shards joined by eval-merge give the unsharded eval's table to the last printed
// digit, and its JSON (clips and windows in the same order, the same numbers).
TEST(EvalMerge, ThreeShardsEqualOneRun) {
  const std::string d = dir() + "/evalmerge";
  fs::remove_all(d);
  fs::create_directories(d);
  ev::SynthParams sp;
  sp.frames = 16;
  sp.width = 80, sp.height = 60;
  for (int i = 0; i < 5; ++i) {
    const ev::SynthClip c = ev::renderSynthClip(i, 100 + i, sp);
    const std::string stem = d + "/clip_" + std::to_string(i);
    ev::writeSynthClip(c, stem + ".mp4", stem + ".json");
  }
  const std::string flags = " --model " + model("red_detector.pt") +
                            " --class 0 --clip-len 8 --stride 4 --resize 60x80 --crop 56x56 --curve-steps 3 --del-steps 2 -q";
  evtest::CliRun whole = runCli("eval " + q(d) + flags + " --json " + q(d + "/whole.json"));
  ASSERT_EQ(whole.code, 0) << whole.err;
  std::string shards;
  for (int k = 0; k < 3; ++k) {
    const std::string f = d + "/shard" + std::to_string(k) + ".json";
    const evtest::CliRun r = runCli("eval " + q(d) + flags + " --shard " + std::to_string(k) + "/3 --json " + q(f));
    ASSERT_EQ(r.code, 0) << r.err;
    shards += " " + q(f);
  }
  evtest::CliRun merged = runCli("eval-merge" + shards + " --json " + q(d + "/merged.json"));
  ASSERT_EQ(merged.code, 0) << merged.err;
  EXPECT_EQ(merged.out, whole.out);
  std::ifstream fa(d + "/whole.json"), fb(d + "/merged.json");
  nlohmann::json a = nlohmann::json::parse(fa), b = nlohmann::json::parse(fb);
  for (auto* j : {&a, &b}) {
    j->erase("seconds_total");
    for (auto& c : (*j)["clips"]) c.erase("seconds");
  }
  EXPECT_EQ(a, b);
  // A missing shard, or a shard twice, is refused.
  evtest::CliRun bad = runCli("eval-merge " + q(d + "/shard0.json") + " " + q(d + "/shard2.json"));
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("shard 1 of 3 is missing"), std::string::npos) << bad.err;
  bad = runCli("eval-merge " + q(d + "/shard0.json") + " " + q(d + "/shard0.json"));
  EXPECT_EQ(bad.code, 3);
}
