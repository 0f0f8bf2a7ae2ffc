#include "explain_video/render.hpp"

#include <algorithm>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "explain_video/error.hpp"

namespace ev {
namespace {

const std::vector<std::pair<std::string, int>>& colormaps() {
  static const std::vector<std::pair<std::string, int>> maps = {
      {"jet", cv::COLORMAP_JET},         {"turbo", cv::COLORMAP_TURBO},     {"inferno", cv::COLORMAP_INFERNO},
      {"viridis", cv::COLORMAP_VIRIDIS}, {"magma", cv::COLORMAP_MAGMA},     {"plasma", cv::COLORMAP_PLASMA},
      {"hot", cv::COLORMAP_HOT},         {"parula", cv::COLORMAP_PARULA},   {"rainbow", cv::COLORMAP_RAINBOW},
      {"cividis", cv::COLORMAP_CIVIDIS}, {"bone", cv::COLORMAP_BONE}};
  return maps;
}

int colormapId(const std::string& name) {
  for (const auto& m : colormaps())
    if (m.first == name) return m.second;
  std::string all;
  for (const auto& m : colormaps()) all += (all.empty() ? "" : ", ") + m.first;
  throw Error(ErrorKind::Usage, "unknown colormap '" + name + "': choose one of " + all);
}

// OpenCV's colormaps produce BGR; our frames are RGB.
cv::Mat colorize(const cv::Mat& gray8, int colormap) {
  cv::Mat bgr, rgb;
  cv::applyColorMap(gray8, bgr, colormap);
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace

std::vector<std::string> colormapNames() {
  std::vector<std::string> names;
  for (const auto& m : colormaps()) names.push_back(m.first);
  return names;
}

void checkRenderParams(const RenderParams& p) {
  colormapId(p.colormap);
  if (!(p.alpha >= 0.f && p.alpha <= 1.f)) throw Error(ErrorKind::Usage, "--alpha must be between 0 and 1");
}

Renderer::Renderer(const RenderParams& params, std::string label, std::vector<float> importance)
    : params_(params), colormap_(colormapId(params.colormap)), label_(std::move(label)), importance_(std::move(importance)) {
  checkRenderParams(params);
  for (float v : importance_) importanceMax_ = std::max(importanceMax_, v);
}

void Renderer::render(Frame& frame, const float* heat, double score) const {
  cv::Mat img(frame.height, frame.width, CV_8UC3, frame.rgb.data());
  cv::Mat heatF(frame.height, frame.width, CV_32F, const_cast<float*>(heat));
  cv::Mat heat8;
  heatF.convertTo(heat8, CV_8U, 255.0);  // saturates outside [0,1]
  cv::addWeighted(img, 1.0 - params_.alpha, colorize(heat8, colormap_), params_.alpha, 0.0, img);

  const double unit = std::max(0.35, frame.height / 480.0);  // text and strip scale with the frame
  if (params_.text) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  p=%.3f", score);
    const std::string text = label_ + buf;
    const double fontScale = 0.6 * unit;
    const int thick = std::max(1, static_cast<int>(std::lround(1.5 * unit)));
    int base = 0;
    const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, fontScale, thick, &base);
    const int pad = std::max(2, static_cast<int>(4 * unit));
    cv::rectangle(img, cv::Rect(0, 0, std::min(frame.width, ts.width + 2 * pad), ts.height + base + 2 * pad),
                  cv::Scalar(0, 0, 0), cv::FILLED);
    cv::putText(img, text, cv::Point(pad, pad + ts.height), cv::FONT_HERSHEY_SIMPLEX, fontScale,
                cv::Scalar(255, 255, 255), thick, cv::LINE_AA);
  }

  const auto n = static_cast<int64_t>(importance_.size());
  if (params_.strip && n > 0) {
    // One column per pixel; each column shows the frame it falls on, bar height ∝ importance.
    const int stripH = std::max(6, static_cast<int>(std::lround(24 * unit)));
    const int y0 = frame.height - stripH;
    cv::Mat strip = img(cv::Rect(0, y0, frame.width, stripH));
    strip *= 0.35;  // darken the band so bars read on any footage
    cv::Mat level(1, frame.width, CV_8U);
    for (int x = 0; x < frame.width; ++x) {
      const int64_t f = std::min<int64_t>(n - 1, x * n / frame.width);
      const float v = importanceMax_ > 0 ? importance_[f] / importanceMax_ : 0.f;
      level.at<uint8_t>(0, x) = static_cast<uint8_t>(std::lround(255 * std::clamp(v, 0.f, 1.f)));
    }
    const cv::Mat colors = colorize(level, colormap_);
    for (int x = 0; x < frame.width; ++x) {
      const int bar = static_cast<int>(std::lround((stripH - 1) * level.at<uint8_t>(0, x) / 255.0));
      const cv::Vec3b c = colors.at<cv::Vec3b>(0, x);
      if (bar > 0) cv::line(strip, cv::Point(x, stripH - 1), cv::Point(x, stripH - bar), cv::Scalar(c[0], c[1], c[2]));
    }
    const int cx = static_cast<int>(std::min<int64_t>(frame.width - 1, (frame.index * frame.width + frame.width / 2) / n));
    cv::line(strip, cv::Point(cx, 0), cv::Point(cx, stripH - 1), cv::Scalar(255, 255, 255),
             std::max(1, static_cast<int>(unit)));
  }
}

}  // namespace ev
