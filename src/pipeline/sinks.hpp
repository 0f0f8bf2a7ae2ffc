// The outputs of an explain run, fed by the engine. Each sink claims its files when it is made
// (temporary names beside the targets, so a bad path fails before any work) and moves them
// into place only in commit(), which the engine calls for all of them once everything
// succeeded. The engine knows nothing about file formats; the sinks know nothing about tensors.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "explain_video/error.hpp"
#include "explain_video/render.hpp"
#include "explain_video/video.hpp"
#include "explain_video/volume.hpp"
#include "io/atomic_output.hpp"

namespace ev {

// One explanation shown or saved: a method for a class. `tag` names its files when a run has
// several ("gradcam", "c3", "gradcam.c3"; empty for a single one).
struct Panel {
  std::string method;
  int classId = -1;
  std::string className;
  std::string tag;
  std::string title;  // the side-by-side panel's title
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void commit() = 0;
  virtual std::vector<std::string> targets() const = 0;  // where commit() puts files (CommitLock)
};

// Runs `f`; an Error it throws names `out`'s target instead of its temporary.
template <class Out, class F>
void namingTarget(const Out& out, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    throw Error(e.kind(), out.userMessage(e.what()));
  }
}

// The annotated MP4: the single explanation over the video, or the side-by-side grid.
class Mp4Sink : public Sink {
 public:
  explicit Mp4Sink(const std::string& path);
  ~Mp4Sink() override;
  const std::string& path() const { return out_.target(); }
  // Opens the encoder for frames of `info`'s size (the grid's with several panels).
  // `seen`: the part of the frame the model saw (Renderer::setSeen).
  void begin(const VideoInfo& info, const PixelRect& seen, const std::vector<Panel>& panels, const std::vector<std::vector<float>>& importance,
             const RenderParams& render, int crf, const std::string& preset);
  // `frame` is the decoded frame (drawn on); heat[p] its heatmap in [0,1] for panel p.
  void frame(Frame& frame, const std::vector<std::vector<float>>& heat, const std::vector<double>& prob);
  void close();
  void commit() override { out_.commit(); }
  std::vector<std::string> targets() const override { return {out_.target()}; }

 private:
  // The encoder (colour conversion and H.264) runs on its own thread behind a short queue, so
  // drawing the next frame overlaps encoding this one.
  class EncoderThread;
  void encode(Frame& frame);

  AtomicOutput out_;
  std::unique_ptr<EncoderThread> encoder_;
  std::vector<Panel> panels_;
  std::vector<std::unique_ptr<Renderer>> renderers_;
  GridLayout layout_;
  Frame grid_;
  std::vector<Frame> scratch_;  // one per panel
  std::string inputTitle_;
};

// --save-heatmaps: float32 (frames, height, width) per panel.
class NpySink : public Sink {
 public:
  NpySink(const std::string& path, const std::vector<Panel>& panels);
  ~NpySink() override;
  void begin(int64_t frames, int height, int width);
  void frame(const std::vector<std::vector<float>>& heat);
  void close();
  void commit() override;
  std::vector<std::string> targets() const override;

 private:
  struct File;
  std::vector<std::unique_ptr<File>> files_;
};

// --save-raw: per window the exact model input, each panel's map and a JSON record. Files of
// that naming (window_NNNN...) left in the folder by an earlier run are replaced or removed at
// commit; other files there stay.
class RawDirSink : public Sink {
 public:
  explicit RawDirSink(const std::string& dir);
  void input(int64_t window, const Volume& input);
  void window(int64_t window, const std::vector<Panel>& panels, const std::vector<const Volume*>& maps,
              nlohmann::json record);
  void commit() override { out_.commit(); }
  std::vector<std::string> targets() const override { return {out_.dir()}; }

 private:
  void writeWindow(int64_t window, const std::vector<Panel>& panels, const std::vector<const Volume*>& maps,
                   nlohmann::json record);
  AtomicOutputDir out_;
};

// --json: the summary.
class JsonSink : public Sink {
 public:
  explicit JsonSink(const std::string& path) : out_(path) {}
  void write(const nlohmann::json& j);
  void commit() override { out_.commit(); }
  std::vector<std::string> targets() const override { return {out_.target()}; }

 private:
  AtomicOutput out_;
};

// "window_0007".
std::string windowName(int64_t index);

}  // namespace ev
