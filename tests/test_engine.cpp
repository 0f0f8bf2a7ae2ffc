// The explain engine with several methods and classes: one capture per window serves every
// method (each map equals a run of that method alone), the side-by-side video's grid, one
// panel per class, the file naming, a loaded Explainer reused across videos, and cam refused
// where the layer is not followed by global average pooling and a linear classifier.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/npy.hpp"
#include "explain_video/render.hpp"
#include "explain_video/video.hpp"
#include "synthetic_clip.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::string dir, clip, empty;
  evtest::SquareClip spec, emptySpec;
};

const Fixture& fixture() {
  static Fixture fx = [] {
    Fixture f;
    f.dir = ::testing::TempDir() + "/ev_engine_" + std::to_string(::getpid());
    fs::remove_all(f.dir);
    fs::create_directories(f.dir);
    f.clip = f.dir + "/square.mp4";
    evtest::writeSquareClip(f.clip, f.spec);
    f.emptySpec.frames = 20;
    f.emptySpec.presentFrom = f.emptySpec.presentTo = 0;  // never a red square
    f.empty = f.dir + "/no_square.mp4";
    evtest::writeSquareClip(f.empty, f.emptySpec);
    return f;
  }();
  return fx;
}

std::string model(const std::string& name) { return std::string(evtest::testModelsDir()) + "/" + name; }

ev::ExplainParams params(const std::string& tag) {
  ev::ExplainParams p;
  p.input = fixture().clip;
  p.model = model("red_detector.pt");
  p.labelsFile = model("red_detector_labels.txt");
  p.classSpec = "0";
  p.noVideo = true;
  p.heatmapsNpy = fixture().dir + "/" + tag + ".npy";
  p.threads = 2;
  return p;
}

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

int64_t countFrames(const std::string& path, ev::VideoInfo* info) {
  ev::VideoReader r(path);
  *info = r.info();
  ev::Frame f;
  int64_t n = 0;
  while (r.read(f)) ++n;
  return n;
}

}  // namespace

// One run with every method gives, for each, exactly the heatmaps of a run with that method
// alone: the shared capture changes nothing.
TEST(Engine, AllMethodsInOneRunEqualEachMethodAlone) {
  ev::ExplainParams all = params("all");
  all.methods = ev::parseCamMethods("all");
  all.jsonFile = fixture().dir + "/all.json";
  const ev::ExplainResult r = ev::explainVideo(all);
  ASSERT_EQ(r.explanations.size(), all.methods.size());
  for (const std::string& m : all.methods) {
    ev::ExplainParams one = params("one");
    one.methods = {m};
    ev::explainVideo(one);
    const ev::Volume alone = ev::readNpy(one.heatmapsNpy);
    const ev::Volume shared = ev::readNpy(ev::taggedPath(all.heatmapsNpy, m));
    ASSERT_EQ(alone.shape, shared.shape) << m;
    EXPECT_TRUE(alone.data == shared.data) << m;
  }
  EXPECT_FALSE(fs::exists(all.heatmapsNpy));  // only the tagged files
  const nlohmann::json j = readJson(all.jsonFile);
  EXPECT_EQ(j["methods"].get<std::vector<std::string>>(), all.methods);
  ASSERT_EQ(j["explanations"].size(), all.methods.size());
  for (const auto& e : j["explanations"]) {
    EXPECT_EQ(e["class"], 0);
    EXPECT_EQ(e["zero_windows"], 0) << e["method"];
    EXPECT_EQ(e["heatmaps"], ev::taggedPath(all.heatmapsNpy, e["method"].get<std::string>()));
    EXPECT_EQ(e["frame_importance"].size(), 45u);
  }
}

// Several methods: the input and one panel per method, side by side at source size.
TEST(Engine, SideBySideVideoHasTheDocumentedGrid) {
  const auto& spec = fixture().spec;
  struct Case {
    std::string methods, classes;
    int columns, rows;
  };
  for (const Case& c : {Case{"gradcam++,gradcam", "0", 3, 1}, Case{"gradcam++", "0,1", 3, 1},
                        Case{"gradcam++,gradcam", "top2", 3, 2}, Case{"all", "0", 3, 3}}) {
    ev::ExplainParams p = params("grid");
    p.heatmapsNpy.clear();
    p.noVideo = false;
    p.methods = ev::parseCamMethods(c.methods);
    p.classSpec = c.classes;
    p.output = fixture().dir + "/grid.mp4";
    const ev::ExplainResult r = ev::explainVideo(p);
    const ev::GridLayout g = ev::gridLayout(static_cast<int>(r.explanations.size()) + 1, spec.width, spec.height);
    EXPECT_EQ(g.columns, c.columns) << c.methods << " " << c.classes;
    EXPECT_EQ(g.rows, c.rows) << c.methods << " " << c.classes;
    ev::VideoInfo info;
    EXPECT_EQ(countFrames(r.output, &info), spec.frames);
    EXPECT_EQ(info.width, c.columns * spec.width);
    EXPECT_EQ(info.height, c.rows * spec.height);
    EXPECT_NEAR(info.fps, spec.fpsNum, 1e-6);
  }
}

TEST(Engine, GridLayoutRule) {
  struct Want {
    int n, columns, rows;
  };
  for (const Want& w : {Want{1, 1, 1}, Want{2, 2, 1}, Want{4, 4, 1}, Want{5, 3, 2}, Want{9, 3, 3}, Want{10, 4, 3}}) {
    const ev::GridLayout g = ev::gridLayout(w.n, 320, 240);
    EXPECT_EQ(g.columns, w.columns) << w.n;
    EXPECT_EQ(g.rows, w.rows) << w.n;
    EXPECT_EQ(g.panelWidth, 320);
    EXPECT_EQ(g.panelHeight, 240);
  }
  // 9 panels of 4096×2160 would be 12288×6480: every panel shrinks by min(7680/12288,
  // 4320/6480) = 0.625 to 2560×1350.
  const ev::GridLayout big = ev::gridLayout(9, 4096, 2160);
  EXPECT_EQ(big.panelWidth, 2560);
  EXPECT_EQ(big.panelHeight, 1350);
  EXPECT_LE(big.width(), ev::kMaxGridWidth);
  EXPECT_LE(big.height(), ev::kMaxGridHeight);
}

// --class with a list or topK: one explanation per class, files tagged by class id.
TEST(Engine, SeveralClassesGiveOnePanelEach) {
  ev::ExplainParams p = params("classes");
  p.classSpec = "top2";
  p.jsonFile = fixture().dir + "/classes.json";
  p.rawDir = fixture().dir + "/classes_raw";
  fs::remove_all(p.rawDir);
  const ev::ExplainResult r = ev::explainVideo(p);
  ASSERT_EQ(r.explanations.size(), 2u);
  EXPECT_EQ(r.explanations[0].className, "red");  // the detector's top-1 on this clip
  EXPECT_EQ(r.explanations[1].className, "no red");
  EXPECT_GT(r.explanations[0].classScore, r.explanations[1].classScore);
  // "red" follows the square; "no red" has a negative gradient on red and stays dark.
  const ev::Volume red = ev::readNpy(ev::taggedPath(p.heatmapsNpy, "c0"));
  EXPECT_EQ(red.shape[0], fixture().spec.frames);
  EXPECT_TRUE(fs::exists(ev::taggedPath(p.heatmapsNpy, "c1")));
  EXPECT_EQ(r.explanations[1].zeroWindows, r.windows);
  EXPECT_FALSE(r.warnings.empty());
  const nlohmann::json j = readJson(p.jsonFile);
  ASSERT_EQ(j["classes"].size(), 2u);
  EXPECT_EQ(j["classes"][1]["name"], "no red");
  EXPECT_EQ(j["class"]["chosen"], "top-2 of mean logits");
  EXPECT_TRUE(fs::exists(p.rawDir + "/window_0000_cam.c0.npy"));
  EXPECT_TRUE(fs::exists(p.rawDir + "/window_0000_cam.c1.npy"));
  EXPECT_TRUE(fs::exists(p.rawDir + "/window_0000_input.npy"));
  const nlohmann::json w = readJson(p.rawDir + "/window_0000.json");
  ASSERT_EQ(w["cams"].size(), 2u);
  EXPECT_EQ(w["cams"][1]["file"], "window_0000_cam.c1.npy");
  // The same two classes named explicitly give the same maps.
  ev::ExplainParams named = params("classes_named");
  named.classSpec = "red,no red";
  ev::explainVideo(named);
  EXPECT_TRUE(ev::readNpy(ev::taggedPath(named.heatmapsNpy, "c0")).data == red.data);
}

TEST(Engine, ClassListErrors) {
  ev::ExplainParams p = params("bad_classes");
  for (const char* spec : {"0,0", "top0", "red,purple", ",", "-1", "red,-2"}) {
    p.classSpec = spec;
    try {
      ev::explainVideo(p);
      ADD_FAILURE() << spec << ": no error";
    } catch (const ev::Error& e) {
      EXPECT_EQ(e.kind(), ev::ErrorKind::Model) << spec << ": " << e.what();  // class problems: exit 4
      EXPECT_NE(std::string(e.what()).find("--class"), std::string::npos) << e.what();
    }
  }
  // topK beyond the model's classes is clipped, and says so.
  p.classSpec = "top5";
  const ev::ExplainResult r = ev::explainVideo(p);
  EXPECT_EQ(r.explanations.size(), 2u);
  bool said = false;
  for (const auto& w : r.warnings) said = said || w.find("only 2 classes") != std::string::npos;
  EXPECT_TRUE(said);
}

// An explanation that is all zero is reported, not silently rendered black.
TEST(Engine, AllZeroExplanationIsReported) {
  ev::ExplainParams p = params("zero");
  p.input = fixture().empty;
  p.jsonFile = fixture().dir + "/zero.json";
  const ev::ExplainResult r = ev::explainVideo(p);
  ASSERT_EQ(r.explanations.size(), 1u);
  EXPECT_EQ(r.explanations[0].zeroWindows, r.windows);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("all zero in 2 of 2 windows (the whole explanation is empty)"), std::string::npos)
      << r.warnings[0];
  // No red anywhere: the detector's activation is zero, and the line says so and what to try.
  EXPECT_NE(r.warnings[0].find(": the layer's activation is zero; try another layer (--list-layers)"), std::string::npos)
      << r.warnings[0];
  const nlohmann::json j = readJson(p.jsonFile);
  EXPECT_EQ(j["explanations"][0]["zero_windows"], 2);
  EXPECT_EQ(j["explanations"][0]["empty_reasons"]["zero_activation"], 2);
  EXPECT_EQ(j["warnings"].size(), 1u);
  for (const auto& w : j["windows"]) {
    ASSERT_EQ(w["maps"].size(), 1u);
    EXPECT_EQ(w["maps"][0]["empty"], "zero_activation");
    EXPECT_EQ(w["maps"][0]["max"], 0.0);
  }
}

// The "no red" class on the clip with the square: its gradient at the detector is -200/cells
// everywhere, so Grad-CAM is zero by construction where red is (no positive gradient) and where
// it is not (zero activation). The JSON says why per window, stderr warns, --strict refuses
// and leaves nothing behind.
TEST(Engine, EmptyByConstructionWarnsAndStrictFails) {
  ev::ExplainParams p = params("noredclass");
  p.classSpec = "1";
  p.methods = {"gradcam"};
  p.windows.clipLen = p.windows.stride = 8;  // windows 0-7 and from 32 on see no red
  p.jsonFile = fixture().dir + "/nored.json";
  const ev::ExplainResult r = ev::explainVideo(p);
  EXPECT_EQ(r.explanations[0].zeroWindows, r.windows);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("gradcam for 'no red': the map is all zero in"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("most often because no positive gradient"), std::string::npos) << r.warnings[0];
  const nlohmann::json j = readJson(p.jsonFile);
  int positive = 0, inactive = 0;
  for (const auto& w : j["windows"]) {
    positive += w["maps"][0]["empty"] == "no_positive_gradient";
    inactive += w["maps"][0]["empty"] == "zero_activation";
  }
  EXPECT_GT(positive, 0);
  EXPECT_GT(inactive, 0);
  EXPECT_EQ(positive + inactive, r.windows);
  EXPECT_EQ(j["explanations"][0]["empty_reasons"]["no_positive_gradient"], positive);

  ev::ExplainParams strict = params("strict");
  strict.classSpec = "1";
  strict.strict = true;
  strict.noVideo = false;
  strict.output = fixture().dir + "/strict.mp4";
  strict.jsonFile = fixture().dir + "/strict.json";
  try {
    ev::explainVideo(strict);
    ADD_FAILURE() << "--strict accepted an empty explanation";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Strict);
    EXPECT_NE(std::string(e.what()).find("--strict: gradcam++ for 'no red': the map is all zero"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(strict.output));
  EXPECT_FALSE(fs::exists(strict.jsonFile));
  EXPECT_FALSE(fs::exists(strict.heatmapsNpy));
  // The same run on the red class has heat everywhere it should and passes --strict.
  strict.classSpec = "0";
  EXPECT_TRUE(ev::explainVideo(strict).warnings.empty());
  EXPECT_TRUE(fs::exists(strict.jsonFile));
}

// Load once, explain many: one Explainer gives what a fresh run gives, video after video.
TEST(Engine, OneExplainerExplainsSeveralVideos) {
  ev::ExplainParams p = params("reuse");
  ev::Explainer ex(p);
  EXPECT_EQ(ex.layer(), "pool");
  for (const std::string& clip : {fixture().clip, fixture().empty, fixture().clip}) {
    ev::ExplainRequest rq = p;
    rq.input = clip;
    rq.heatmapsNpy = fixture().dir + "/reuse_shared.npy";
    ex.explain(rq);
    ev::ExplainParams fresh = p;
    fresh.input = clip;
    fresh.heatmapsNpy = fixture().dir + "/reuse_fresh.npy";
    ev::explainVideo(fresh);
    EXPECT_TRUE(ev::readNpy(rq.heatmapsNpy).data == ev::readNpy(fresh.heatmapsNpy).data) << clip;
  }
}

// cam needs global average pooling and a linear layer after the layer: C3D's pool5 goes
// through flatten and three linear layers, so cam is refused with what is in between, before
// any output exists; `all` leaves it out and says why.
TEST(Engine, CamRefusedWithoutAPooledLinearHead) {
  ev::ExplainParams p = params("cam_c3d");
  p.model = std::string(evtest::sourceDir()) + "/models/c3d_small_synth.pt";
  p.labelsFile.clear();
  p.methods = {"cam"};
  p.noVideo = false;
  p.output = fixture().dir + "/cam_c3d.mp4";
  try {
    ev::explainVideo(p);
    FAIL() << "no error";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Model);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("c3d_small_synth.pt: cam needs layer 'pool5' to be followed by global average pooling"),
              std::string::npos) << msg;
    EXPECT_NE(msg.find("between it and the logits: flatten, linear"), std::string::npos) << msg;
    EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 0);
  }
  EXPECT_FALSE(fs::exists(p.output));
  EXPECT_FALSE(fs::exists(p.heatmapsNpy));
  p.methods = ev::parseCamMethods("all", "--method", &p.skipUnavailable);
  const ev::ExplainResult r = ev::explainVideo(p);
  EXPECT_EQ(r.explanations.size(), ev::parseCamMethods("all").size() - 1);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_EQ(r.warnings[0].rfind("cam skipped: cam needs layer 'pool5'", 0), 0u) << r.warnings[0];
}

// On a model whose layer is followed by global average pooling and a linear layer (the red
// detector: pool → gap → fc), g = W[c,k] / (T'·H'·W') everywhere, so CAM's volume is Grad-CAM's
// times the number of cells, window by window.
TEST(Engine, CamIsGradCamTimesCellCountOnAPooledLinearModel) {
  ev::ExplainParams p = params("cam_vs_gradcam");
  p.methods = {"cam", "gradcam"};
  p.rawDir = fixture().dir + "/cam_raw";
  fs::remove_all(p.rawDir);
  const ev::ExplainResult r = ev::explainVideo(p);
  for (int64_t w = 0; w < r.windows; ++w) {
    char base[64];
    std::snprintf(base, sizeof base, "/window_%04d_cam.", static_cast<int>(w));
    const ev::Volume cam = ev::readNpy(p.rawDir + base + "cam.npy");
    const ev::Volume gc = ev::readNpy(p.rawDir + base + "gradcam.npy");
    ASSERT_EQ(cam.shape, gc.shape);
    const double cells = static_cast<double>(cam.size());  // T'·H'·W' = 16·56·56
    double peak = 0;
    for (size_t i = 0; i < cam.size(); ++i) {
      ASSERT_NEAR(cam.data[i], gc.data[i] * cells, 1e-4 * (1 + std::abs(cam.data[i]))) << "window " << w << " cell " << i;
      peak = std::max(peak, static_cast<double>(cam.data[i]));
    }
    EXPECT_GT(peak, 0.0) << "window " << w;  // not trivially equal
  }
}

// The progress moves inside a batch whose methods make many passes: with every window in one
// batch, rise's passes are reported chunk by chunk before the batch completes, and the count
// (done + in flight) never goes back.
TEST(Engine, ProgressCountsPassesInsideABatch) {
  ev::ExplainParams p = params("tick");
  p.methods = {"rise"};
  p.perturbation.riseMasks = 40;
  p.batchSize = 64;
  std::vector<ev::ExplainProgress> seen;
  const ev::ExplainResult r = ev::explainVideo(p, [&](const ev::ExplainProgress& e) { seen.push_back(e); });
  int64_t inFlightReports = 0, last = -1;
  for (const auto& e : seen) {
    if (e.stage != "explain") continue;
    if (e.passesInBatch > 0 && e.windowsDone == 0) ++inFlightReports;
    EXPECT_GE(e.passes + e.passesInBatch, last);
    last = e.passes + e.passesInBatch;
  }
  // 40 masks per window in chunks of 64: at least one report per window before the batch ends.
  EXPECT_GE(inFlightReports, r.windows);
  EXPECT_EQ(last, r.modelPasses);
}
