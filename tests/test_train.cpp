// Training in C++ (src/train) and the train/accuracy commands, on a tiny synth split (16 clips
// of 64×48×16 frames, cropped to 32×32, windows of 8 frames) with a tiny C3D-like model
// (tests/models/train_models.py): learning, determinism, checkpoint/resume, the saved model in
// the explain pipeline and in Python, exact preprocessing, bad inputs.
#include <gtest/gtest.h>

#include "cli_runner.hpp"
#include "test_paths.hpp"
#include "tiny_split.hpp"
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "explain_video/error.hpp"
#include "explain_video/model.hpp"
#include "explain_video/synth.hpp"
#include "explain_video/train.hpp"
#include "explain_video/video.hpp"
#include "explain_video/windows.hpp"
#include "train/dataset.hpp"

namespace fs = std::filesystem;
using namespace ev;

namespace {

const std::string& dir() { return evtest::processDir(); }

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

const std::string& split() { return evtest::tinyTrainSplit(); }

PreprocessParams smallPreprocess() { return evtest::tinyPreprocess(); }

TrainOptions baseOptions(const std::string& name) {
  TrainOptions o = evtest::tinyTrainOptions(model("tiny_c3d.pt"), name);
  o.epochs = 2;
  o.seed = 1;
  return o;
}

std::vector<double> lossesOf(const TrainResult& r, int fromEpoch = 1) {
  std::vector<double> v;
  for (const auto& s : r.steps)
    if (s.epoch >= fromEpoch) v.push_back(s.loss);
  return v;
}

double mean(const std::vector<double>& v, size_t from, size_t n) {
  return std::accumulate(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(from + n), 0.0) / n;
}

template <class F>
ErrorKind errorKindOf(F f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no ev::Error thrown";
  return ErrorKind::Internal;
}



evtest::CliRun runCli(const std::string& args) { return evtest::runCli(args, dir() + "/cli_stderr.txt"); }

const std::string kSmallInput = "--resize 36x48 --crop 32x32 --clip-len 8 --threads 1";

}  // namespace

// ---- sampling and data ----

TEST(TrainData, WindowStartsOverlapTheAction) {
  using trainimpl::trainingStarts;
  // Action over frames [4, 24) of 24, windows of 16: overlap >= 8 for every start 0..8.
  EXPECT_EQ(trainingStarts(24, 16, 4, 24), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  // Action [0, 8): only windows that contain all 8 action frames.
  EXPECT_EQ(trainingStarts(24, 16, 0, 8), (std::vector<int64_t>{0}));
  // Action [14, 22) of 40, windows of 16: the window must hold all 8 frames: starts 6..14.
  EXPECT_EQ(trainingStarts(40, 16, 14, 22), (std::vector<int64_t>{6, 7, 8, 9, 10, 11, 12, 13, 14}));
  // Short windows: overlap >= clipLen (the window lies inside the action).
  EXPECT_EQ(trainingStarts(20, 4, 10, 20), (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16}));
  // Clips of exactly clip-len frames (or shorter: padded) have the one start 0.
  EXPECT_EQ(trainingStarts(16, 16, 3, 12), (std::vector<int64_t>{0}));
  EXPECT_EQ(trainingStarts(10, 16, 0, 10), (std::vector<int64_t>{0}));
}

TEST(TrainData, EpochPlanIsAPureFunctionOfSeedAndEpoch) {
  const trainimpl::SplitData d = trainimpl::loadSplit(split(), smallPreprocess(), 1);
  ASSERT_EQ(d.clips.size(), 16u);
  const auto a = trainimpl::planEpoch(d, 8, 5, 0), b = trainimpl::planEpoch(d, 8, 5, 0);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.starts, b.starts);
  std::vector<int> sorted = a.order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> all(16);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);  // a permutation
  EXPECT_NE(trainimpl::planEpoch(d, 8, 5, 1).order, a.order);
  EXPECT_NE(trainimpl::planEpoch(d, 8, 6, 0).order, a.order);
  for (size_t i = 0; i < a.order.size(); ++i) {
    const auto& c = d.clips[static_cast<size_t>(a.order[i])];
    const auto ok = trainimpl::trainingStarts(c.frames, 8, c.actionStart, c.actionEnd);
    EXPECT_NE(std::find(ok.begin(), ok.end(), a.starts[i]), ok.end());
    const int64_t overlap = std::min<int64_t>(a.starts[i] + 8, c.actionEnd) - std::max<int64_t>(a.starts[i], c.actionStart);
    EXPECT_GE(overlap, std::min(8, c.actionEnd - c.actionStart)) << c.stem;
  }
}

TEST(TrainData, CachedWindowsEqualTheExplainPipelineInput) {
  PreprocessParams p = smallPreprocess();
  p.bgr = true;  // channel order is part of the cache
  p.mean = {0.4f, 0.5f, 0.3f};
  p.std = {0.2f, 0.25f, 0.3f};
  const trainimpl::SplitData d = trainimpl::loadSplit(split(), p, 2);
  const int clip = 5;
  const auto& c = d.clips[clip];
  EXPECT_EQ(c.frames, 16);
  EXPECT_EQ(c.pixels.size(), 16u * 3 * 32 * 32);  // uint8 crops, not floats

  WindowSampler sampler(p, WindowParams{8, 8});
  VideoReader reader(c.video);
  Frame f;
  while (reader.read(f)) sampler.push(f);
  sampler.finish();
  const trainimpl::Normalisation norm = trainimpl::normalisationOf(p);
  Window w;
  int windows = 0;
  while (sampler.pop(w)) {
    std::vector<float> mine(w.input.size());
    trainimpl::fillWindow(d, clip, w.firstFrame(), 8, norm, mine.data());
    ASSERT_EQ(mine.size(), w.input.data.size());
    EXPECT_EQ(std::memcmp(mine.data(), w.input.data.data(), mine.size() * sizeof(float)), 0) << "window " << w.index;
    ++windows;
  }
  EXPECT_EQ(windows, 2);
}

// ---- training ----

TEST(Train, LossFallsAndTrainingAccuracyRises) {
  TrainOptions o = baseOptions("learn");
  o.epochs = 8;  // 32 steps of 4 clips
  o.threads = 2;
  o.logPath = dir() + "/learn_log.json";
  const TrainResult r = trainModel(o);
  const auto l = lossesOf(r);
  ASSERT_EQ(l.size(), 32u);
  for (double v : l) ASSERT_TRUE(std::isfinite(v));
  const double first = mean(l, 0, 3), last = mean(l, l.size() - 3, 3);
  EXPECT_LT(last, first - 0.6) << "first " << first << " last " << last;
  EXPECT_EQ(r.savedModel, o.outPath);
  EXPECT_EQ(r.keptEpoch, 8);  // no validation: the last epoch
  ASSERT_TRUE(fs::exists(o.outPath));

  EvalOptions eo;
  eo.preprocess = o.preprocess;
  eo.clipLen = 8;
  eo.threads = 2;
  const AccuracyReport acc = evaluateAccuracy(o.outPath, o.trainDir, eo);
  EXPECT_GT(acc.top1, 0.4) << "chance is 0.125";
  EXPECT_EQ(acc.truth.size(), 16u);
  int total = 0;
  for (const auto& row : acc.confusion) total += std::accumulate(row.begin(), row.end(), 0);
  EXPECT_EQ(total, 16);

  // The log has the options, every epoch and every step.
  std::ifstream in(o.logPath);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("format"), "explain-video-train-log");
  EXPECT_TRUE(j.at("finished").get<bool>());
  EXPECT_EQ(j.at("epochs").size(), 8u);
  EXPECT_EQ(j.at("steps").size(), 32u);
  EXPECT_EQ(j.at("options").at("optimizer"), "adam");
  EXPECT_DOUBLE_EQ(j.at("steps").at(31).at("terms").at("ce").get<double>(), l.back());

  // The saved model works in the explain pipeline.
  Model m(o.outPath, 1);
  Volume input({1, 3, 8, 32, 32});
  EXPECT_EQ(m.predict(input).size(), 8u);
}

TEST(Train, SameSeedSameLossesOtherSeedOtherLosses) {
  TrainOptions o = baseOptions("seed_a");
  const auto a = lossesOf(trainModel(o));
  o.outPath = dir() + "/seed_b.pt";
  o.checkpointDir = dir() + "/seed_b.ckpt";
  const auto b = lossesOf(trainModel(o));
  o.seed = 2;
  o.outPath = dir() + "/seed_c.pt";
  o.checkpointDir = dir() + "/seed_c.ckpt";
  const auto c = lossesOf(trainModel(o));
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a, b);  // bit for bit: data order, window starts, dropout
  EXPECT_NE(a, c);
}

TEST(Train, ResumeGivesTheSameLossesAsAnUninterruptedRun) {
  // SGD with momentum and dropout: the resumed run needs the weights, the momentum buffers and
  // the schedule position back.
  TrainOptions o = baseOptions("full");
  o.optimizer = "sgd";
  o.lr = 0.02;
  o.epochs = 3;
  o.valDir = split();
  const TrainResult full = trainModel(o);

  TrainOptions first = o;
  first.outPath = dir() + "/parts.pt";
  first.checkpointDir = dir() + "/parts.ckpt";
  first.stopAfterEpoch = 1;
  const TrainResult part1 = trainModel(first);
  EXPECT_TRUE(part1.savedModel.empty());
  EXPECT_FALSE(fs::exists(first.outPath));
  ASSERT_TRUE(fs::exists(first.checkpointDir + "/state.json"));
  EXPECT_TRUE(fs::exists(first.checkpointDir + "/epoch_0001.pt"));
  EXPECT_TRUE(fs::exists(first.checkpointDir + "/epoch_0001.optim.pt"));

  TrainOptions second = first;
  second.stopAfterEpoch = 0;
  second.resumeDir = first.checkpointDir;
  second.checkpointDir.clear();  // continues in the resume folder
  second.modelPath.clear();
  const TrainResult part2 = trainModel(second);
  EXPECT_EQ(part2.savedModel, first.outPath);
  EXPECT_EQ(lossesOf(part2, 2), lossesOf(full, 2));
  EXPECT_EQ(lossesOf(part2), lossesOf(full));  // the history comes along
  ASSERT_EQ(part2.epochs.size(), 3u);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(part2.epochs[e].valAccuracy, full.epochs[e].valAccuracy);
  EXPECT_EQ(part2.bestEpoch, full.bestEpoch);
  // Old epochs are pruned from the checkpoint.
  EXPECT_FALSE(fs::exists(first.checkpointDir + "/epoch_0001.pt"));
  EXPECT_TRUE(fs::exists(first.checkpointDir + "/epoch_0003.pt"));
}

TEST(Train, TracedModelsTrainToo) {
  TrainOptions o = baseOptions("traced");
  o.modelPath = model("tiny_c3d_traced.pt");
  o.epochs = 1;
  o.optimizer = "sgd";
  o.schedule = "step";
  o.losses = {{"ce", 0.5}};
  o.labelSmoothing = 0.1;
  const TrainResult r = trainModel(o);
  ASSERT_EQ(r.steps.size(), 4u);
  for (const auto& s : r.steps) {
    EXPECT_TRUE(std::isfinite(s.loss));
    EXPECT_DOUBLE_EQ(s.loss, 0.5 * s.terms.at(0));
  }
  EXPECT_EQ(r.termNames, std::vector<std::string>{"ce"});
  EXPECT_TRUE(fs::exists(o.outPath));
}

// A model whose forward() returns {"features", "logits"}: the first tensor is the 5D feature
// map, so training and accuracy need --output logits (as explain does), and say so without it.
TEST(Train, OutputSelectsTheLogitsOfADictModel) {
  TrainOptions o = baseOptions("dict_out");
  o.modelPath = model("tiny_dict_out.pt");
  o.epochs = 1;
  std::string msg;
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Model);
  EXPECT_NE(msg.find("tiny_dict_out.pt: forward() output is 5D (1\xC3\x97" "32\xC3\x97" "4\xC3\x97" "8\xC3\x97" "8)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("choose the logits with --output"), std::string::npos) << msg;
  o.modelOutput = "scores";
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Model);
  EXPECT_NE(msg.find("output 'scores' does not exist: forward()'s output is a dict with keys features, logits"),
            std::string::npos) << msg;
  o.modelOutput = "logits";
  const TrainResult r = trainModel(o);
  ASSERT_EQ(r.steps.size(), 4u);
  for (const auto& st : r.steps) EXPECT_TRUE(std::isfinite(st.loss));
  EvalOptions eo;
  eo.preprocess = smallPreprocess();
  eo.clipLen = 8;
  EXPECT_EQ(errorKindOf([&] { evaluateAccuracy(o.outPath, split(), eo); }), ErrorKind::Model);
  eo.modelOutput = "logits";
  const AccuracyReport acc = evaluateAccuracy(o.outPath, split(), eo);
  EXPECT_EQ(acc.truth.size(), 16u);
}

TEST(Train, SavedModelLoadsInPythonInEvalMode) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  TrainOptions o = baseOptions("python");
  o.epochs = 1;
  trainModel(o);
  const std::string cmd = "/usr/bin/python3 -c \"import torch; m = torch.jit.load('" + o.outPath +
                          "'); assert not m.training, 'saved in train mode'; "
                          "print(tuple(m(torch.zeros(2, 3, 8, 32, 32)).shape))\" 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 512> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  if (out.find("No module named 'torch'") != std::string::npos) GTEST_SKIP() << "python without torch";
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("(2, 8)"), std::string::npos) << out;
}

TEST(Train, BadInputsGiveClearErrors) {
  std::string msg;
  TrainOptions o = baseOptions("bad");
  o.trainDir = dir() + "/no_such_split";
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Input);
  EXPECT_NE(msg.find("no such split folder"), std::string::npos) << msg;

  fs::create_directories(dir() + "/empty_split");
  o.trainDir = dir() + "/empty_split";
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Input);
  EXPECT_NE(msg.find("no index.json"), std::string::npos) << msg;

  o = baseOptions("bad");
  const std::string junk = dir() + "/junk.pt";
  std::ofstream(junk) << "not a model";
  o.modelPath = junk;
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Model);
  EXPECT_NE(msg.find("not a TorchScript model"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  o = baseOptions("bad");
  o.modelPath = model("tiny_c3d_5classes.pt");
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Model);
  EXPECT_NE(msg.find("has 5 outputs but"), std::string::npos) << msg;
  EXPECT_NE(msg.find("8 classes"), std::string::npos) << msg;

  o = baseOptions("bad");
  o.clipLen = 1;  // the model's temporal pooling needs 2 frames
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Model);
  EXPECT_NE(msg.find("does not accept"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  o = baseOptions("bad");
  o.epochs = 0;
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }), ErrorKind::Usage);
  o = baseOptions("bad");
  o.optimizer = "rmsprop";
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }), ErrorKind::Usage);
  o = baseOptions("bad");
  o.losses = {{"teacher", 1.0}};
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }, &msg), ErrorKind::Usage);
  EXPECT_NE(msg.find("unknown loss term"), std::string::npos) << msg;
  o = baseOptions("bad");
  o.outPath = dir() + "/no/such/dir/m.pt";
  EXPECT_EQ(errorKindOf([&] { trainModel(o); }), ErrorKind::Output);

  // Resuming with another optimiser cannot load its state.
  o = baseOptions("resume_src");
  o.epochs = 1;
  trainModel(o);
  TrainOptions r = baseOptions("resume_bad");
  r.resumeDir = o.checkpointDir;
  r.optimizer = "sgd";
  EXPECT_EQ(errorKindOf([&] { trainModel(r); }, &msg), ErrorKind::Usage);
  EXPECT_NE(msg.find("--optimizer adam"), std::string::npos) << msg;
  r.resumeDir = dir() + "/no_checkpoint";
  EXPECT_EQ(errorKindOf([&] { trainModel(r); }), ErrorKind::Input);
  EXPECT_FALSE(fs::exists(r.outPath));

  // Evaluation checks the same things.
  EvalOptions eo;
  eo.preprocess = smallPreprocess();
  eo.clipLen = 8;
  EXPECT_EQ(errorKindOf([&] { evaluateAccuracy(model("tiny_c3d_5classes.pt"), split(), eo); }), ErrorKind::Model);
  EXPECT_EQ(errorKindOf([&] { evaluateAccuracy(junk, split(), eo); }), ErrorKind::Model);
  EXPECT_EQ(errorKindOf([&] { evaluateAccuracy(model("tiny_c3d.pt"), dir() + "/empty_split", eo); }), ErrorKind::Input);
}

// ---- the commands ----

TEST(TrainCli, TrainThenAccuracyEndToEnd) {
  const std::string out = dir() + "/cli_model.pt", json = dir() + "/cli_acc.json";
  const evtest::CliRun t = runCli("train --model " + model("tiny_c3d.pt") + " --data " + split() + " --val " + split() +
                          " --out " + out + " --epochs 2 --batch-size 8 --optimizer adam --lr 0.003 --log " + dir() +
                          "/cli_log.json " + kSmallInput);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(t.out, out + "\n");
  EXPECT_NE(t.err.find("epoch 2/2  train loss"), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("val acc"), std::string::npos) << t.err;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_TRUE(fs::exists(out + ".ckpt/state.json"));

  const evtest::CliRun a = runCli("accuracy --model " + out + " --data " + split() + " --json " + json + " " + kSmallInput);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out.rfind("accuracy ", 0), 0u) << a.out;
  EXPECT_NE(a.out.find("(" ), std::string::npos);
  EXPECT_NE(a.out.find("/16 clips"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("move_left"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("confusion matrix"), std::string::npos) << a.out;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("clips"), 16);
  EXPECT_EQ(j.at("confusion").size(), 8u);
  EXPECT_EQ(j.at("per_class").at(0).at("class_name"), "move_left");
  // The same numbers as the library.
  EvalOptions eo;
  eo.preprocess = smallPreprocess();
  eo.clipLen = 8;
  eo.threads = 1;
  EXPECT_EQ(j.at("correct").get<int>(), evaluateAccuracy(out, split(), eo).correct);
}

TEST(TrainCli, BadInputsGiveOneLineAndTheRightExitCode) {
  auto oneLine = [](const evtest::CliRun& r) {
    return !r.err.empty() && r.err.find('\n') == r.err.size() - 1 && r.err.rfind("explain-video: error: ", 0) == 0;
  };
  evtest::CliRun r = runCli("accuracy --model " + model("tiny_c3d.pt") + " --data " + dir() + "/missing " + kSmallInput);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(oneLine(r)) << r.err;
  r = runCli("accuracy --model " + model("tiny_c3d_5classes.pt") + " --data " + split() + " " + kSmallInput);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(oneLine(r)) << r.err;
  EXPECT_NE(r.err.find("5 outputs"), std::string::npos) << r.err;
  r = runCli("accuracy --data " + split());
  EXPECT_EQ(r.code, 2) << r.err;
  r = runCli("train --model " + model("tiny_c3d.pt") + " --data " + split() + " --out " + dir() +
             "/x.pt --crop 12x12x " + kSmallInput);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(oneLine(r)) << r.err;
  r = runCli("train --model " + dir() + "/nothing.pt --data " + split() + " --out " + dir() + "/x.pt " + kSmallInput);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(oneLine(r)) << r.err;
  EXPECT_FALSE(fs::exists(dir() + "/x.pt"));
  r = runCli("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--warmup-epochs"), std::string::npos);
}
