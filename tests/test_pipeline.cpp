// Frame-level tests of the whole pipeline on a synthetic clip whose right answer is known: a
// red-detecting model must light up the red square in exactly the frames that show it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/npy.hpp"
#include "synthetic_clip.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::string dir, clip;
  evtest::SquareClip spec;
};

const Fixture& squareClip() {
  static Fixture fx = [] {
    Fixture f;
    // One folder per test process: CTest runs tests in parallel processes.
    f.dir = ::testing::TempDir() + "/ev_pipeline_" + std::to_string(::getpid());
    fs::create_directories(f.dir);
    f.clip = f.dir + "/square.mp4";
    evtest::writeSquareClip(f.clip, f.spec);
    return f;
  }();
  return fx;
}

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

ev::ExplainParams baseParams(const std::string& tag) {
  const Fixture& fx = squareClip();
  ev::ExplainParams p;
  p.input = fx.clip;
  p.model = model("red_detector.pt");
  p.classSpec = "0";
  p.output = fx.dir + "/" + tag + ".mp4";
  p.heatmapsNpy = fx.dir + "/" + tag + ".npy";
  p.threads = 2;
  return p;
}

struct FrameScore {
  int peaksInBox = 0, presentFrames = 0, darkAbsentFrames = 0, absentFrames = 0;
  std::vector<float> presentPeaks;  // per frame with the square: the map's maximum
  float farAbsentPeak = 0;          // the largest maximum of the frames > 8 from any with the square
};

// Per frame: where is the heatmap's peak, and is a frame without the square dark?
FrameScore scoreHeatmaps(const ev::Volume& h, const evtest::SquareClip& spec) {
  FrameScore s;
  const int64_t H = h.shape[1], W = h.shape[2];
  for (int64_t f = 0; f < h.shape[0]; ++f) {
    const float* m = h.ptr() + f * H * W;
    const auto it = std::max_element(m, m + H * W);
    const int px = static_cast<int>((it - m) % W), py = static_cast<int>((it - m) / W);
    if (spec.boxes[f].w > 0) {
      ++s.presentFrames;
      s.presentPeaks.push_back(*it);
      if (*it > 0.3f && spec.boxes[f].contains(px, py, 4)) ++s.peaksInBox;
    } else {
      ++s.absentFrames;
      if (*it < 0.02f) ++s.darkAbsentFrames;
      if (std::abs(f - spec.presentFrom) > 8 && std::abs(f - (spec.presentTo - 1)) > 8)
        s.farAbsentPeak = std::max(s.farAbsentPeak, *it);
    }
  }
  return s;
}

}  // namespace

class PipelineMethods : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(PipelineMethods, HeatFollowsTheRedSquareFrameByFrame) {
  const auto [method, modelFile] = GetParam();
  std::string tag = "follow_" + method + "_" + modelFile;
  std::replace(tag.begin(), tag.end(), '+', 'P');
  ev::ExplainParams p = baseParams(tag);
  p.methods = {method};
  // Peaks are compared by location: divide by the maximum, so that no pixel clips (under the
  // default quantile the hottest 1 % tie at 1 and the first of them is not the peak).
  p.normalize = ev::Normalize::VideoMax;
  p.perturbation.riseMasks = 250;  // 20 of 20 frames measured at 250, 500 and 1000 masks
  const auto& spec = squareClip().spec;
  p.model = model(modelFile);
  const ev::ExplainResult r = ev::explainVideo(p);
  EXPECT_EQ(r.frames, spec.frames);
  EXPECT_EQ(r.windows, 5);  // starts 0, 8, 16, 24 and the end-aligned 29
  EXPECT_EQ(r.layer, "pool");
  const ev::Volume h = ev::readNpy(p.heatmapsNpy);
  ASSERT_EQ(h.shape, (std::vector<int64_t>{spec.frames, spec.height, spec.width}));
  const FrameScore s = scoreHeatmaps(h, spec);
  if (ev::camMethod(method).inputResolution) {
    // rise: sampled, and its masks are smooth over a coarse cell of time (4 frames), so heat
    // leaks into the frames next to the square's and a noise floor stays elsewhere; frames
    // more than 8 from the square are below half the median peak of those with it.
    EXPECT_GE(s.peaksInBox, 0.9 * s.presentFrames) << method;
    std::vector<float> peaks = s.presentPeaks;
    std::nth_element(peaks.begin(), peaks.begin() + peaks.size() / 2, peaks.end());
    EXPECT_LT(s.farAbsentPeak, 0.5f * peaks[peaks.size() / 2]) << method;
  } else if (ev::camMethod(method).perturbation()) {
    // Sampled methods: the peak on the square in at least 90 % of its frames.
    EXPECT_GE(s.peaksInBox, 0.9 * s.presentFrames) << method;
    EXPECT_EQ(s.darkAbsentFrames, s.absentFrames) << method;
  } else {
    EXPECT_EQ(s.peaksInBox, s.presentFrames) << method;
    EXPECT_EQ(s.darkAbsentFrames, s.absentFrames) << method;
  }
  // Video normalisation: the brightest frame reaches 1.
  EXPECT_FLOAT_EQ(*std::max_element(h.data.begin(), h.data.end()), 1.f);

  // The annotated video has the input's frame count, rate and size.
  ev::VideoReader out(r.output);
  EXPECT_EQ(out.info().width, spec.width);
  EXPECT_EQ(out.info().height, spec.height);
  EXPECT_NEAR(out.info().fps, spec.fpsNum, 1e-6);
  ev::Frame f;
  int n = 0;
  while (out.read(f)) ++n;
  EXPECT_EQ(n, spec.frames);
}

// Every registered method, on the scripted and the traced detector (its pool is followed by
// global average pooling and a linear layer, so cam applies too).
INSTANTIATE_TEST_SUITE_P(Pipeline, PipelineMethods,
                         ::testing::Combine(::testing::ValuesIn(ev::camMethodNames()),
                                            ::testing::Values("red_detector.pt", "red_detector_traced.pt")),
                         [](const auto& i) {
                           std::string s = std::get<0>(i.param) + "_" + std::get<1>(i.param);
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : c == '+' ? 'P' : '_';
                           return s;
                         });

// Negative control: the same run with the channels swapped puts the peak on the blue
// distractor, so the frame-level test above would catch an RGB/BGR mix-up.
TEST(Pipeline, ChannelSwapMovesThePeakOffTheSquare) {
  ev::ExplainParams p = baseParams("bgr");
  p.preprocess.bgr = true;
  p.output.clear();
  p.noVideo = true;
  ev::explainVideo(p);
  const FrameScore s = scoreHeatmaps(ev::readNpy(p.heatmapsNpy), squareClip().spec);
  EXPECT_EQ(s.peaksInBox, 0);
}

// Negative control for time: shifting the heatmaps by a few frames breaks the test's checks,
// so a window misalignment in the pipeline would be caught.
TEST(Pipeline, TemporalShiftWouldBeCaught) {
  ev::ExplainParams p = baseParams("shift");
  p.noVideo = true;
  ev::explainVideo(p);
  ev::Volume h = ev::readNpy(p.heatmapsNpy);
  const size_t plane = static_cast<size_t>(h.shape[1] * h.shape[2]);
  ev::Volume shifted = h;
  std::copy(h.data.begin(), h.data.end() - 3 * plane, shifted.data.begin() + 3 * plane);
  const FrameScore s = scoreHeatmaps(shifted, squareClip().spec);
  EXPECT_LT(s.darkAbsentFrames, s.absentFrames);
  EXPECT_LT(s.peaksInBox, s.presentFrames);
}

TEST(Pipeline, SideOutputsJsonAndRaw) {
  ev::ExplainParams p = baseParams("side");
  p.classSpec = "";  // top-1 of the mean logits: "red"
  p.labelsFile = model("red_detector_labels.txt");
  p.jsonFile = squareClip().dir + "/side.json";
  p.rawDir = squareClip().dir + "/side_raw/";  // a trailing slash names the same folder
  fs::remove_all(p.rawDir);
  const ev::ExplainResult r = ev::explainVideo(p);
  EXPECT_EQ(r.classId, 0);
  EXPECT_EQ(r.className, "red");
  std::ifstream in(p.jsonFile);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["layer"], "pool");
  // The pool's cells (kernel 2, stride 2 in space, 1 in time) sit between pixel pairs: 2j+0.5.
  ASSERT_TRUE(j["cell_centres"]["known"].get<bool>()) << j["cell_centres"].dump();
  ASSERT_EQ(j["cell_centres"]["h"].size(), 56u);
  EXPECT_EQ(j["cell_centres"]["h"][0].get<double>(), 0.5);
  EXPECT_EQ(j["cell_centres"]["w"][55].get<double>(), 110.5);
  EXPECT_EQ(j["cell_centres"]["t"][15].get<double>(), 15.0);
  EXPECT_EQ(j["class"]["name"], "red");
  ASSERT_EQ(j["windows"].size(), 5u);
  EXPECT_EQ(j["windows"][4]["first_frame"], 29);
  EXPECT_EQ(j["windows"][4]["last_frame"], 44);
  ASSERT_EQ(j["frame_importance"].size(), 45u);
  // Frames without the square have no importance; frames with it do.
  EXPECT_EQ(j["frame_importance"][0].get<double>(), 0.0);
  EXPECT_GT(j["frame_importance"][20].get<double>(), 0.0);
  for (int w = 0; w < 5; ++w) {
    char name[32];
    std::snprintf(name, sizeof name, "/window_%04d", w);
    const ev::Volume in5 = ev::readNpy(p.rawDir + name + "_input.npy");
    EXPECT_EQ(in5.shape, (std::vector<int64_t>{1, 3, 16, 112, 112}));
    const ev::Volume cam = ev::readNpy(p.rawDir + name + "_cam.npy");
    EXPECT_EQ(cam.shape, (std::vector<int64_t>{16, 56, 56}));
    EXPECT_TRUE(fs::exists(p.rawDir + name + ".json"));
  }
  // Nothing but the committed files remains (no staging folder).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(p.rawDir)) entries += e.path().filename().string()[0] != '.';
  EXPECT_EQ(entries, 15);
}

TEST(Pipeline, FrameAndWindowNormalisation) {
  for (const auto mode : {ev::Normalize::Frame, ev::Normalize::Window}) {
    ev::ExplainParams p = baseParams("norm");
    p.noVideo = true;
    p.normalize = mode;
    ev::explainVideo(p);
    const ev::Volume h = ev::readNpy(p.heatmapsNpy);
    const auto& spec = squareClip().spec;
    const size_t plane = static_cast<size_t>(spec.width * spec.height);
    for (int f = 0; f < spec.frames; ++f) {
      const float m = *std::max_element(h.data.begin() + f * plane, h.data.begin() + (f + 1) * plane);
      if (spec.boxes[f].w > 0 && mode == ev::Normalize::Frame) EXPECT_FLOAT_EQ(m, 1.f) << f;
      if (spec.boxes[f].w > 0) EXPECT_GT(m, 0.5f) << f;
      if (spec.boxes[f].w == 0) EXPECT_EQ(m, 0.f) << f;
    }
  }
}

// A clip shorter than one window is padded, not rejected.
TEST(Pipeline, ShortClipIsPadded) {
  evtest::SquareClip spec;
  spec.frames = 6, spec.presentFrom = 2, spec.presentTo = 5;
  const std::string clip = squareClip().dir + "/short_input.mp4";
  evtest::writeSquareClip(clip, spec);
  ev::ExplainParams p = baseParams("short");
  p.input = clip;
  const ev::ExplainResult r = ev::explainVideo(p);
  EXPECT_EQ(r.frames, 6);
  EXPECT_EQ(r.windows, 1);
  const FrameScore s = scoreHeatmaps(ev::readNpy(p.heatmapsNpy), spec);
  EXPECT_EQ(s.peaksInBox, 3);
  EXPECT_EQ(s.darkAbsentFrames, 3);
}

// With more than 10 classes each window keeps only its own top-5 CAMs; windows whose top-5
// missed the video's class are re-run. The result must equal a run told the class up front.
TEST(Pipeline, WindowsMissingTheVideoClassAreReExplained) {
  ev::ExplainParams chosen = baseParams("many_chosen");
  chosen.model = model("red_detector_12.pt");
  chosen.noVideo = true;
  ev::ExplainParams inferred = chosen;
  inferred.classSpec.clear();
  inferred.heatmapsNpy = squareClip().dir + "/many_inferred.npy";
  const ev::ExplainResult r = ev::explainVideo(inferred);
  EXPECT_EQ(r.classId, 0);
  EXPECT_GT(r.windowsReExplained, 0);  // the path under test was taken
  EXPECT_EQ(ev::explainVideo(chosen).windowsReExplained, 0);
  const ev::Volume a = ev::readNpy(inferred.heatmapsNpy), b = ev::readNpy(chosen.heatmapsNpy);
  ASSERT_EQ(a.shape, b.shape);
  // Equal up to float rounding: the re-run windows go through the model in other batches.
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a.data[i] - b.data[i])));
  EXPECT_LT(worst, 1e-5);
  const FrameScore s = scoreHeatmaps(a, squareClip().spec);
  EXPECT_EQ(s.peaksInBox, s.presentFrames);
}

// A dim red square in every frame and, in the first window only, a 2×2 spot of full red: one
// spiky window, ~0.3 % of the positive heat. Under --normalize video (the 99th percentile of
// the positive heat) the other frames keep their full brightness; under video-max the spike
// darkens them (after encoding, the dim square's detector response is ~0.4 of the spot's).
TEST(Pipeline, SpikeWindowDoesNotDarkenTheOtherFrames) {
  const std::string clip = squareClip().dir + "/spike.mp4";
  const int W = 64, H = 64, F = 48;
  {
    ev::VideoWriterOptions o;
    o.width = W, o.height = H, o.fpsNum = 25, o.fpsDen = 1, o.crf = 0;
    ev::VideoWriter w(clip, o);
    for (int i = 0; i < F; ++i) {
      ev::Frame f;
      f.width = W, f.height = H, f.index = i;
      f.rgb.assign(static_cast<size_t>(W) * H * 3, 100);
      evtest::fillRect(f, {20, 20, 24, 24}, 135, 0, 0);
      if (i < 8) evtest::fillRect(f, {30, 30, 2, 2}, 255, 0, 0);
      w.write(f);
    }
    w.close();
  }
  auto peaks = [&](ev::Normalize mode, float* divisor) {
    ev::ExplainParams p = baseParams(mode == ev::Normalize::Video ? "spike_q" : "spike_max");
    p.input = clip;
    p.noVideo = true;
    p.normalize = mode;
    p.preprocess.resizeHeight = p.preprocess.cropHeight = H;
    p.preprocess.resizeWidth = p.preprocess.cropWidth = W;
    p.windows.clipLen = p.windows.stride = 8;
    const ev::ExplainResult r = ev::explainVideo(p);
    *divisor = r.explanations[0].divisor;
    const ev::Volume h = ev::readNpy(p.heatmapsNpy);
    std::vector<float> out;
    const size_t plane = static_cast<size_t>(W * H);
    for (int f = 0; f < F; ++f) out.push_back(*std::max_element(h.data.begin() + f * plane, h.data.begin() + (f + 1) * plane));
    EXPECT_EQ(r.explanations[0].videoMax > 0, true);
    return std::make_pair(out, r.explanations[0].videoMax);
  };
  float dq = 0, dm = 0;
  const auto [robust, vmax] = peaks(ev::Normalize::Video, &dq);
  const auto [plain, vmax2] = peaks(ev::Normalize::VideoMax, &dm);
  EXPECT_FLOAT_EQ(dm, vmax2);           // video-max divides by the maximum
  EXPECT_LT(dq, 0.7f * vmax);           // the quantile ignores the spike
  for (int f = 0; f < F; ++f) {
    if (f < 8) {
      EXPECT_FLOAT_EQ(robust[f], 1.f) << f;  // the spike clips
      EXPECT_FLOAT_EQ(plain[f], 1.f) << f;
    } else {
      EXPECT_GT(robust[f], 0.8f) << f;
      EXPECT_LT(plain[f], 0.5f) << f;   // the clip does darken under the plain maximum
    }
  }
}

namespace {

// A red square at the far left of a 320×240 clip, outside the centre crop's footprint
// (x 54..263), in frames [10, 30) of 40.
struct EdgeClip {
  std::string path;
  evtest::Box box{8, 100, 32, 32};
  int frames = 40, from = 10, to = 30;
};

const EdgeClip& edgeClip() {
  static EdgeClip c = [] {
    EdgeClip e;
    e.path = squareClip().dir + "/edge.mp4";
    ev::VideoWriterOptions o;
    o.width = 320, o.height = 240, o.fpsNum = 25, o.fpsDen = 1, o.crf = 12;
    ev::VideoWriter w(e.path, o);
    for (int i = 0; i < e.frames; ++i) {
      ev::Frame f;
      f.width = 320, f.height = 240, f.index = i;
      f.rgb.resize(320 * 240 * 3);
      for (int y = 0; y < 240; ++y)
        for (int x = 0; x < 320; ++x)
          for (int k = 0; k < 3; ++k)
            f.rgb[(static_cast<size_t>(y) * 320 + x) * 3 + k] = static_cast<uint8_t>(90 + (x + 2 * y) % 40);
      if (i >= e.from && i < e.to) evtest::fillRect(f, e.box, 235, 20, 20);
      w.write(f);
    }
    w.close();
    return e;
  }();
  return c;
}

// Per frame with the square: is the heatmap's peak on it?
int peaksOnTheSquare(const ev::Volume& h, const EdgeClip& c) {
  int on = 0;
  const int64_t H = h.shape[1], W = h.shape[2];
  for (int f = c.from; f < c.to; ++f) {
    const float* m = h.ptr() + f * H * W;
    const auto it = std::max_element(m, m + H * W);
    on += *it > 0.3f && c.box.contains(static_cast<int>((it - m) % W), static_cast<int>((it - m) / W), 4);
  }
  return on;
}

}  // namespace

// The centre crop cannot see the square: no heat there. --spatial full and tiles see the whole
// frame and put the peak on the square in every frame that has it.
TEST(Pipeline, SpatialFullAndTilesSeeTheWholeFrame) {
  const EdgeClip& c = edgeClip();
  for (const ev::Spatial s : {ev::Spatial::Crop, ev::Spatial::Full, ev::Spatial::Tiles}) {
    ev::ExplainParams p = baseParams("spatial_" + ev::spatialName(s));
    p.input = c.path;
    p.noVideo = true;
    p.preprocess.spatial = s;
    const ev::ExplainResult r = ev::explainVideo(p);
    const ev::Volume h = ev::readNpy(p.heatmapsNpy);
    ASSERT_EQ(h.shape, (std::vector<int64_t>{c.frames, 240, 320}));
    if (s == ev::Spatial::Crop) {
      EXPECT_EQ(peaksOnTheSquare(h, c), 0);
      EXPECT_EQ(r.explanations[0].videoMax, 0.f);  // nothing red in the crop
      continue;
    }
    EXPECT_EQ(peaksOnTheSquare(h, c), c.to - c.from) << ev::spatialName(s);
    if (s == ev::Spatial::Tiles) EXPECT_EQ(r.windows, 4 * 4);  // 4 starts × 2×2 tiles
    // Frames far from the square's are dark.
    for (int f : {0, 39}) {
      const float* m = h.ptr() + f * 240 * 320;
      EXPECT_LT(*std::max_element(m, m + 240 * 320), 0.02f) << ev::spatialName(s) << " frame " << f;
    }
  }
}

// Outside what the model saw, the rendered video shows the input's own pixels (no colormap),
// to encoder tolerance; inside, the colormap is blended in.
TEST(Pipeline, OutsideTheCropTheOutputShowsTheInput) {
  const EdgeClip& c = edgeClip();
  ev::ExplainParams p = baseParams("outside");
  p.input = c.path;
  p.render.text = false;
  ev::explainVideo(p);
  ev::VideoReader in(c.path), out(p.output);
  ev::Frame a, b;
  double outside = 0, inside = 0;
  int64_t nOut = 0, nIn = 0;
  while (in.read(a) && out.read(b)) {
    for (int y = 0; y < 200; ++y)  // above the strip
      for (int x = 0; x < 320; ++x) {
        const bool seen = x >= 54 && x <= 263 && y >= 15 && y <= 224;
        const bool edge = x >= 50 && x <= 267 && y >= 11 && y <= 228 && !seen;  // the outline's band
        if (edge) continue;
        const size_t i = (static_cast<size_t>(y) * 320 + x) * 3;
        double d = 0;
        for (int k = 0; k < 3; ++k) d += std::abs(int(a.rgb[i + k]) - int(b.rgb[i + k]));
        (seen ? inside : outside) += d / 3, ++(seen ? nIn : nOut);
      }
  }
  ASSERT_GT(nOut, 0);
  EXPECT_LT(outside / nOut, 3.0);  // the input, as encoded twice
  EXPECT_GT(inside / nIn, 20.0);   // tinted: jet's blue at alpha 0.5 changes every pixel
}

// --frame-step 2: windows take every other frame, and every frame, sampled or not, gets heat in
// time with the square.
TEST(Pipeline, FrameStepPlacesHeatOnEveryFrame) {
  ev::ExplainParams p = baseParams("step2");
  p.noVideo = true;
  p.windows.clipLen = 8;
  p.windows.stride = 8;
  p.windows.frameStep = 2;
  p.jsonFile = squareClip().dir + "/step2.json";
  const ev::ExplainResult r = ev::explainVideo(p);
  const auto& spec = squareClip().spec;
  EXPECT_EQ(r.frames, spec.frames);
  std::ifstream js(p.jsonFile);
  const nlohmann::json j = nlohmann::json::parse(js);
  EXPECT_EQ(j["windows"][0]["frames"], (std::vector<int64_t>{0, 2, 4, 6, 8, 10, 12, 14}));
  EXPECT_EQ(j["preprocess"]["frame_step"], 2);
  const ev::Volume h = ev::readNpy(p.heatmapsNpy);
  const FrameScore s = scoreHeatmaps(h, spec);
  // The square's frames, odd ones included: the peak on it. Frames more than 2 away (one
  // sampled step and its interpolation) from any square frame are dark.
  EXPECT_EQ(s.peaksInBox, s.presentFrames);
  const size_t plane = static_cast<size_t>(spec.width * spec.height);
  for (int f = 0; f < spec.frames; ++f) {
    if (f >= spec.presentFrom - 2 && f < spec.presentTo + 2) continue;
    EXPECT_LT(*std::max_element(h.data.begin() + f * plane, h.data.begin() + (f + 1) * plane), 0.02f) << f;
  }
}
