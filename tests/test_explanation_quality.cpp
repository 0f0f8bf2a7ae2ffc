// Frame-level explanation quality of the shipped model (models/c3d_small_synth.pt) on freshly
// generated benchmark clips (a seed no training split uses): in the frames where the action
// happens, how often Grad-CAM++'s per-frame peak lies on the acting object (box dilated by 10%
// of the frame), and how much more heat the action's frames get than the others.
//
// Issue 3 asks for >= 90% pointing and "clearly more" heat inside the action range. The shipped
// model was fine-tuned with the "box" loss (docs/training.md): its own Grad-CAM++ maps were
// trained towards the actor's boxes on the training split. So what this measures, on clips no
// training split contains, is that the localisation generalises and that the pipeline carries
// each window's map back to the right frames and pixels (window placement, upsampling, crop
// geometry, normalisation); a slip in any of them costs pointing. The cross-entropy-only model
// (models/c3d_small_synth_ce.pt) points at the actor in only ~60% of the frames: its evidence for
// a moving object lies where the object ends up in the window (models/c3d_small_synth.md).
//
// The number of clips per class defaults to 3; EV_QUALITY_CLIPS_PER_CLASS=N measures more
// (the model card's numbers come from such a run); EV_QUALITY_LAYER=NAME explains another layer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "explain_video/explain.hpp"
#include "explain_video/localization.hpp"
#include "explain_video/npy.hpp"
#include "explain_video/synth.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(evtest::sourceDir()) + "/models/c3d_small_synth.pt";

// The layer explained: EV_QUALITY_LAYER, else the pipeline's default (the last 5D block).
std::string layer() {
  const char* env = std::getenv("EV_QUALITY_LAYER");
  return env ? env : "";
}

struct Quality {
  long actionFrames = 0, hits = 0;        // pointing game over frames inside the action range
  double heatIn = 0, heatOut = 0;         // mean per-frame heat inside / outside the range (partial clips)
  long framesIn = 0, framesOut = 0;
  double pointing() const { return actionFrames ? static_cast<double>(hits) / actionFrames : 0; }
  double ratio() const { return heatOut > 0 ? (heatIn / framesIn) / (heatOut / framesOut) : 1e9; }
};

Quality measure(const std::string& method, int clipsPerClass) {
  const std::string dir = ::testing::TempDir() + "/ev_quality_" + std::to_string(::getpid());
  fs::create_directories(dir);
  ev::SynthParams sp;
  sp.frames = 32;
  Quality q;
  for (const auto& spec : ev::synthSplitPlan("quality", clipsPerClass, 20261126)) {
    const ev::SynthClip clip = ev::renderSynthClip(spec.classId, spec.seed, sp);
    const std::string mp4 = dir + "/" + spec.stem + ".mp4";
    if (!fs::exists(mp4)) ev::writeSynthClip(clip, mp4, dir + "/" + spec.stem + ".json");
    ev::ExplainParams p;
    p.input = mp4;
    p.model = kModel;
    p.methods = {method};
    p.classSpec = std::to_string(spec.classId);  // explain the true class
    p.noVideo = true;
    p.heatmapsNpy = dir + "/" + spec.stem + ".npy";
    p.threads = 2;
    p.layer = layer();
    ev::explainVideo(p);
    const ev::Volume h = ev::readNpy(p.heatmapsNpy);
    const auto& t = clip.truth;
    const int W = static_cast<int>(h.shape[2]), H = static_cast<int>(h.shape[1]);
    for (int f = 0; f < static_cast<int>(h.shape[0]); ++f) {
      const float* m = h.ptr() + static_cast<size_t>(f) * W * H;
      const bool inAction = f >= t.actionStart && f < t.actionEnd;
      if (inAction) {
        // The box dilated by 10% of the frame size.
        const ev::Box box = ev::dilateBox(t.actorBoxes[f], W / 10, H / 10, W, H);
        ++q.actionFrames;
        q.hits += ev::pointingHit(m, W, H, box);
      }
      if (t.partial) {
        (inAction ? q.heatIn : q.heatOut) += ev::meanHeat(m, W, H);
        ++(inAction ? q.framesIn : q.framesOut);
      }
    }
  }
  return q;
}

int clipsPerClass() {
  const char* env = std::getenv("EV_QUALITY_CLIPS_PER_CLASS");
  return env ? std::max(1, std::atoi(env)) : 3;
}

}  // namespace

TEST(ExplanationQuality, GradCamPlusPlusFollowsTheActor) {
  ASSERT_TRUE(fs::exists(kModel)) << kModel;
  const Quality q = measure("gradcam++", clipsPerClass());
  std::cout << "gradcam++: pointing " << q.hits << "/" << q.actionFrames << " = " << q.pointing()
            << ", heat in/out of the action range = " << q.ratio() << "\n";
  RecordProperty("pointing", std::to_string(q.pointing()));
  RecordProperty("heat_ratio", std::to_string(q.ratio()));
  EXPECT_GE(q.pointing(), 0.90);
  EXPECT_GE(q.ratio(), 1.5);  // "clearly above" 1
}

// Grad-CAM is measured and reported alongside (the model card quotes both; the model was trained
// on Grad-CAM++ maps only); it must point at the actor far more often than chance (the dilated
// box covers roughly 10% of the frame).
TEST(ExplanationQuality, GradCamMeasuredAlongside) {
  ASSERT_TRUE(fs::exists(kModel)) << kModel;
  const Quality q = measure("gradcam", clipsPerClass());
  std::cout << "gradcam: pointing " << q.hits << "/" << q.actionFrames << " = " << q.pointing()
            << ", heat in/out of the action range = " << q.ratio() << "\n";
  RecordProperty("pointing", std::to_string(q.pointing()));
  RecordProperty("heat_ratio", std::to_string(q.ratio()));
  EXPECT_GE(q.pointing(), 0.75);
  EXPECT_GE(q.ratio(), 1.2);
}
