// Benchmark: end-to-end explain time against inference-only time of the same model over the
// same windows, measured in one run. Prints the ratio (the target is at most 1.5).
//
//   explain-video-bench MODEL.pt CLIP.mp4 [threads]
//
// inference-only: model.predict() on every window's prepared input (decode and preprocessing
//                 done beforehand and not timed): the least any tool must spend.
// explain:        ev::explainVideo() with default settings writing the annotated MP4:
//                 decoding (twice), windows, forward + gradients, CAM, rendering, encoding.
// --method all:   the same run with every registered method that the model supports (one
//                 capture per window serves them all; the MP4 is the side-by-side grid),
//                 against --method gradcam++ (the default run above). Target: at most 1.10.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/model.hpp"
#include "explain_video/video.hpp"
#include "explain_video/windows.hpp"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.pt CLIP.mp4 [threads]\n", argv[0]);
    return 2;
  }
  const std::string modelPath = argv[1], clip = argv[2];
  const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
  try {
    ev::ExplainParams p;
    p.input = clip;
    p.model = modelPath;
    p.threads = threads;
    p.output = (std::filesystem::temp_directory_path() / "explain-video-bench.mp4").string();

    // Prepare the windows once, untimed.
    std::vector<ev::Window> windows;
    {
      ev::VideoReader reader(clip);
      ev::WindowSampler sampler(p.preprocess, p.windows);
      ev::Frame f;
      ev::Window w;
      while (reader.read(f)) {
        sampler.push(f);
        while (sampler.pop(w)) windows.push_back(w);
      }
      sampler.finish();
      while (sampler.pop(w)) windows.push_back(w);
    }
    ev::Model model(modelPath, threads);
    model.predict(windows.front().input);  // warm-up (allocations, oneDNN kernels)

    const double t0 = now();
    for (const auto& w : windows) model.predict(w.input);
    const double inference = now() - t0;

    ev::explainVideo(p);  // warm-up of the same path (page cache, encoder init)
    const double t1 = now();
    const ev::ExplainResult r = ev::explainVideo(p);
    const double explain = now() - t1;
    ev::ExplainParams all = p;
    all.methods = ev::parseCamMethods("all", "--method", &all.skipUnavailable);
    ev::explainVideo(all);  // warm-up
    const double t2 = now();
    const ev::ExplainResult ra = ev::explainVideo(all);
    const double allSeconds = now() - t2;
    std::filesystem::remove(p.output);

    std::printf("model %s\nclip %s: %lld frames, %zu windows of %d frames (stride %d), layer %s\n", modelPath.c_str(),
                clip.c_str(), static_cast<long long>(r.frames), windows.size(), p.windows.clipLen, p.windows.stride,
                r.layer.c_str());
    std::printf("inference-only  %8.3f s  (%.1f ms/window)\n", inference, 1000 * inference / windows.size());
    std::printf("explain         %8.3f s  (set-up: load + layer probe %.3f s, model %.3f s, render pass %.3f s)\n",
                explain, r.secondsSetup, r.secondsModel, r.secondsRender);
    std::printf("ratio explain/inference = %.2f (target <= 1.5)\n", explain / inference);
    std::printf("ratio without set-up    = %.2f\n", (explain - r.secondsSetup) / inference);
    std::printf("--method all    %8.3f s  (%zu methods: model %.3f s, render pass %.3f s)\n", allSeconds,
                ra.explanations.size(), ra.secondsModel, ra.secondsRender);
    std::printf("ratio all/gradcam++     = %.2f (target <= 1.10)\n", allSeconds / explain);
    return 0;
  } catch (const ev::Error& e) {
    std::fprintf(stderr, "explain-video-bench: %s\n", e.what());
    return 1;
  }
}
