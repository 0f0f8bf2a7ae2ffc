// Benchmarks, each a ratio measured in one run of this program (not a timed test):
//
//   explain-video-bench MODEL.pt CLIP.mp4 [threads] [repetitions, default 3]
//     inference-only: Model::predict over every window's prepared input (decode and
//                     preprocessing done beforehand, not timed), at batch 1 and at the default
//                     batch size: the least any tool must spend; the faster one is the limit.
//     explain:        ev::explainVideo() with default settings writing the annotated MP4
//                     (decoding twice, windows, forward + gradients, CAM, rendering, encoding).
//     --method all:   the same with every registered method the model supports (one capture per
//                     window serves them all; the MP4 is the side-by-side grid).
//     The three alternate `repetitions` times; every ratio is taken between medians.
//   explain-video-bench --eval MODEL.pt CLIP.mp4 [threads]
//     eval of one clip with the default curves: its seconds and forward passes, against those
//     passes at the limit throughput (inference-only at the default batch size).
//   explain-video-bench --rss MODEL.pt CLIP.mp4 LONG_CLIP.mp4 [threads]
//     peak resident memory (each in a child process) of inference-only and of explain on CLIP,
//     and of explain on LONG_CLIP (streaming: it must not grow with the video's length).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/model.hpp"
#include "explain_video/video.hpp"
#include "explain_video/windows.hpp"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string range(const std::vector<double>& v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f-%.3f", *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
  return buf;
}

std::vector<ev::Window> prepareWindows(const std::string& clip, const ev::ExplainParams& p) {
  std::vector<ev::Window> windows;
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
  return windows;
}

// Seconds to score every window at batch size `batch` (the last batch may be smaller).
double inferenceSeconds(ev::Model& model, const std::vector<ev::Window>& windows, int batch) {
  const double t = now();
  for (size_t i = 0; i < windows.size(); i += static_cast<size_t>(batch)) {
    std::vector<const ev::Volume*> in;
    for (size_t j = i; j < std::min(windows.size(), i + batch); ++j) in.push_back(&windows[j].input);
    model.predict(in);
  }
  return now() - t;
}

// Peak RSS in MB of `job` run in a child process.
double peakRssMb(const std::function<void()>& job) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    try {
      job();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "explain-video-bench: %s\n", e.what());
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  struct rusage ru;
  std::memset(&ru, 0, sizeof ru);
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw ev::Error(ev::ErrorKind::Internal, "a measured child failed");
  return ru.ru_maxrss / 1024.0;
}

int benchExplain(const std::string& modelPath, const std::string& clip, int threads, int reps) {
  ev::ExplainParams p;
  p.input = clip;
  p.model = modelPath;
  p.threads = threads;
  p.output = (std::filesystem::temp_directory_path() / "explain-video-bench.mp4").string();
  const std::vector<ev::Window> windows = prepareWindows(clip, p);
  ev::Model model(modelPath, threads);
  model.predict(windows.front().input);  // warm-up (allocations, oneDNN kernels)
  ev::ExplainParams all = p;
  all.methods = ev::parseCamMethods("all", "--method", &all.skipUnavailable);
  ev::explainVideo(p);  // warm-up of the same paths (page cache, encoder init)
  ev::explainVideo(all);

  // The machine's speed drifts (a shared 2-core VM): the measurements alternate, `reps` times.
  std::vector<double> inf1, infB, explain, allSeconds;
  ev::ExplainResult r, ra;
  for (int i = 0; i < reps; ++i) {
    inf1.push_back(inferenceSeconds(model, windows, 1));
    infB.push_back(inferenceSeconds(model, windows, ev::kDefaultBatchSize));
    double t = now();
    r = ev::explainVideo(p);
    explain.push_back(now() - t);
    t = now();
    ra = ev::explainVideo(all);
    allSeconds.push_back(now() - t);
  }
  std::filesystem::remove(p.output);
  const double i1 = median(inf1), iB = median(infB), limit = std::min(i1, iB), ex = median(explain),
               al = median(allSeconds);
  std::printf("model %s\nclip %s: %lld frames, %zu windows of %d frames (stride %d), layer %s; medians of %d runs\n",
              modelPath.c_str(), clip.c_str(), static_cast<long long>(r.frames), windows.size(), p.windows.clipLen,
              p.windows.stride, r.layer.c_str(), reps);
  std::printf("inference-only  %8.3f s at batch 1 (runs %s s), %.3f s at batch %d (runs %s s): limit %.3f s\n", i1,
              range(inf1).c_str(), iB, ev::kDefaultBatchSize, range(infB).c_str(), limit);
  std::printf("explain         %8.3f s  (runs %s s; last: set-up %.3f s, model %.3f s, render pass %.3f s)\n", ex,
              range(explain).c_str(), r.secondsSetup, r.secondsModel, r.secondsRender);
  std::printf("ratio explain/inference = %.2f (against the limit; target <= 1.10)\n", ex / limit);
  std::printf("ratio without set-up    = %.2f\n", (ex - r.secondsSetup) / limit);
  std::printf("--method all    %8.3f s  (runs %s s; %zu methods; last: model %.3f s, render pass %.3f s)\n", al,
              range(allSeconds).c_str(), ra.explanations.size(), ra.secondsModel, ra.secondsRender);
  std::printf("ratio all/gradcam++     = %.2f (target <= 1.10)\n", al / ex);
  std::printf("ratio all/inference     = %.2f\n", al / limit);
  return 0;
}

int benchEval(const std::string& modelPath, const std::string& clip, int threads) {
  ev::ExplainParams p;
  const std::vector<ev::Window> windows = prepareWindows(clip, p);
  ev::Model model(modelPath, threads);
  model.predict(windows.front().input);
  std::vector<double> per;
  for (int i = 0; i < 3; ++i)
    per.push_back(inferenceSeconds(model, windows, ev::kDefaultBatchSize) / static_cast<double>(windows.size()));
  const double perPass = median(per);  // seconds per input at the limit throughput
  ev::EvalParams e;
  e.inputs = {clip};
  e.model = modelPath;
  e.threads = threads;
  const double t = now();
  const ev::EvalResult r = ev::runEvaluation(e);
  const double seconds = now() - t;
  std::printf("eval of %s with %s (default curves, methods gradcam++,gradcam): %lld windows, %lld forward passes\n",
              clip.c_str(), modelPath.c_str(), static_cast<long long>(r.totalWindows()),
              static_cast<long long>(r.forwardPasses));
  std::printf("eval %8.3f s; the same passes at the limit (batch %d, %.1f ms per input): %.3f s\n", seconds,
              ev::kDefaultBatchSize, 1000 * perPass, perPass * r.forwardPasses);
  std::printf("ratio eval/forward-limit = %.2f (target <= 1.20)\n", seconds / (perPass * r.forwardPasses));
  return 0;
}

int benchRss(const std::string& modelPath, const std::string& clip, const std::string& longClip, int threads) {
  ev::ExplainParams p;
  p.model = modelPath;
  p.threads = threads;
  p.output = (std::filesystem::temp_directory_path() / "explain-video-bench-rss.mp4").string();
  // Inference-only streams too: decode, windows, batches of the default size through the model.
  const double inf = peakRssMb([&] {
    ev::Model model(modelPath, threads);
    ev::VideoReader reader(clip);
    ev::WindowSampler sampler(p.preprocess, p.windows);
    ev::Frame f;
    std::vector<ev::Window> batch;
    ev::Window w;
    auto drain = [&](bool all) {
      while (sampler.pop(w)) batch.push_back(w);
      if (batch.size() >= static_cast<size_t>(ev::kDefaultBatchSize) || (all && !batch.empty())) {
        std::vector<const ev::Volume*> in;
        for (const auto& x : batch) in.push_back(&x.input);
        model.predict(in);
        batch.clear();
      }
    };
    while (reader.read(f)) {
      sampler.push(f);
      drain(false);
    }
    sampler.finish();
    drain(true);
  });
  p.input = clip;
  const double ex = peakRssMb([&] { ev::explainVideo(p); });
  p.input = longClip;
  const double exLong = peakRssMb([&] { ev::explainVideo(p); });
  std::filesystem::remove(p.output);
  std::printf("peak RSS: inference-only %.0f MB, explain %.0f MB on %s, %.0f MB on %s\n", inf, ex, clip.c_str(), exLong,
              longClip.c_str());
  std::printf("ratio rss explain/inference = %.2f (target <= 1.15)\n", ex / inf);
  std::printf("ratio rss long/short        = %.2f (flat: within 1.10)\n", exLong / ex);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 4 && std::string(argv[1]) == "--eval")
      return benchEval(argv[2], argv[3], argc > 4 ? std::atoi(argv[4]) : 0);
    if (argc >= 5 && std::string(argv[1]) == "--rss")
      return benchRss(argv[2], argv[3], argv[4], argc > 5 ? std::atoi(argv[5]) : 0);
    if (argc >= 3 && argv[1][0] != '-')
      return benchExplain(argv[1], argv[2], argc > 3 ? std::atoi(argv[3]) : 0,
                          argc > 4 ? std::max(1, std::atoi(argv[4])) : 3);
    std::fprintf(stderr,
                 "usage: %s MODEL.pt CLIP.mp4 [threads] [repetitions]\n"
                 "       %s --eval MODEL.pt CLIP.mp4 [threads]\n"
                 "       %s --rss MODEL.pt CLIP.mp4 LONG_CLIP.mp4 [threads]\n",
                 argv[0], argv[0], argv[0]);
    return 2;
  } catch (const ev::Error& e) {
    std::fprintf(stderr, "explain-video-bench: %s\n", e.what());
    return 1;
  }
}
