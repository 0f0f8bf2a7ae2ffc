// `explain-video eval`: every metric against hand-computed values on tiny inputs, then the
// command end to end on two synthetic clips with ground truth.
#include <gtest/gtest.h>

#include "cli_runner.hpp"
#include "test_paths.hpp"
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/cam.hpp"
#include "explain_video/synth.hpp"

namespace fs = std::filesystem;

namespace {

ev::Volume vol(std::vector<int64_t> shape, std::vector<float> data) {
  ev::Volume v(std::move(shape));
  EXPECT_EQ(v.data.size(), data.size());
  v.data = std::move(data);
  return v;
}

// 1×3×1×2×2 input: channel 0 = {1,2,3,4}, channel 1 = {5,6,7,8}, channel 2 = {9,10,11,12}.
ev::Volume toyInput() {
  return vol({1, 3, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

// Toy scorer: the mean of channel 0 over the 4 voxels.
double meanChannel0(const ev::Volume& v) { return (v.data[0] + v.data[1] + v.data[2] + v.data[3]) / 4.0; }

}  // namespace

// ---------------------------------------------------------------- Average Drop, Increase, Win

TEST(EvalMetrics, AverageDropClipsIncreasesAtZero) {
  // drops: (0.8-0.4)/0.8 = 0.5; O > Y counts 0, not negative.
  EXPECT_DOUBLE_EQ(ev::averageDrop({0.8, 0.5}, {0.4, 0.6}), 25.0);
  EXPECT_DOUBLE_EQ(ev::averageDrop({0.5}, {0.9}), 0.0);
  EXPECT_DOUBLE_EQ(ev::averageDrop({0.5, 0.25}, {0.0, 0.0}), 100.0);
  EXPECT_DOUBLE_EQ(ev::averageDrop({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(ev::relativeDrop(0.0, 0.3), 0.0);  // Y underflowed: no drop
  EXPECT_DOUBLE_EQ(ev::relativeConfidence(0.5, 0.25), 0.5);
  EXPECT_DOUBLE_EQ(ev::relativeConfidence(0.0, 0.25), 1.0);
}

TEST(EvalMetrics, IncreaseInConfidenceIsStrict) {
  EXPECT_DOUBLE_EQ(ev::increaseInConfidence({0.8, 0.5}, {0.4, 0.6}), 50.0);
  EXPECT_DOUBLE_EQ(ev::increaseInConfidence({0.5, 0.5, 0.5, 0.5}, {0.5, 0.5, 0.6, 0.1}), 25.0);  // equal is no increase
}

TEST(EvalMetrics, WinPercentTiesCountHalf) {
  const std::vector<double> a{0.1, 0.2, 0.3, 0.0}, b{0.2, 0.2, 0.1, 0.5};
  // a wins windows 0 and 3, ties window 1, loses window 2: (1 + 0.5 + 0 + 1) / 4.
  EXPECT_DOUBLE_EQ(ev::winPercent(a, b), 62.5);
  EXPECT_DOUBLE_EQ(ev::winPercent(b, a), 37.5);
  EXPECT_DOUBLE_EQ(ev::winPercent(a, b) + ev::winPercent(b, a), 100.0);
  // All equal drops: 50/50.
  EXPECT_DOUBLE_EQ(ev::winPercent({0.3, 0.3}, {0.3, 0.3}), 50.0);
  // Float noise is a tie, a real difference is not.
  EXPECT_DOUBLE_EQ(ev::winPercent({0.3 + 1e-9}, {0.3}), 50.0);
  EXPECT_DOUBLE_EQ(ev::winPercent({0.3 + 1e-4}, {0.3}), 0.0);
  EXPECT_DOUBLE_EQ(ev::winPercent({0.3 + 1e-4}, {0.3}, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(ev::winPercent({0.3 + 1e-9}, {0.3}, 0.0), 0.0);
}

// ---------------------------------------------------------------- maps, quantiles, thresholds

TEST(EvalMaps, ExplanationMapNormalisesToMax) {
  // Constant CAM: upsampled constant, divided by its max: all ones.
  ev::Volume cam({1, 2, 2}, 3.f);
  ev::Volume m = ev::explanationMap(cam, 4, 6, 6);
  EXPECT_EQ(m.shape, (std::vector<int64_t>{4, 6, 6}));
  for (float v : m.data) EXPECT_FLOAT_EQ(v, 1.f);
  // All-zero CAM stays zero.
  ev::Volume z = ev::explanationMap(ev::Volume({1, 2, 2}, 0.f), 2, 4, 4);
  for (float v : z.data) EXPECT_EQ(v, 0.f);
  // 1×1×2 CAM {0, 2} → max 1 on the right half.
  ev::Volume h = ev::explanationMap(vol({1, 1, 2}, {0, 2}), 1, 1, 2);
  EXPECT_FLOAT_EQ(h.data[0], 0.f);
  EXPECT_FLOAT_EQ(h.data[1], 1.f);
}

TEST(EvalMaps, QuantileLinearInterpolation) {
  ev::Volume v = vol({5}, {4, 0, 3, 1, 2});
  EXPECT_DOUBLE_EQ(ev::quantile(v, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(ev::quantile(v, 0.5), 2.0);
  EXPECT_NEAR(ev::quantile(v, 0.3), 1.2, 1e-12);  // position 1.2 between 1 and 2
  EXPECT_DOUBLE_EQ(ev::quantile(v, 1.0), 4.0);
}

TEST(EvalMaps, ThresholdKeepsValuesAtOrAboveQuantileWithTies) {
  // Sorted {0,0,1,1,1,2}: the 0.5-quantile is 1 (position 2.5 between two 1s); every 1 is kept.
  ev::Volume m = vol({1, 2, 3}, {1, 0, 2, 1, 0, 1});
  ev::Volume t = ev::thresholdMap(m, 0.5);
  EXPECT_EQ(t.data, (std::vector<float>{1, 0, 2, 1, 0, 1}));
  // 0.9-quantile: position 4.5 → 1.5: only the 2 survives.
  EXPECT_EQ(ev::thresholdMap(m, 0.9).data, (std::vector<float>{0, 0, 2, 0, 0, 0}));
  // θ = 0 keeps everything, θ = 1 only the maximum.
  EXPECT_EQ(ev::thresholdMap(m, 0.0).data, m.data);
  EXPECT_EQ(ev::thresholdMap(m, 1.0).data, (std::vector<float>{0, 0, 2, 0, 0, 0}));
  // A constant map is kept whole at every θ (all values tie with the quantile).
  ev::Volume c({1, 2, 2}, 0.5f);
  for (double th : {0.0, 0.3, 0.7, 1.0}) EXPECT_EQ(ev::thresholdMap(c, th).data, c.data);
}

TEST(EvalMaps, CurveThetasAreEquallySpaced) {
  const auto t = ev::curveThetas(11);
  ASSERT_EQ(t.size(), 11u);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_DOUBLE_EQ(t.back(), 1.0);
  EXPECT_NEAR(t[3], 0.3, 1e-12);
  EXPECT_TRUE(ev::curveThetas(0).empty());
}

// ---------------------------------------------------------------- masking in pixel space

TEST(EvalMask, ArithmeticMatchesPixelSpace) {
  ev::PreprocessParams pre;
  pre.scale = 1.f / 255.f;
  pre.mean = {0.5f, 0.25f, 0.f};
  pre.std = {0.5f, 0.25f, 1.f};
  // Two voxels; pixel values (255, 51, 0) and (102, 204, 153).
  const float px[2][3] = {{255, 51, 0}, {102, 204, 153}};
  ev::Volume in({1, 3, 1, 1, 2});
  for (int v = 0; v < 2; ++v)
    for (int c = 0; c < 3; ++c) in.data[c * 2 + v] = (px[v][c] * pre.scale - pre.mean[c]) / pre.std[c];
  for (float L : {0.f, 0.25f, 0.5f, 1.f}) {
    ev::Volume map({1, 1, 2}, L);
    ev::Volume e = ev::maskInput(in, map, pre);
    for (int v = 0; v < 2; ++v)
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(e.data[c * 2 + v], (L * px[v][c] * pre.scale - pre.mean[c]) / pre.std[c], 1e-5) << L;
  }
  // Hand values for voxel 0 at L = 0.5: (0.5·1 − 0.5)/0.5 = 0, (0.5·0.2 − 0.25)/0.25 = −0.6, 0.
  ev::Volume e = ev::maskInput(in, ev::Volume({1, 1, 2}, 0.5f), pre);
  EXPECT_NEAR(e.data[0], 0.0, 1e-6);
  EXPECT_NEAR(e.data[2], -0.6, 1e-6);
  EXPECT_NEAR(e.data[4], 0.0, 1e-6);
  // L = 1 leaves the input bit-identical; L = 0 is black, −mean/std.
  EXPECT_EQ(ev::maskInput(in, ev::Volume({1, 1, 2}, 1.f), pre).data, in.data);
  ev::Volume black = ev::maskInput(in, ev::Volume({1, 1, 2}, 0.f), pre);
  EXPECT_FLOAT_EQ(black.data[0], -1.f);
  EXPECT_FLOAT_EQ(black.data[2], -1.f);
  EXPECT_FLOAT_EQ(black.data[4], 0.f);
}

TEST(EvalMask, MapOnAndOffTheObject) {
  // Identity preprocessing (mean 0, std 1): masking is plain multiplication. The "model" scores
  // the mean of channel 0 over voxels 0 and 1 (the object).
  ev::PreprocessParams pre;
  pre.mean = {0, 0, 0};
  pre.std = {1, 1, 1};
  const ev::Volume in = toyInput();
  auto score = [](const ev::Volume& v) { return (v.data[0] + v.data[1]) / 2.0; };
  const double Y = score(in);  // 1.5
  const double onObject = score(ev::maskInput(in, vol({1, 2, 2}, {1, 1, 0, 0}), pre));
  const double offObject = score(ev::maskInput(in, vol({1, 2, 2}, {0, 0, 1, 1}), pre));
  const double constant = score(ev::maskInput(in, ev::Volume({1, 2, 2}, 0.5f), pre));
  EXPECT_DOUBLE_EQ(onObject, 1.5);
  EXPECT_DOUBLE_EQ(offObject, 0.0);
  EXPECT_DOUBLE_EQ(constant, 0.75);
  EXPECT_DOUBLE_EQ(ev::averageDrop({Y}, {onObject}), 0.0);
  EXPECT_DOUBLE_EQ(ev::averageDrop({Y}, {offObject}), 100.0);
  EXPECT_DOUBLE_EQ(ev::averageDrop({Y}, {constant}), 50.0);
  // The map on the object beats the one off it; against itself it is a tie.
  const double dOn = ev::relativeDrop(Y, onObject), dOff = ev::relativeDrop(Y, offObject);
  EXPECT_DOUBLE_EQ(ev::winPercent({dOn}, {dOff}), 100.0);
  EXPECT_DOUBLE_EQ(ev::winPercent({dOn}, {dOn}), 50.0);
}

// ---------------------------------------------------------------- deletion / insertion

TEST(EvalDeletion, RankingTiesByIndex) {
  EXPECT_EQ(ev::saliencyOrder(vol({1, 2, 2}, {0.5f, 1.f, 0.5f, 0.f})), (std::vector<int64_t>{1, 0, 2, 3}));
  EXPECT_EQ(ev::saliencyOrder(ev::Volume({1, 1, 3}, 0.2f)), (std::vector<int64_t>{0, 1, 2}));
}

TEST(EvalDeletion, ToyScorerByHand) {
  const ev::Volume in = toyInput();
  // Order: voxel 1 (0.9), then 2 and 3 (tie at 0.5, by index), then 0.
  const ev::Volume map = vol({1, 2, 2}, {0.1f, 0.9f, 0.5f, 0.5f});
  const ev::Volume zero = ev::meanColourBaseline(in);
  // Channel 0 is {1,2,3,4}: 2.5, minus 2, minus 3, minus 4, minus 1, over 4 voxels.
  auto d = ev::deletionCurve(in, map, 4, zero, meanChannel0);
  EXPECT_EQ(d, (std::vector<double>{2.5, 2.0, 1.25, 0.25, 0.0}));
  EXPECT_DOUBLE_EQ(ev::auc(d), 0.25 * ((2.5 + 2) / 2 + (2 + 1.25) / 2 + (1.25 + 0.25) / 2 + 0.25 / 2));  // 1.1875
  // 2 steps of 2 voxels.
  EXPECT_EQ(ev::deletionCurve(in, map, 2, zero, meanChannel0), (std::vector<double>{2.5, 1.25, 0.0}));
  // 3 steps over 4 voxels: boundaries ⌊4k/3⌋ = 1, 2, 4.
  EXPECT_EQ(ev::deletionCurve(in, map, 3, zero, meanChannel0), (std::vector<double>{2.5, 2.0, 1.25, 0.0}));
  // Insertion from a baseline of 10 in channel 0: 10, then put back 2, 3, 4, 1.
  ev::Volume base(in.shape, 10.f);
  auto ins = ev::insertionCurve(in, map, 4, base, meanChannel0);
  EXPECT_EQ(ins, (std::vector<double>{10.0, 8.0, 6.25, 4.75, 2.5}));
}

TEST(EvalDeletion, AllThreeChannelsOfAVoxelTogether) {
  const ev::Volume in = toyInput();
  const ev::Volume map = vol({1, 2, 2}, {0.1f, 0.9f, 0.5f, 0.5f});
  std::vector<ev::Volume> seen;
  auto record = [&](const ev::Volume& v) {
    seen.push_back(v);
    return 0.0;
  };
  ev::deletionCurve(in, map, 4, ev::meanColourBaseline(in), record);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].data, in.data);
  EXPECT_EQ(seen[1].data, (std::vector<float>{1, 0, 3, 4, 5, 0, 7, 8, 9, 0, 11, 12}));
  EXPECT_EQ(seen[2].data, (std::vector<float>{1, 0, 0, 4, 5, 0, 0, 8, 9, 0, 0, 12}));
  for (float v : seen[4].data) EXPECT_EQ(v, 0.f);
  // Insertion ends on the original input.
  seen.clear();
  ev::insertionCurve(in, map, 4, ev::Volume(in.shape, -1.f), record);
  EXPECT_EQ(seen.back().data, in.data);
  EXPECT_EQ(seen[1].data, (std::vector<float>{-1, 2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1}));
}

TEST(EvalDeletion, ConstantMapDeletesInIndexOrder) {
  const ev::Volume in = toyInput();
  auto d = ev::deletionCurve(in, ev::Volume({1, 2, 2}, 1.f), 4, ev::meanColourBaseline(in), meanChannel0);
  EXPECT_EQ(d, (std::vector<double>{2.5, 2.25, 1.75, 1.0, 0.0}));
}

TEST(EvalDeletion, AucTrapezoid) {
  EXPECT_DOUBLE_EQ(ev::auc({0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(ev::auc({1, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(ev::auc({0, 1, 0}), 0.5);
  EXPECT_DOUBLE_EQ(ev::auc({1, 0.5, 0.5, 0}), (0.75 + 0.5 + 0.25) / 3);
  EXPECT_DOUBLE_EQ(ev::auc({0.7}), 0.0);
}

TEST(EvalDeletion, BlurBaseline) {
  EXPECT_EQ(ev::defaultBlurKernel(112, 112), 29);
  EXPECT_EQ(ev::defaultBlurKernel(56, 64), 15);
  // An impulse of 9 under a 3×3 box blur spreads to 1 in its neighbourhood; constants stay.
  ev::Volume in({1, 3, 1, 5, 5}, 0.f);
  in.data[12] = 9.f;                                               // channel 0, centre
  for (size_t i = 25; i < 50; ++i) in.data[i] = 2.f;               // channel 1 constant
  ev::Volume b = ev::blurBaseline(in, 3);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) {
      const bool near = std::abs(y - 2) <= 1 && std::abs(x - 2) <= 1;
      EXPECT_NEAR(b.data[y * 5 + x], near ? 1.f : 0.f, 1e-6);
      EXPECT_NEAR(b.data[25 + y * 5 + x], 2.f, 1e-6);
    }
}

// ---------------------------------------------------------------- aggregation

TEST(EvalAggregate, MethodsSideBySide) {
  ev::EvalResult r;
  r.params.delSteps = 2;
  r.thetas = {0, 1};
  for (const char* name : {"gradcam++", "gradcam"}) {
    ev::MethodEval m;
    m.method = name;
    r.methods.push_back(m);
  }
  auto w = [](double Y, double O, std::vector<double> th, std::vector<double> del) {
    ev::WindowEval x;
    x.Y = Y, x.O = O, x.drop = ev::relativeDrop(Y, O), x.thresholdConf = th, x.deletion = del, x.insertion = del;
    x.deletionAuc = x.insertionAuc = ev::auc(del);
    return x;
  };
  r.methods[0].windows = {w(0.8, 0.6, {1, 0.5}, {0.8, 0.4, 0.0}), w(0.5, 0.6, {1, 1}, {0.5, 0.5, 0.5})};
  r.methods[1].windows = {w(0.8, 0.2, {1, 0.25}, {0.8, 0.2, 0.0}), w(0.5, 0.6, {1, 0}, {0.5, 0.1, 0.1})};
  ev::ClipEval c;
  c.clip = "a.mp4", c.truthClass = 1;
  ev::ClipLocalization l;
  l.valid = true, l.actionFrames = 4, l.pointingHits = 3, l.heatInBoxSum = 2.0, l.iouSum = 1.0, l.heatInRange = 0.8,
  l.partial = true;
  c.localization["gradcam++"] = l;
  l.pointingHits = 1, l.partial = true, l.heatInRange = 0.4;
  c.localization["gradcam"] = l;
  r.clips = {c};
  ev::aggregateEval(r);
  const auto& a = r.methods[0];
  const auto& b = r.methods[1];
  EXPECT_DOUBLE_EQ(a.averageDrop, 100.0 * (0.25 + 0) / 2);
  EXPECT_DOUBLE_EQ(b.averageDrop, 100.0 * (0.75 + 0) / 2);
  EXPECT_DOUBLE_EQ(a.increaseInConfidence, 50.0);
  EXPECT_DOUBLE_EQ(a.win.at("gradcam"), 75.0);  // wins window 0, ties window 1
  EXPECT_DOUBLE_EQ(b.win.at("gradcam++"), 25.0);
  EXPECT_EQ(a.thresholdCurve, (std::vector<double>{1, 0.75}));
  EXPECT_EQ(a.thresholdCurveMedian, (std::vector<double>{1, 0.75}));  // two windows: the middle pair's mean
  EXPECT_EQ(a.deletionCurve, (std::vector<double>{0.65, 0.45, 0.25}));
  EXPECT_DOUBLE_EQ(a.pointing, 75.0);
  EXPECT_DOUBLE_EQ(a.heatInBox, 50.0);
  EXPECT_DOUBLE_EQ(a.iou, 0.25);
  EXPECT_DOUBLE_EQ(a.heatInRangePartial, 80.0);
  EXPECT_DOUBLE_EQ(b.pointing, 25.0);
  const std::string table = ev::formatEvalTable(r);
  EXPECT_NE(table.find("Avg Drop %"), std::string::npos);
  EXPECT_NE(table.find("Win % vs gradcam"), std::string::npos);
  EXPECT_NE(table.find("Pointing %"), std::string::npos);
}

TEST(EvalClips, FoldersAndMissingPaths) {
  const std::string d = ::testing::TempDir() + "/ev_eval_list_" + std::to_string(::getpid());
  fs::remove_all(d);
  fs::create_directories(d + "/plain");
  std::ofstream(d + "/plain/b.mp4") << "x";
  std::ofstream(d + "/plain/a.mkv") << "x";
  std::ofstream(d + "/plain/notes.txt") << "x";
  EXPECT_EQ(ev::listEvalClips({d + "/plain"}), (std::vector<std::string>{d + "/plain/a.mkv", d + "/plain/b.mp4"}));
  try {
    ev::listEvalClips({d + "/nope.mp4"});
    FAIL() << "no error";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Input);
  }
  fs::create_directories(d + "/empty");
  EXPECT_THROW(ev::listEvalClips({d + "/empty"}), ev::Error);
  fs::remove_all(d);
}

// ---------------------------------------------------------------- the command end to end

namespace {



evtest::CliRun runCli(const std::string& args, const std::string& dir) {
  return evtest::runCli(args, dir + "/stderr.txt");
}

// Two 16-frame clips whose actor is red (the red detector's evidence) and no distractor is; the
// second one's action is partial.
std::string makeClips() {
  static const std::string dir = [] {
    const std::string d = ::testing::TempDir() + "/ev_eval_e2e_" + std::to_string(::getpid());
    fs::remove_all(d);
    fs::create_directories(d + "/clips");
    ev::SynthParams sp;
    sp.frames = 16;
    int made = 0;
    for (uint64_t seed = 1; made < 2 && seed < 500; ++seed) {
      ev::SynthClip c = ev::renderSynthClip(made == 0 ? 0 : 4, seed, sp);
      bool ok = c.truth.colour == "red" && (made == 0 || c.truth.partial);
      for (const auto& dd : c.truth.distractors) ok = ok && dd.colour != "red";
      if (!ok) continue;
      const std::string stem = d + "/clips/clip_" + std::to_string(made);
      ev::writeSynthClip(c, stem + ".mp4", stem + ".json");
      ++made;
    }
    EXPECT_EQ(made, 2);
    return d;
  }();
  return dir;
}

const std::string kSmall = " --class 0 --clip-len 8 --stride 8 --resize 60x80 --crop 56x56 --threads 1 ";

}  // namespace

TEST(EvalCli, TwoClipsEndToEnd) {
  const std::string d = makeClips();
  const std::string model = std::string(evtest::testModelsDir()) + "/red_detector.pt";
  const evtest::CliRun r = runCli("eval " + d + "/clips --model " + model + kSmall + " --json " + d + "/eval.json --csv-dir " + d +
                              "/csv --plots " + d + "/plots",
                          d);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Avg Drop %"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gradcam++"), std::string::npos);
  EXPECT_NE(r.out.find("Pointing %"), std::string::npos);

  std::ifstream f(d + "/eval.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j.at("n_clips").get<int>(), 2);
  EXPECT_EQ(j.at("n_windows").get<int>(), 4);  // 16 frames, clip-len 8, stride 8: 2 windows per clip
  EXPECT_EQ(j.at("thetas").size(), 11u);
  EXPECT_EQ(j.at("fractions").size(), 17u);
  const auto& s = j.at("summary");
  ASSERT_TRUE(s.contains("gradcam++") && s.contains("gradcam"));
  for (const char* m : {"gradcam++", "gradcam"}) {
    const auto& x = s.at(m);
    for (const char* k : {"average_drop", "increase_in_confidence"}) {
      EXPECT_GE(x.at(k).get<double>(), 0.0) << m << k;
      EXPECT_LE(x.at(k).get<double>(), 100.0) << m << k;
    }
    for (const char* k : {"deletion_auc", "insertion_auc"}) {
      EXPECT_GE(x.at(k).get<double>(), 0.0) << m << k;
      EXPECT_LE(x.at(k).get<double>(), 1.0) << m << k;
    }
    EXPECT_EQ(x.at("threshold_curve").size(), 11u);
    EXPECT_EQ(x.at("deletion_curve").size(), 17u);
    const auto& loc = x.at("localization");
    EXPECT_EQ(loc.at("clips").get<int>(), 2);
    EXPECT_EQ(loc.at("partial_clips").get<int>(), 1);
    for (const char* k : {"pointing", "heat_in_box", "heat_in_action_range_all", "heat_in_action_range_partial"}) {
      EXPECT_GE(loc.at(k).get<double>(), 0.0) << m << k;
      EXPECT_LE(loc.at(k).get<double>(), 100.0) << m << k;
    }
    EXPECT_GE(loc.at("iou").get<double>(), 0.0);
    EXPECT_LE(loc.at("iou").get<double>(), 1.0);
    // The red detector's evidence is the red actor: its CAM must point at it.
    EXPECT_GE(loc.at("pointing").get<double>(), 80.0) << m;
  }
  EXPECT_DOUBLE_EQ(s.at("gradcam++").at("win").at("gradcam").get<double>() +
                       s.at("gradcam").at("win").at("gradcam++").get<double>(),
                   100.0);
  // The red detector's target layer has one channel: both methods give the same map up to
  // rounding, so every window is a tie.
  EXPECT_DOUBLE_EQ(s.at("gradcam++").at("win").at("gradcam").get<double>(), 50.0);
  EXPECT_EQ(j.at("windows").size(), 8u);  // 4 windows × 2 methods
  for (const auto& w : j.at("windows")) {
    EXPECT_EQ(w.at("class").get<int>(), 0);
    EXPECT_GT(w.at("Y").get<double>(), 0.0);
    EXPECT_LE(w.at("Y").get<double>(), 1.0);
    // Deletion starts and insertion ends on the unmasked input: exactly Y.
    EXPECT_DOUBLE_EQ(w.at("deletion").front().get<double>(), w.at("Y").get<double>());
    EXPECT_DOUBLE_EQ(w.at("insertion").back().get<double>(), w.at("Y").get<double>());
  }
  for (const char* name : {"windows.csv", "clips.csv", "summary.csv", "threshold_curve.csv", "deletion.csv", "insertion.csv"})
    EXPECT_TRUE(fs::is_regular_file(d + "/csv/" + name)) << name;
  for (const char* name : {"threshold_curve.png", "deletion.png", "insertion.png"}) {
    const cv::Mat img = cv::imread(d + "/plots/" + name);
    EXPECT_FALSE(img.empty()) << name;
  }
}

TEST(EvalCli, ErrorsAreOneLineWithTheRightCode) {
  const std::string d = makeClips();
  const std::string model = std::string(evtest::testModelsDir()) + "/red_detector.pt";
  evtest::CliRun r = runCli("eval " + d + "/missing.mp4 --model " + model + kSmall + "-q", d);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("missing.mp4"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = runCli("eval " + d + "/clips --model " + model + kSmall + "--methods gradcam,nope -q", d);
  EXPECT_EQ(r.code, 2) << r.err;
  r = runCli("eval " + d + "/clips --model " + model + kSmall + "--curve-steps 1 -q", d);
  EXPECT_EQ(r.code, 2) << r.err;
  r = runCli("eval " + d + "/clips --model " + model + kSmall + "--class-source truth -q", d);
  EXPECT_EQ(r.code, 2) << r.err;  // with --class
  r = runCli("eval " + d + "/clips --model " + model + kSmall + "--json " + d + "/no/such/dir/e.json -q", d);
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_FALSE(fs::exists(d + "/no"));
}

// One window whose class is absent (Y tiny) has an O/Y in the thousands: it swamps the mean
// threshold curve, not the median.
TEST(EvalAggregate, ThresholdCurveMedianIgnoresATinyYOutlier) {
  ev::EvalResult r;
  r.thetas = {0, 0.5};
  ev::MethodEval m;
  m.method = "gradcam++";
  for (const auto& th : std::vector<std::vector<double>>{{1.0, 0.9}, {1.2, 0.8}, {5000, 3000}}) {
    ev::WindowEval x;
    x.Y = 0.5, x.O = 0.5, x.thresholdConf = th;
    m.windows.push_back(x);
  }
  r.methods = {m};
  ev::aggregateEval(r);
  EXPECT_EQ(r.methods[0].thresholdCurveMedian, (std::vector<double>{1.2, 0.9}));
  EXPECT_NEAR(r.methods[0].thresholdCurve[0], (1 + 1.2 + 5000) / 3, 1e-9);
  // A fourth window: the median of an even count is the mean of the middle two.
  ev::WindowEval x;
  x.Y = 0.5, x.O = 0.5, x.thresholdConf = {1.1, 0.7};
  r.methods[0].windows.push_back(x);
  ev::aggregateEval(r);
  EXPECT_DOUBLE_EQ(r.methods[0].thresholdCurveMedian[0], (1.1 + 1.2) / 2);
  EXPECT_DOUBLE_EQ(r.methods[0].thresholdCurveMedian[1], (0.8 + 0.9) / 2);
}

// Every registered method in one eval run (one capture per window for all of them): each gets
// its metrics and a Win % against every other, and the two default methods score exactly as
// in a run of just those two.
TEST(EvalCli, EveryRegisteredMethodInOneRun) {
  const std::string d = makeClips();
  const std::string model = std::string(evtest::testModelsDir()) + "/red_detector.pt";
  const std::string flags = kSmall + " --curve-steps 3 --del-steps 2 -q --json ";
  evtest::CliRun r = runCli("eval " + d + "/clips --model " + model + flags + d + "/all.json --methods all", d);
  ASSERT_EQ(r.code, 0) << r.err;
  r = runCli("eval " + d + "/clips --model " + model + flags + d + "/two.json", d);
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream fa(d + "/all.json"), ft(d + "/two.json");
  const nlohmann::json all = nlohmann::json::parse(fa), two = nlohmann::json::parse(ft);
  const auto& s = all.at("summary");
  const std::vector<std::string> methods = ev::parseCamMethods("all");
  for (const std::string& m : methods) {
    ASSERT_TRUE(s.contains(m)) << m;
    for (const std::string& other : methods)
      if (other != m) EXPECT_TRUE(s.at(m).at("win").contains(other)) << m << " vs " << other;
    EXPECT_GE(s.at(m).at("localization").at("pointing").get<double>(), 80.0) << m;
  }
  for (const char* m : {"gradcam++", "gradcam"})
    for (const char* k : {"average_drop", "increase_in_confidence", "deletion_auc", "insertion_auc"})
      EXPECT_DOUBLE_EQ(s.at(m).at(k).get<double>(), two.at("summary").at(m).at(k).get<double>()) << m << " " << k;
}

// The perturbation methods run in eval: each gets its metrics and pointing, and every one of
// their model passes is counted (JSON forward_passes, and the progress line says so): the run
// with them makes exactly their passes per window more than the run without them.
TEST(EvalCli, PerturbationMethodsAndTheirPassesCounted) {
  const std::string d = makeClips();
  const std::string model = std::string(evtest::testModelsDir()) + "/red_detector.pt";
  // No curves: their passes depend on the maps (a θ that leaves the map unchanged is not re-scored).
  const std::string flags = kSmall + " --curve-steps 0 --del-steps 0 --smooth-samples 3 --json ";
  const std::vector<std::string> pert = {"scorecam", "ablationcam", "smoothgradcam++"};
  evtest::CliRun r = runCli("eval " + d + "/clips --model " + model + flags + d + "/pert.json --methods gradcam++,scorecam,ablationcam,smoothgradcam++", d);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("eval passes"), std::string::npos) << r.err;
  {
    // The count never goes back (the model pass's and the scoring's passes interleave).
    long long last = -1;
    for (size_t at = r.err.find("eval passes"); at != std::string::npos; at = r.err.find("eval passes", at + 1)) {
      const long long n = std::atoll(r.err.c_str() + at + std::string("eval passes").size());
      EXPECT_GE(n, last) << r.err;
      last = n;
    }
  }
  const evtest::CliRun base = runCli("eval " + d + "/clips --model " + model + flags + d + "/base.json --methods gradcam++ -q", d);
  ASSERT_EQ(base.code, 0) << base.err;
  std::ifstream fp(d + "/pert.json"), fb(d + "/base.json");
  const nlohmann::json jp = nlohmann::json::parse(fp), jb = nlohmann::json::parse(fb);
  for (const std::string& m : pert) {
    ASSERT_TRUE(jp.at("summary").contains(m)) << m;
    EXPECT_TRUE(jp.at("summary").at(m).at("win").contains("gradcam++")) << m;
    EXPECT_GE(jp.at("summary").at(m).at("localization").at("pointing").get<double>(), 80.0) << m;
  }
  ev::ExplainerParams ep;
  ep.model = model;
  ev::Explainer explainer(ep);
  const int64_t channels = explainer.layerChannels();
  // The red detector's 2 classes are both candidates unless --class fixes them.
  EXPECT_EQ(explainer.candidatesPerWindow(""), 2);
  EXPECT_EQ(explainer.candidatesPerWindow("1"), 1);
  EXPECT_EQ(explainer.candidatesPerWindow("1,0"), 2);
  ev::PerturbationParams pp;
  pp.smoothSamples = 3;
  const int64_t windows = jp.at("n_windows").get<int64_t>();
  const int64_t metricPasses = 1;  // O: the score on the input masked by the map
  int64_t extra = 0;
  for (const std::string& m : pert) extra += metricPasses + ev::methodPassesPerWindow(ev::camMethod(m), channels, 1, pp);
  EXPECT_EQ(jp.at("forward_passes").get<int64_t>() - jb.at("forward_passes").get<int64_t>(), windows * extra)
      << "channels " << channels;
}

// Several instances end to end, with the red detector (its evidence is red, wherever it is):
// two red actors are both found and share the heat; with one red and one of another colour,
// recall halves and the Gini approaches its maximum for two, 0.5. The check can fail.
TEST(EvalCli, SeveralInstancesRecallAndGini) {
  const std::string d = ::testing::TempDir() + "/ev_eval_instances_" + std::to_string(::getpid());
  fs::remove_all(d);
  ev::SynthParams sp;
  sp.frames = 16;
  sp.instancesMin = sp.instancesMax = 2;
  sp.partialShare = 0;
  auto noRedDistractor = [](const ev::ClipTruth& t) {
    for (const auto& dd : t.distractors)
      if (dd.colour == "red") return false;
    return true;
  };
  auto make = [&](const std::string& dir, bool bothRed) {
    fs::create_directories(dir);
    for (uint64_t seed = 1; seed < 5000; ++seed) {
      const ev::SynthClip c = ev::renderSynthClip(static_cast<int>(seed % 8), seed, sp);
      const auto& in = c.truth.instances;
      if (in.size() != 2 || !noRedDistractor(c.truth) || in[0].colour != "red" || (in[1].colour == "red") != bothRed) continue;
      ev::writeSynthClip(c, dir + "/clip.mp4", dir + "/clip.json");
      return;
    }
    ADD_FAILURE() << "no such clip in 5000 seeds";
  };
  make(d + "/both", true);
  make(d + "/one", false);
  const std::string model = std::string(evtest::testModelsDir()) + "/red_detector.pt";
  auto summary = [&](const std::string& which) {
    const evtest::CliRun r = runCli("eval " + d + "/" + which + " --model " + model + kSmall + " --methods gradcam,gradcam++ " +
                                        "--curve-steps 0 --del-steps 0 -q --json " + d + "/" + which + ".json",
                                    d);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Instance recall %"), std::string::npos) << r.out;
    std::ifstream in(d + "/" + which + ".json");
    return nlohmann::json::parse(in);
  };
  const nlohmann::json both = summary("both"), one = summary("one");
  for (const char* m : {"gradcam", "gradcam++"}) {
    SCOPED_TRACE(m);
    const auto& b = both["summary"][m]["localization"]["instances"];
    const auto& o = one["summary"][m]["localization"]["instances"];
    EXPECT_EQ(b["clips"], 1);
    EXPECT_EQ(b["pairs"], 32);  // 16 frames x 2 acting instances
    // Measured: 100 % and 0.027 (both red), 50 % and 0.5 (one red), for both methods.
    EXPECT_GE(b["recall"].get<double>(), 90.0);
    EXPECT_LE(o["recall"].get<double>(), 55.0);
    EXPECT_LE(b["gini"].get<double>(), 0.15);
    EXPECT_GE(o["gini"].get<double>(), 0.45);
    const auto& shares = o["share_by_rank"];
    ASSERT_EQ(shares.size(), 2u);
    EXPECT_GE(shares[0].get<double>(), 90.0);  // the red one takes the heat
    EXPECT_NEAR(shares[0].get<double>() + shares[1].get<double>(), 100.0, 1e-6);
    EXPECT_EQ(one["clips"][0]["localization"][m]["instances"]["count"], 2);
  }
  fs::remove_all(d);
}
