// The synthetic action benchmark: reproducibility (frames and file bytes), ground truth that
// matches the pixels, the motion that defines each class, splits, the JSON round trip, errors.
#include <gtest/gtest.h>

#include "scratch_dir.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "explain_video/error.hpp"
#include "explain_video/synth.hpp"
#include "explain_video/video.hpp"

namespace fs = std::filesystem;
using namespace ev;

namespace {

// Temporary folders named after this test file.
class ScratchDir : public evtest::ScratchDir {
 public:
  ScratchDir() : evtest::ScratchDir("ev_synth_") {}
};

std::string bytesOf(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

double cx(const Box& b) { return b.x + b.w / 2.0; }
double cy(const Box& b) { return b.y + b.h / 2.0; }
Box unshift(const Box& b, const std::pair<int, int>& cam) { return Box{b.x - cam.first, b.y - cam.second, b.w, b.h}; }

SynthParams clean() {  // no noise, no camera shake: exact pixels and boxes
  SynthParams p;
  p.noise = 0;
  p.jitter = 0;
  return p;
}

template <class F>
ErrorKind kindOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no ev::Error thrown";
  return ErrorKind::Internal;
}

std::string messageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

constexpr int kSeedsPerClass = 6;

}  // namespace

TEST(SynthClasses, NamesAndOrder) {
  const std::vector<std::string> want = {"move_left", "move_right", "move_up", "move_down",
                                         "grow",      "shrink",     "rotate",  "bounce"};
  EXPECT_EQ(synthClassNames(), want);
}

TEST(SynthRender, FramesHaveTheRequestedShape) {
  SynthParams p;
  p.width = 200, p.height = 96, p.frames = 17, p.fpsNum = 10;
  const SynthClip c = renderSynthClip(3, 5, p);
  ASSERT_EQ(c.frames.size(), 17u);
  for (size_t i = 0; i < c.frames.size(); ++i) {
    EXPECT_EQ(c.frames[i].width, 200);
    EXPECT_EQ(c.frames[i].height, 96);
    EXPECT_EQ(c.frames[i].rgb.size(), 200u * 96u * 3u);
    EXPECT_EQ(c.frames[i].index, static_cast<int64_t>(i));
    EXPECT_DOUBLE_EQ(c.frames[i].time, i / 10.0);
  }
  EXPECT_EQ(c.truth.actorBoxes.size(), 17u);
  EXPECT_EQ(c.truth.actorMasks.size(), 17u);
  EXPECT_EQ(c.truth.camera.size(), 17u);
  EXPECT_EQ(c.truth.classId, 3);
  EXPECT_EQ(c.truth.className, "move_down");
  EXPECT_EQ(c.truth.seed, 5u);
}

TEST(SynthRender, SameSeedSameClipDifferentSeedDifferentClip) {
  for (int cls = 0; cls < 8; ++cls) {
    const SynthClip a = renderSynthClip(cls, 1234, {});
    const SynthClip b = renderSynthClip(cls, 1234, {});
    const SynthClip c = renderSynthClip(cls, 1235, {});
    ASSERT_EQ(a.frames.size(), b.frames.size());
    for (size_t i = 0; i < a.frames.size(); ++i) EXPECT_EQ(a.frames[i].rgb, b.frames[i].rgb) << "class " << cls << " frame " << i;
    EXPECT_EQ(a.truth.actorBoxes, b.truth.actorBoxes);
    EXPECT_EQ(a.truth.actorMasks, b.truth.actorMasks);
    EXPECT_EQ(a.truth.camera, b.truth.camera);
    EXPECT_NE(a.frames[0].rgb, c.frames[0].rgb) << "class " << cls;
    EXPECT_NE(a.truth.actorBoxes, c.truth.actorBoxes) << "class " << cls;
  }
}

TEST(SynthRender, NoiseAndShakeDoNotChangeTheScene) {
  // Separate random streams: the layout does not depend on the noise or the camera.
  const SynthClip noisy = renderSynthClip(1, 77, {});
  const SynthClip quiet = renderSynthClip(1, 77, clean());
  EXPECT_EQ(noisy.truth.shape, quiet.truth.shape);
  EXPECT_EQ(noisy.truth.actionStart, quiet.truth.actionStart);
  for (size_t t = 0; t < noisy.truth.actorBoxes.size(); ++t)
    EXPECT_EQ(unshift(noisy.truth.actorBoxes[t], noisy.truth.camera[t]), quiet.truth.actorBoxes[t]) << t;
  // With noise the frames differ from the clean ones, by about the requested amount.
  double sum = 0, sum2 = 0;
  size_t n = 0;
  SynthParams shakeOnly = clean();
  shakeOnly.jitter = 1;
  const SynthClip unnoisy = renderSynthClip(1, 77, shakeOnly);
  for (size_t t = 0; t < noisy.frames.size(); ++t)
    for (size_t i = 0; i < noisy.frames[t].rgb.size(); ++i) {
      const double d = noisy.frames[t].rgb[i] - unnoisy.frames[t].rgb[i];
      sum += d, sum2 += d * d, ++n;
    }
  EXPECT_NEAR(sum / n, 0.0, 0.3);
  EXPECT_NEAR(std::sqrt(sum2 / n), 6.0, 1.0);
}

TEST(SynthRender, MaskAndBoxMatchThePixels) {
  for (int cls = 0; cls < 8; ++cls)
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      const SynthClip c = renderSynthClip(cls, seed * 1000 + cls, clean());
      const ClipTruth& t = c.truth;
      const int W = t.params.width, H = t.params.height;
      for (int f : {0, t.params.frames / 2, t.params.frames - 1}) {
        SCOPED_TRACE("class " + std::to_string(cls) + " seed " + std::to_string(seed) + " frame " + std::to_string(f));
        const Box& b = t.actorBoxes[f];
        const auto& m = t.actorMasks[f];
        const auto& rgb = c.frames[f].rgb;
        ASSERT_FALSE(b.empty());
        ASSERT_GE(b.x, 0);
        ASSERT_GE(b.y, 0);
        ASSERT_LE(b.x + b.w, W);
        ASSERT_LE(b.y + b.h, H);
        EXPECT_GE(std::min(b.w, b.h), 6) << "actor too small to see";
        bool top = false, bottom = false, left = false, right = false;
        size_t inside = 0;
        for (int y = 0; y < H; ++y)
          for (int x = 0; x < W; ++x) {
            const size_t i = static_cast<size_t>(y) * W + x;
            if (!m[i]) continue;
            ++inside;
            ASSERT_TRUE(x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h) << "mask pixel outside the box";
            ASSERT_EQ(rgb[3 * i], t.rgb[0]);
            ASSERT_EQ(rgb[3 * i + 1], t.rgb[1]);
            ASSERT_EQ(rgb[3 * i + 2], t.rgb[2]);
            top |= y == b.y, bottom |= y == b.y + b.h - 1, left |= x == b.x, right |= x == b.x + b.w - 1;
          }
        EXPECT_TRUE(top && bottom && left && right) << "box not tight";
        EXPECT_GE(inside, static_cast<size_t>(b.w * b.h) / 4);
        // Distractors never cover the actor's box.
        for (const auto& d : t.distractors) {
          const Box& o = d.boxes[f];
          const bool overlap = o.x < b.x + b.w && b.x < o.x + o.w && o.y < b.y + b.h && b.y < o.y + o.h;
          EXPECT_FALSE(overlap) << d.kind << " distractor overlaps the actor";
        }
      }
    }
}

TEST(SynthRender, ShapesAndColoursAreSharedByAllClasses) {
  std::map<int, std::set<std::string>> shapes, colours;
  for (int cls = 0; cls < 8; ++cls)
    for (uint64_t seed = 0; seed < 60; ++seed) {
      SynthParams p = clean();
      p.frames = 8;
      const SynthClip c = renderSynthClip(cls, seed, p);
      shapes[cls].insert(c.truth.shape);
      colours[cls].insert(c.truth.colour);
    }
  for (int cls = 0; cls < 8; ++cls) {
    EXPECT_EQ(shapes[cls], (std::set<std::string>{"square", "triangle", "cross", "pacman"})) << cls;
    EXPECT_EQ(colours[cls].size(), 6u) << cls;
  }
}

// The motion that defines each class, on whole and partial clips, with and without camera shake.
class SynthSemantics : public ::testing::TestWithParam<int> {};

TEST_P(SynthSemantics, ActorMovesAsItsClassSays) {
  const int cls = GetParam();
  for (int variant = 0; variant < 2 * kSeedsPerClass; ++variant) {
    SynthParams p = clean();
    p.partialShare = variant % 2;  // alternate whole and partial actions
    p.frames = 16 + 4 * (variant % 5);
    const uint64_t seed = 9000 + 37 * variant + cls;
    const SynthClip c = renderSynthClip(cls, seed, p);
    const ClipTruth& t = c.truth;
    SCOPED_TRACE(t.className + " seed " + std::to_string(seed) + " action [" + std::to_string(t.actionStart) + "," +
                 std::to_string(t.actionEnd) + ") of " + std::to_string(p.frames));
    const int s = t.actionStart, e = t.actionEnd, L = e - s;
    if (variant % 2) {
      EXPECT_TRUE(t.partial);
      EXPECT_GE(L, 8);
      EXPECT_LT(L, p.frames);
    } else {
      EXPECT_FALSE(t.partial);
      EXPECT_EQ(s, 0);
      EXPECT_EQ(e, p.frames);
    }
    const auto& B = t.actorBoxes;
    // Still before and after the action.
    for (int i = 1; i < s; ++i) EXPECT_EQ(B[i], B[0]) << "frame " << i;
    for (int i = e; i < p.frames; ++i) EXPECT_EQ(B[i], B[e - 1]) << "frame " << i;
    // Moving during the action (moves go at least 1 px per frame, rotations at least 8 degrees):
    // every action frame differs from the one before it.
    if (cls <= 3 || cls == 6)
      for (int i = std::max(1, s); i < e; ++i) {
        const bool changed = B[i] != B[i - 1] || t.actorMasks[i] != t.actorMasks[i - 1];
        EXPECT_TRUE(changed) << "frame " << i << " equals frame " << i - 1;
      }
    const Box& a = B[std::max(0, s - 1)];  // the pose before the first step
    const Box& z = B[e - 1];
    switch (cls) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const bool horizontal = cls < 2, positive = cls == 1 || cls == 3;
        for (int i = std::max(1, s); i < e; ++i) {
          const double d = horizontal ? cx(B[i]) - cx(B[i - 1]) : cy(B[i]) - cy(B[i - 1]);
          if (positive) EXPECT_GT(d, 0) << "frame " << i; else EXPECT_LT(d, 0) << "frame " << i;
          const double across = horizontal ? cy(B[i]) - cy(B[i - 1]) : cx(B[i]) - cx(B[i - 1]);
          EXPECT_LE(std::abs(across), 1.0) << "frame " << i;  // rasterisation only
          EXPECT_LE(std::abs(B[i].w - B[i - 1].w), 1);
          EXPECT_LE(std::abs(B[i].h - B[i - 1].h), 1);
        }
        const double total = horizontal ? cx(z) - cx(a) : cy(z) - cy(a);
        EXPECT_GE(std::abs(total), 9.0);
        break;
      }
      case 4:
      case 5: {
        const bool grow = cls == 4;
        for (int i = std::max(1, s); i < e; ++i) {
          // Sizes change by a fraction of a pixel per frame on long actions: monotonic, not strict.
          const int d = B[i].w * B[i].h - B[i - 1].w * B[i - 1].h;
          if (grow) EXPECT_GE(d, 0) << "frame " << i; else EXPECT_LE(d, 0) << "frame " << i;
          EXPECT_LE(std::abs(cx(B[i]) - cx(B[i - 1])), 1.5);
          EXPECT_LE(std::abs(cy(B[i]) - cy(B[i - 1])), 1.5);
        }
        const double big = grow ? z.w * z.h : a.w * a.h, small = grow ? a.w * a.h : z.w * z.h;
        EXPECT_GE(big / small, 2.0);
        break;
      }
      case 6: {
        for (int i = s; i < e; ++i) {
          const double tol = 0.3 * std::max(a.w, a.h) + 1;
          EXPECT_LE(std::abs(cx(B[i]) - cx(a)), tol) << "frame " << i;
          EXPECT_LE(std::abs(cy(B[i]) - cy(a)), tol) << "frame " << i;
          // The mask really turns: a good share of its pixels change from frame to frame.
          if (i == 0) continue;
          size_t on = 0, changed = 0;
          for (size_t k = 0; k < t.actorMasks[i].size(); ++k) {
            on += t.actorMasks[i][k];
            changed += t.actorMasks[i][k] != t.actorMasks[i - 1][k];
          }
          EXPECT_GE(changed, std::max<size_t>(4, on / 40)) << "frame " << i;
        }
        break;
      }
      default: {
        int reversals = 0, lastSign = 0;
        for (int i = std::max(1, s); i < e; ++i) {
          EXPECT_LE(std::abs(cx(B[i]) - cx(B[i - 1])), 1.0) << "frame " << i;
          const double d = cy(B[i]) - cy(B[i - 1]);
          const int sign = d > 0 ? 1 : d < 0 ? -1 : 0;
          if (sign != 0 && lastSign != 0 && sign != lastSign) ++reversals;
          if (sign != 0) lastSign = sign;
        }
        EXPECT_GE(reversals, 2);
        int top = B[s].y;
        for (int i = s; i < e; ++i) top = std::min(top, B[i].y);
        EXPECT_GE(std::max(a.y, z.y) - top, 15) << "hops too low";
        break;
      }
    }
  }
}

TEST_P(SynthSemantics, StillOutsideTheActionUnderCameraShake) {
  const int cls = GetParam();
  SynthParams p;  // default noise and jitter
  p.partialShare = 1;
  p.jitter = 2;
  for (uint64_t seed = 100; seed < 100 + kSeedsPerClass; ++seed) {
    const ClipTruth t = renderSynthClip(cls, seed, p).truth;
    SCOPED_TRACE("seed " + std::to_string(seed));
    ASSERT_TRUE(t.partial);
    const int s = t.actionStart, e = t.actionEnd;
    const Box before = unshift(t.actorBoxes[0], t.camera[0]);
    const Box after = unshift(t.actorBoxes[p.frames - 1], t.camera[p.frames - 1]);
    for (int i = 0; i < p.frames; ++i) {
      EXPECT_LE(std::abs(t.camera[i].first), 2);
      EXPECT_LE(std::abs(t.camera[i].second), 2);
      const Box& b = t.actorBoxes[i];
      if (i < s) {
        EXPECT_EQ(unshift(b, t.camera[i]), before) << i;
        EXPECT_LE(std::abs(b.x - t.actorBoxes[0].x), 4);
      }
      if (i >= e) EXPECT_EQ(unshift(b, t.camera[i]), after) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Synth, SynthSemantics, ::testing::Range(0, 8),
                         [](const ::testing::TestParamInfo<int>& i) { return synthClassNames()[i.param]; });

TEST(SynthRender, ActionRangeFollowsPartialShare) {
  int partial = 0;
  SynthParams p;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const ClipTruth t = renderSynthClip(static_cast<int>(seed % 8), seed, p).truth;
    EXPECT_GE(t.actionStart, 0);
    EXPECT_LE(t.actionEnd, p.frames);
    EXPECT_GE(t.actionEnd - t.actionStart, 8);
    partial += t.partial;
  }
  EXPECT_GT(partial, 70);
  EXPECT_LT(partial, 130);
  p.partialShare = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) EXPECT_FALSE(renderSynthClip(0, seed, p).truth.partial);
}

TEST(SynthRender, Distractors) {
  SynthParams p;
  p.jitter = 2;
  std::set<size_t> counts;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const ClipTruth t = renderSynthClip(static_cast<int>(seed % 8), seed, p).truth;
    size_t statics = 0, movers = 0;
    for (const auto& d : t.distractors) {
      ASSERT_EQ(d.boxes.size(), static_cast<size_t>(p.frames));
      const Box first = unshift(d.boxes[0], t.camera[0]);
      int spanX = 0, spanY = 0;
      for (int i = 0; i < p.frames; ++i) {
        ASSERT_FALSE(d.boxes[i].empty());
        const Box b = unshift(d.boxes[i], t.camera[i]);
        if (d.kind == "static") EXPECT_EQ(b, first);
        EXPECT_EQ(b.w, first.w);
        EXPECT_EQ(b.h, first.h);
        spanX = std::max(spanX, std::abs(b.x - first.x)), spanY = std::max(spanY, std::abs(b.y - first.y));
      }
      if (d.kind == "static") {
        ++statics;
      } else {
        ASSERT_EQ(d.kind, "jitter");
        ++movers;
        EXPECT_LE(std::max(spanX, spanY), 4);  // offsets of at most 2 px around an anchor
        EXPECT_GT(spanX + spanY, 0);
      }
    }
    EXPECT_EQ(movers, 1u);
    EXPECT_LE(statics, 3u);
    counts.insert(statics);
  }
  EXPECT_TRUE(counts.count(1) && counts.count(3)) << "1..3 static distractors";
  p.maxStatic = 0;
  p.distractorMover = false;
  EXPECT_TRUE(renderSynthClip(2, 1, p).truth.distractors.empty());
}

TEST(SynthRender, LargerFramesScaleTheScene) {
  SynthParams p = clean();
  p.width = 320, p.height = 240;
  const ClipTruth t = renderSynthClip(0, 3, p).truth;
  EXPECT_GE(std::min(t.actorBoxes[0].w, t.actorBoxes[0].h), 12);
  EXPECT_GE(cx(t.actorBoxes[t.actionStart]) - cx(t.actorBoxes[t.actionEnd - 1]), 18.0);
}

TEST(SynthRender, BadParametersAreUsageErrors) {
  auto bad = [](auto change, const std::string& option) {
    SynthParams p;
    change(p);
    EXPECT_EQ(kindOf([&] { renderSynthClip(0, 1, p); }), ErrorKind::Usage) << option;
    EXPECT_NE(messageOf([&] { renderSynthClip(0, 1, p); }).find(option), std::string::npos) << option;
  };
  bad([](SynthParams& p) { p.width = 10; }, "--width");
  bad([](SynthParams& p) { p.height = 0; }, "--height");
  bad([](SynthParams& p) { p.frames = 7; }, "--frames");
  bad([](SynthParams& p) { p.fpsNum = 0; }, "--fps");
  bad([](SynthParams& p) { p.partialShare = 1.5; }, "--partial-share");
  bad([](SynthParams& p) { p.maxStatic = -1; }, "--max-static");
  bad([](SynthParams& p) { p.noise = -1; }, "--noise");
  bad([](SynthParams& p) { p.jitter = 9; }, "--jitter");
  EXPECT_EQ(kindOf([] { renderSynthClip(8, 1, {}); }), ErrorKind::Usage);
  EXPECT_EQ(kindOf([] { renderSynthClip(-1, 1, {}); }), ErrorKind::Usage);
  EXPECT_EQ(kindOf([] { synthSplitPlan("../x", 1, 1); }), ErrorKind::Usage);
  EXPECT_EQ(kindOf([] { synthSplitPlan("", 1, 1); }), ErrorKind::Usage);
  EXPECT_EQ(kindOf([] { synthSplitPlan("train", 0, 1); }), ErrorKind::Usage);
}

TEST(SynthFiles, SameSeedSameBytes) {
  ScratchDir dir;
  SynthParams p;
  p.frames = 16;
  writeSynthClip(renderSynthClip(6, 42, p), dir.file("a.mp4"), dir.file("a.json"));
  writeSynthClip(renderSynthClip(6, 42, p), dir.file("b.mp4"), dir.file("b.json"));
  writeSynthClip(renderSynthClip(6, 43, p), dir.file("c.mp4"), dir.file("c.json"));
  const std::string a = bytesOf(dir.file("a.mp4")), aj = bytesOf(dir.file("a.json"));
  ASSERT_GT(a.size(), 1000u);
  ASSERT_GT(aj.size(), 1000u);
  EXPECT_TRUE(a == bytesOf(dir.file("b.mp4"))) << "MP4 bytes differ between two runs";
  EXPECT_EQ(aj, bytesOf(dir.file("b.json")));
  EXPECT_FALSE(a == bytesOf(dir.file("c.mp4")));
  EXPECT_NE(aj, bytesOf(dir.file("c.json")));
  // Only the two finished files per clip, no temporary leftovers.
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) n += e.path().filename().string()[0] != '.';
  EXPECT_EQ(n, 6u);
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_NE(e.path().filename().string()[0], '.');
}

TEST(SynthFiles, VideoDecodesWithTheActorWhereTheTruthSaysIt) {
  ScratchDir dir;
  SynthParams p;
  const SynthClip clip = renderSynthClip(1, 8, p);
  writeSynthClip(clip, dir.file("c.mp4"), dir.file("c.json"));
  VideoReader r(dir.file("c.mp4"));
  EXPECT_EQ(r.info().width, p.width);
  EXPECT_EQ(r.info().height, p.height);
  EXPECT_EQ(r.info().fpsNum, 25);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    const ClipTruth& t = clip.truth;
    const auto& m = t.actorMasks[n];
    // Mean colour over the mask's interior (eroded by a pixel: chroma is subsampled).
    double sum[3] = {0, 0, 0};
    int cnt = 0;
    for (int y = 1; y < p.height - 1; ++y)
      for (int x = 1; x < p.width - 1; ++x) {
        auto at = [&](int xx, int yy) { return m[static_cast<size_t>(yy) * p.width + xx]; };
        if (!(at(x, y) && at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1))) continue;
        for (int c = 0; c < 3; ++c) sum[c] += f.rgb[(static_cast<size_t>(y) * p.width + x) * 3 + c];
        ++cnt;
      }
    ASSERT_GT(cnt, 10) << n;
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(sum[c] / cnt, t.rgb[c], 20.0) << "frame " << n << " channel " << c;
    ++n;
  }
  EXPECT_EQ(n, p.frames);
}

TEST(SynthFiles, TruthRoundTrips) {
  ScratchDir dir;
  for (int cls : {0, 4, 6, 7}) {
    const SynthClip clip = renderSynthClip(cls, 500 + cls, {});
    writeSynthClip(clip, dir.file("c.mp4"), dir.file("c.json"));
    const ClipTruth r = readClipTruth(dir.file("c.json"));
    const ClipTruth& t = clip.truth;
    EXPECT_EQ(r.classId, t.classId);
    EXPECT_EQ(r.className, t.className);
    EXPECT_EQ(r.seed, t.seed);
    EXPECT_EQ(r.params.width, t.params.width);
    EXPECT_EQ(r.params.height, t.params.height);
    EXPECT_EQ(r.params.frames, t.params.frames);
    EXPECT_EQ(r.params.fpsNum, t.params.fpsNum);
    EXPECT_EQ(r.params.partialShare, t.params.partialShare);
    EXPECT_EQ(r.params.maxStatic, t.params.maxStatic);
    EXPECT_EQ(r.params.distractorMover, t.params.distractorMover);
    EXPECT_EQ(r.params.noise, t.params.noise);
    EXPECT_EQ(r.params.jitter, t.params.jitter);
    EXPECT_EQ(r.actionStart, t.actionStart);
    EXPECT_EQ(r.actionEnd, t.actionEnd);
    EXPECT_EQ(r.partial, t.partial);
    EXPECT_EQ(r.shape, t.shape);
    EXPECT_EQ(r.colour, t.colour);
    EXPECT_TRUE(std::equal(r.rgb, r.rgb + 3, t.rgb));
    EXPECT_EQ(r.background, t.background);
    EXPECT_EQ(r.motion, t.motion);
    EXPECT_EQ(r.actorBoxes, t.actorBoxes);
    EXPECT_TRUE(r.actorMasks == t.actorMasks);
    EXPECT_EQ(r.camera, t.camera);
    ASSERT_EQ(r.distractors.size(), t.distractors.size());
    for (size_t i = 0; i < r.distractors.size(); ++i) {
      EXPECT_EQ(r.distractors[i].kind, t.distractors[i].kind);
      EXPECT_EQ(r.distractors[i].shape, t.distractors[i].shape);
      EXPECT_EQ(r.distractors[i].colour, t.distractors[i].colour);
      EXPECT_EQ(r.distractors[i].boxes, t.distractors[i].boxes);
    }
    // The stored params reproduce the clip.
    const SynthClip again = renderSynthClip(r.classId, r.seed, r.params);
    EXPECT_EQ(again.frames.back().rgb, clip.frames.back().rgb);
  }
}

TEST(SynthFiles, Errors) {
  ScratchDir dir;
  const SynthClip clip = renderSynthClip(0, 1, {});
  EXPECT_EQ(kindOf([&] { writeSynthClip(clip, dir.file("no/such/dir/c.mp4"), dir.file("c.json")); }), ErrorKind::Output);
  EXPECT_EQ(kindOf([&] { writeSynthClip(clip, dir.file("c.mp4"), dir.file("no/such/dir/c.json")); }), ErrorKind::Output);
  EXPECT_FALSE(fs::exists(dir.file("c.mp4"))) << "a failed write leaves no video behind";
  EXPECT_EQ(kindOf([&] { readClipTruth(dir.file("missing.json")); }), ErrorKind::Input);
  EXPECT_NE(messageOf([&] { readClipTruth(dir.file("missing.json")); }).find("missing.json"), std::string::npos);
  std::ofstream(dir.file("bad.json")) << "{not json";
  EXPECT_EQ(kindOf([&] { readClipTruth(dir.file("bad.json")); }), ErrorKind::Input);
  std::ofstream(dir.file("other.json")) << "{\"format\": \"something\", \"version\": 1}";
  EXPECT_EQ(kindOf([&] { readClipTruth(dir.file("other.json")); }), ErrorKind::Input);
  std::ofstream(dir.file("array.json")) << "[1, 2]";
  EXPECT_EQ(kindOf([&] { readClipTruth(dir.file("array.json")); }), ErrorKind::Input);
  // A truncated record: a mask that does not cover its box.
  writeSynthClip(clip, dir.file("c.mp4"), dir.file("c.json"));
  auto j = nlohmann::json::parse(bytesOf(dir.file("c.json")));
  j["frames"][3]["mask"].push_back(5);
  std::ofstream(dir.file("runs.json")) << j.dump();
  EXPECT_EQ(kindOf([&] { readClipTruth(dir.file("runs.json")); }), ErrorKind::Input);
  EXPECT_EQ(kindOf([&] { writeSynthSplit(dir.file("no/such/parent"), "train", 1, 1); }), ErrorKind::Output);
}

TEST(SynthSplits, PlanIsBalancedAndSeedsAreDistinct) {
  std::set<uint64_t> seeds;
  std::set<uint64_t> splitSeeds;
  for (const std::string split : {"train", "val", "test"}) {
    const auto plan = synthSplitPlan(split, 25, 2024);
    ASSERT_EQ(plan.size(), 200u);
    std::map<int, int> perClass;
    for (size_t i = 0; i < plan.size(); ++i) {
      EXPECT_EQ(plan[i].index, static_cast<int>(i));
      ++perClass[plan[i].classId];
      seeds.insert(plan[i].seed);
    }
    EXPECT_EQ(plan[0].stem, "clip_000000");
    EXPECT_EQ(plan[123].stem, "clip_000123");
    for (int c = 0; c < 8; ++c) EXPECT_EQ(perClass[c], 25) << c;
    splitSeeds.insert(synthSplitSeed(2024, split));
    // Reproducible, and tied to the base seed.
    const auto again = synthSplitPlan(split, 25, 2024);
    EXPECT_TRUE(std::equal(plan.begin(), plan.end(), again.begin(), [](const auto& a, const auto& b) {
      return a.seed == b.seed && a.classId == b.classId;
    }));
    EXPECT_NE(synthSplitPlan(split, 1, 2025)[0].seed, plan[0].seed);
  }
  EXPECT_EQ(splitSeeds.size(), 3u);
  EXPECT_EQ(seeds.size(), 600u) << "a clip seed repeats across splits";
}

TEST(SynthSplits, WritesClipsTruthAndIndex) {
  ScratchDir dir;
  SynthParams p;
  p.frames = 12;
  const std::string root = dir.file("bench");  // created by the writer
  std::set<uint64_t> seeds;
  for (const std::string split : {"train", "val", "test"}) {
    int calls = 0, lastDone = 0;
    const int n = writeSynthSplit(root, split, 1, 7, p, [&](int done, int total) {
      ++calls;
      EXPECT_EQ(done, lastDone + 1);
      EXPECT_EQ(total, 8);
      lastDone = done;
    });
    EXPECT_EQ(n, 8);
    EXPECT_EQ(calls, 8);
    const fs::path sd = fs::path(root) / split;
    const auto index = nlohmann::json::parse(bytesOf((sd / "index.json").string()));
    EXPECT_EQ(index["split"], split);
    EXPECT_EQ(index["base_seed"].get<uint64_t>(), 7u);
    EXPECT_EQ(index["split_seed"].get<uint64_t>(), synthSplitSeed(7, split));
    EXPECT_EQ(index["classes"].get<std::vector<std::string>>(), synthClassNames());
    EXPECT_EQ(index["params"]["frames"], 12);
    ASSERT_EQ(index["clips"].size(), 8u);
    std::map<int, int> perClass;
    for (const auto& c : index["clips"]) {
      const std::string video = c["video"], truth = c["truth"];
      EXPECT_TRUE(fs::exists(sd / video)) << video;
      const ClipTruth t = readClipTruth((sd / truth).string());
      EXPECT_EQ(t.classId, c["class_id"].get<int>());
      EXPECT_EQ(t.className, c["class_name"].get<std::string>());
      EXPECT_EQ(t.seed, c["seed"].get<uint64_t>());
      EXPECT_EQ(t.actionStart, c["action_start"].get<int>());
      EXPECT_EQ(t.actionEnd, c["action_end"].get<int>());
      EXPECT_EQ(t.params.frames, 12);
      ++perClass[t.classId];
      seeds.insert(t.seed);
    }
    for (int c = 0; c < 8; ++c) EXPECT_EQ(perClass[c], 1);
    std::ifstream labels(sd / "labels.txt");
    std::vector<std::string> lines;
    for (std::string l; std::getline(labels, l);) lines.push_back(l);
    EXPECT_EQ(lines, synthClassNames());
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(sd)) {
      EXPECT_NE(e.path().filename().string()[0], '.') << "leftover " << e.path();
      ++files;
    }
    EXPECT_EQ(files, 8u * 2u + 2u);
  }
  EXPECT_EQ(seeds.size(), 24u);
  // A second run gives the same bytes.
  const std::string before = bytesOf((fs::path(root) / "val" / "index.json").string());
  const std::string clipBefore = bytesOf((fs::path(root) / "val" / "clip_000005.mp4").string());
  writeSynthSplit(root, "val", 1, 7, p);
  EXPECT_EQ(bytesOf((fs::path(root) / "val" / "index.json").string()), before);
  EXPECT_TRUE(bytesOf((fs::path(root) / "val" / "clip_000005.mp4").string()) == clipBefore);
}

// ---- several instances (--instances) ----

namespace {

bool overlaps(const Box& a, const Box& b) {
  return !a.empty() && !b.empty() && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

}  // namespace

// N actors of the same class: each drawn where its mask says in its own colour, never touching
// another actor or a distractor, still outside its own action range and moving as the class
// says inside it; the top-level box, mask and range are their union.
TEST(SynthInstances, EveryInstanceIsDrawnApartAndActsAsItsClassSays) {
  for (int cls = 0; cls < 8; ++cls)
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      SynthParams p = clean();
      p.instancesMin = 2, p.instancesMax = 4;
      p.partialShare = 0.5;
      const SynthClip c = renderSynthClip(cls, seed * 77 + cls, p);
      const ClipTruth& t = c.truth;
      SCOPED_TRACE("class " + std::to_string(cls) + " seed " + std::to_string(seed));
      const size_t N = t.instances.size();
      ASSERT_GE(N, 2u);
      ASSERT_LE(N, 4u);
      const int W = t.params.width, H = t.params.height, T = t.params.frames;
      int start = T, end = 0;
      for (const SynthInstance& in : t.instances) start = std::min(start, in.actionStart), end = std::max(end, in.actionEnd);
      EXPECT_EQ(t.actionStart, start);
      EXPECT_EQ(t.actionEnd, end);
      for (int f = 0; f < T; ++f) {
        std::vector<uint8_t> all(static_cast<size_t>(W) * H, 0);
        for (size_t i = 0; i < N; ++i) {
          const SynthInstance& in = t.instances[i];
          const Box& b = in.boxes[static_cast<size_t>(f)];
          ASSERT_FALSE(b.empty()) << "instance " << i << " frame " << f;
          EXPECT_GE(std::min(b.w, b.h), 5) << "instance too small to see";
          size_t inside = 0;
          for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
              const size_t k = static_cast<size_t>(y) * W + x;
              if (!in.masks[static_cast<size_t>(f)][k]) continue;
              ++inside;
              ASSERT_FALSE(all[k]) << "instances " << i << " and another share a pixel";
              all[k] = 1;
              ASSERT_TRUE(x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h);
              ASSERT_EQ(c.frames[static_cast<size_t>(f)].rgb[3 * k], in.rgb[0]);
              ASSERT_EQ(c.frames[static_cast<size_t>(f)].rgb[3 * k + 1], in.rgb[1]);
              ASSERT_EQ(c.frames[static_cast<size_t>(f)].rgb[3 * k + 2], in.rgb[2]);
            }
          EXPECT_GE(inside, static_cast<size_t>(b.w * b.h) / 4);
          for (size_t j = i + 1; j < N; ++j) EXPECT_FALSE(overlaps(b, t.instances[j].boxes[static_cast<size_t>(f)]));
          for (const auto& d : t.distractors) EXPECT_FALSE(overlaps(b, d.boxes[static_cast<size_t>(f)])) << d.kind;
        }
        EXPECT_TRUE(all == t.actorMasks[static_cast<size_t>(f)]) << "the top-level mask is the union, frame " << f;
        const Box& u = t.actorBoxes[static_cast<size_t>(f)];
        for (const SynthInstance& in : t.instances) {
          const Box& b = in.boxes[static_cast<size_t>(f)];
          EXPECT_TRUE(b.x >= u.x && b.y >= u.y && b.x + b.w <= u.x + u.w && b.y + b.h <= u.y + u.h);
        }
      }
      for (const SynthInstance& in : t.instances) {
        const auto& B = in.boxes;
        const int s = in.actionStart, e = in.actionEnd;
        EXPECT_GE(e - s, 8);
        for (int i = 1; i < s; ++i) EXPECT_EQ(B[i], B[0]);
        for (int i = e; i < T; ++i) EXPECT_EQ(B[i], B[e - 1]);
        if (cls <= 3) {
          const Box& a = B[std::max(0, s - 1)];
          const Box& z = B[e - 1];
          const double d = cls < 2 ? cx(z) - cx(a) : cy(z) - cy(a);
          EXPECT_GT(cls == 1 || cls == 3 ? d : -d, 4.0) << "instance does not move its class's way";
        }
      }
    }
}

// One instance is the single-actor benchmark, unchanged; a range draws its count per clip.
TEST(SynthInstances, OneIsTheSingleActorClipAndARangeVaries) {
  SynthParams one = clean();
  const SynthClip a = renderSynthClip(3, 42, one);
  one.instancesMin = one.instancesMax = 1;
  const SynthClip b = renderSynthClip(3, 42, one);
  EXPECT_TRUE(b.truth.instances.empty());
  EXPECT_EQ(a.truth.actorBoxes, b.truth.actorBoxes);
  EXPECT_TRUE(a.frames.front().rgb == b.frames.front().rgb);
  SynthParams fixed = clean();
  fixed.instancesMin = fixed.instancesMax = 3;
  EXPECT_EQ(renderSynthClip(0, 5, fixed).truth.instances.size(), 3u);
  SynthParams range = clean();
  range.instancesMin = 1, range.instancesMax = 3;
  std::set<size_t> counts;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    const SynthClip c = renderSynthClip(static_cast<int>(seed % 8), seed, range);
    counts.insert(c.truth.instances.size());
    const SynthClip again = renderSynthClip(static_cast<int>(seed % 8), seed, range);
    EXPECT_TRUE(c.frames.back().rgb == again.frames.back().rgb) << "same seed, same clip";
  }
  EXPECT_EQ(counts, (std::set<size_t>{1, 2, 3}));
  SynthParams bad = clean();
  bad.instancesMin = 0;
  EXPECT_EQ(kindOf([&] { renderSynthClip(0, 1, bad); }), ErrorKind::Usage);
  bad.instancesMin = 1, bad.instancesMax = 5;
  EXPECT_NE(messageOf([&] { renderSynthClip(0, 1, bad); }).find("--instances"), std::string::npos);
  bad.instancesMin = 3, bad.instancesMax = 2;
  EXPECT_NE(messageOf([&] { renderSynthClip(0, 1, bad); }).find("the range is empty"), std::string::npos);
  bad.instancesMin = 1, bad.instancesMax = 3;
  bad.width = 64, bad.height = 48;  // three lanes of 8 px
  EXPECT_NE(messageOf([&] { renderSynthClip(0, 1, bad); }).find("--instances 3 needs larger frames"), std::string::npos);
}

// The ground truth of every instance survives the JSON round trip, and the same seed gives the
// same bytes.
TEST(SynthInstances, TruthRoundTripsAndFilesRepeat) {
  ScratchDir dir;
  SynthParams p;
  p.instancesMin = 2, p.instancesMax = 3;
  const SynthClip c = renderSynthClip(7, 11, p);
  writeSynthClip(c, dir.file("m.mp4"), dir.file("m.json"));
  writeSynthClip(renderSynthClip(7, 11, p), dir.file("n.mp4"), dir.file("n.json"));
  EXPECT_EQ(bytesOf(dir.file("m.json")), bytesOf(dir.file("n.json")));
  EXPECT_EQ(bytesOf(dir.file("m.mp4")), bytesOf(dir.file("n.mp4")));
  const ClipTruth r = readClipTruth(dir.file("m.json"));
  ASSERT_EQ(r.instances.size(), c.truth.instances.size());
  EXPECT_EQ(r.params.instancesMin, 2);
  EXPECT_EQ(r.params.instancesMax, 3);
  for (size_t i = 0; i < r.instances.size(); ++i) {
    EXPECT_EQ(r.instances[i].shape, c.truth.instances[i].shape);
    EXPECT_EQ(r.instances[i].actionStart, c.truth.instances[i].actionStart);
    EXPECT_EQ(r.instances[i].actionEnd, c.truth.instances[i].actionEnd);
    EXPECT_EQ(r.instances[i].boxes, c.truth.instances[i].boxes);
    EXPECT_TRUE(r.instances[i].masks == c.truth.instances[i].masks);
    EXPECT_EQ(r.instances[i].motion, c.truth.instances[i].motion);
  }
  EXPECT_TRUE(r.actorMasks == c.truth.actorMasks);
}
