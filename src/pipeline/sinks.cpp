#include "pipeline/sinks.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>
#include <iomanip>
#include <sstream>

#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/npy.hpp"

namespace ev {
namespace {

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(ErrorKind::Output, path + ": write failed (" + std::strerror(errno) + ")");
}

}  // namespace

std::string windowName(int64_t i) {
  std::ostringstream s;
  s << "window_" << std::setw(4) << std::setfill('0') << i;
  return s.str();
}

// ---- MP4 ----

class Mp4Sink::EncoderThread {
 public:
  explicit EncoderThread(std::unique_ptr<VideoWriter> writer) : writer_(std::move(writer)), thread_([this] { run(); }) {}
  ~EncoderThread() {
    {
      std::lock_guard<std::mutex> lock(m_);
      queue_.clear();  // an abandoned run: frames not yet encoded are dropped
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Takes the frame's pixels (swapped out); blocks while the queue is full. Rethrows the
  // encoder's error, if it had one.
  void push(Frame& frame) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return queue_.size() + (busy_ ? 1 : 0) < kDepth || error_; });
    if (error_) std::rethrow_exception(error_);
    queue_.emplace_back();
    std::swap(queue_.back(), frame);
    cv_.notify_all();
  }
  void close() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || error_; });
    if (error_) std::rethrow_exception(error_);
    lock.unlock();
    writer_->close();  // the queue is drained: the thread is idle
  }

 private:
  static constexpr size_t kDepth = 3;
  void run() {
    for (;;) {
      Frame f;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        f = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
      }
      std::exception_ptr err;
      try {
        writer_->write(f);
      } catch (...) {
        err = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        busy_ = false;
        if (err) error_ = err;
      }
      cv_.notify_all();
      if (err) return;
    }
  }
  std::unique_ptr<VideoWriter> writer_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Frame> queue_;
  std::exception_ptr error_;
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

Mp4Sink::Mp4Sink(const std::string& path) : out_(path, ".mp4") {}
Mp4Sink::~Mp4Sink() = default;

void Mp4Sink::encode(Frame& frame) {
  namingTarget(out_, [&] { encoder_->push(frame); });
}

void Mp4Sink::begin(const VideoInfo& info, const PixelRect& seen, const std::vector<Panel>& panels,
                    const std::vector<std::vector<float>>& importance, const RenderParams& render, int crf,
                    const std::string& preset) {
  panels_ = panels;
  // One class for every panel: the input panel names it; otherwise each panel does.
  inputTitle_ = "input";
  if (std::all_of(panels.begin(), panels.end(), [&](const Panel& p) { return p.classId == panels.front().classId; }))
    inputTitle_ += ": " + panels.front().className;
  for (size_t p = 0; p < panels.size(); ++p) {
    renderers_.push_back(std::make_unique<Renderer>(render, panels[p].title, importance.at(p)));
    renderers_.back()->setSeen(seen);
  }
  VideoWriterOptions wo;
  wo.width = info.width;
  wo.height = info.height;
  if (panels.size() > 1) {
    layout_ = gridLayout(static_cast<int>(panels.size()) + 1, info.width, info.height);
    wo.width = layout_.width();
    wo.height = layout_.height();
    grid_.width = wo.width;
    grid_.height = wo.height;
  }
  wo.fpsNum = info.fpsNum;
  wo.fpsDen = info.fpsDen;
  wo.crf = crf;
  wo.preset = preset;
  namingTarget(out_, [&] { encoder_ = std::make_unique<EncoderThread>(std::make_unique<VideoWriter>(out_.tempPath(), wo)); });
}

void Mp4Sink::frame(Frame& frame, const std::vector<std::vector<float>>& heat, const std::vector<double>& prob) {
  if (panels_.size() == 1) {
    renderers_[0]->render(frame, heat.at(0).data(), prob.at(0));
    encode(frame);
    return;
  }
  grid_.width = layout_.width();
  grid_.height = layout_.height();
  grid_.rgb.assign(static_cast<size_t>(grid_.width) * grid_.height * 3, 0);
  grid_.index = frame.index;
  grid_.time = frame.time;
  scratch_.resize(panels_.size());
  // Panels are independent: draw them on the cores (the model is idle in this pass).
  at::parallel_for(0, static_cast<int64_t>(panels_.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      Frame& f = scratch_[static_cast<size_t>(p)];
      f = frame;
      renderers_[static_cast<size_t>(p)]->render(f, heat.at(static_cast<size_t>(p)).data(), prob.at(static_cast<size_t>(p)));
      placePanel(grid_, layout_, static_cast<int>(p) + 1, f);
    }
  });
  drawTitle(frame, inputTitle_);
  placePanel(grid_, layout_, 0, frame);
  encode(grid_);
}

void Mp4Sink::close() {
  if (encoder_) namingTarget(out_, [&] { encoder_->close(); });
}

// ---- NPY ----

struct NpySink::File {
  AtomicOutput out;
  std::unique_ptr<NpyStreamWriter> writer;
  explicit File(const std::string& path) : out(path) {}
};

NpySink::NpySink(const std::string& path, const std::vector<Panel>& panels) {
  for (const Panel& p : panels) files_.push_back(std::make_unique<File>(p.tag.empty() ? path : taggedPath(path, p.tag)));
}

NpySink::~NpySink() = default;

void NpySink::begin(int64_t frames, int height, int width) {
  for (auto& f : files_)
    namingTarget(f->out, [&] {
      f->writer = std::make_unique<NpyStreamWriter>(f->out.tempPath(), std::vector<int64_t>{frames, height, width});
    });
}

void NpySink::frame(const std::vector<std::vector<float>>& heat) {
  for (size_t p = 0; p < files_.size(); ++p)
    namingTarget(files_[p]->out, [&] { files_[p]->writer->append(heat.at(p).data(), heat[p].size()); });
}

void NpySink::close() {
  for (auto& f : files_) namingTarget(f->out, [&] { f->writer->close(); });
}

std::vector<std::string> NpySink::targets() const {
  std::vector<std::string> t;
  for (const auto& f : files_) t.push_back(f->out.target());
  return t;
}

void NpySink::commit() {
  for (auto& f : files_) f->out.commit();
}

// ---- raw ----

RawDirSink::RawDirSink(const std::string& dir) : out_(dir, R"(window_[0-9]+(_input\.npy|_cam(\..+)?\.npy|\.json))") {}

void RawDirSink::input(int64_t window, const Volume& input) {
  namingTarget(out_, [&] { writeNpy(out_.path(windowName(window) + "_input.npy"), input); });
}

void RawDirSink::window(int64_t window, const std::vector<Panel>& panels, const std::vector<const Volume*>& maps,
                        nlohmann::json record) {
  namingTarget(out_, [&] { writeWindow(window, panels, maps, std::move(record)); });
}

void RawDirSink::writeWindow(int64_t window, const std::vector<Panel>& panels, const std::vector<const Volume*>& maps,
                             nlohmann::json record) {
  const std::string base = windowName(window);
  if (panels.size() == 1) {
    writeNpy(out_.path(base + "_cam.npy"), *maps.at(0));
    record["cam_shape"] = maps[0]->shape;
  } else {
    nlohmann::json cams = nlohmann::json::array();
    for (size_t p = 0; p < panels.size(); ++p) {
      const std::string file = base + "_cam." + panels[p].tag + ".npy";
      writeNpy(out_.path(file), *maps.at(p));
      cams.push_back({{"method", panels[p].method}, {"class", panels[p].classId}, {"file", file},
                      {"cam_shape", maps[p]->shape}});
    }
    record["cams"] = cams;
  }
  writeText(out_.path(base + ".json"), record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

// ---- JSON ----

void JsonSink::write(const nlohmann::json& j) {
  namingTarget(out_, [&] { writeText(out_.tempPath(), j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"); });
}

}  // namespace ev
