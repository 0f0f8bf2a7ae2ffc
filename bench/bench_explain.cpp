// Benchmark: end-to-end explain time against inference-only time of the same model over the
// same windows, measured in one run. Prints the ratio (the target is at most 1.5).
//
//   explain-video-bench MODEL.pt CLIP.mp4 [threads] [repetitions, default 3]
//
// inference-only: model.predict() on every window's prepared input (decode and preprocessing
//                 done beforehand and not timed): the least any tool must spend.
// explain:        ev::explainVideo() with default settings writing the annotated MP4:
//                 decoding (twice), windows, forward + gradients, CAM, rendering, encoding.
// --method all:   the same run with every registered method that the model supports (one
//                 capture per window serves them all; the MP4 is the side-by-side grid),
//                 against --method gradcam++ (the default run above). Target: at most 1.10.
#include <algorithm>
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
    ev::ExplainParams all = p;
    all.methods = ev::parseCamMethods("all", "--method", &all.skipUnavailable);
    ev::explainVideo(p);  // warm-up of the same paths (page cache, encoder init)
    ev::explainVideo(all);

    // The machine's speed drifts (a shared 2-core VM): the three measurements alternate, `reps`
    // times, and every ratio is taken between the medians of one run of this program.
    const int reps = argc > 4 ? std::max(1, std::atoi(argv[4])) : 3;
    std::vector<double> inference, explain, allSeconds;
    ev::ExplainResult r, ra;
    for (int i = 0; i < reps; ++i) {
      double t = now();
      for (const auto& w : windows) model.predict(w.input);
      inference.push_back(now() - t);
      t = now();
      r = ev::explainVideo(p);
      explain.push_back(now() - t);
      t = now();
      ra = ev::explainVideo(all);
      allSeconds.push_back(now() - t);
    }
    std::filesystem::remove(p.output);
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    auto range = [](const std::vector<double>& v) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f-%.3f", *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
      return std::string(buf);
    };
    const double inf = median(inference), ex = median(explain), al = median(allSeconds);

    std::printf("model %s\nclip %s: %lld frames, %zu windows of %d frames (stride %d), layer %s; medians of %d runs\n",
                modelPath.c_str(), clip.c_str(), static_cast<long long>(r.frames), windows.size(), p.windows.clipLen,
                p.windows.stride, r.layer.c_str(), reps);
    std::printf("inference-only  %8.3f s  (%.1f ms/window; runs %s s)\n", inf, 1000 * inf / windows.size(),
                range(inference).c_str());
    std::printf("explain         %8.3f s  (runs %s s; last: set-up %.3f s, model %.3f s, render pass %.3f s)\n", ex,
                range(explain).c_str(), r.secondsSetup, r.secondsModel, r.secondsRender);
    std::printf("ratio explain/inference = %.2f (target <= 1.5)\n", ex / inf);
    std::printf("ratio without set-up    = %.2f\n", (ex - r.secondsSetup) / inf);
    std::printf("--method all    %8.3f s  (runs %s s; %zu methods; last: model %.3f s, render pass %.3f s)\n", al,
                range(allSeconds).c_str(), ra.explanations.size(), ra.secondsModel, ra.secondsRender);
    std::printf("ratio all/gradcam++     = %.2f (target <= 1.10)\n", al / ex);
    return 0;
  } catch (const ev::Error& e) {
    std::fprintf(stderr, "explain-video-bench: %s\n", e.what());
    return 1;
  }
}
