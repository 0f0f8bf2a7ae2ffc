#include "explain_video/render.hpp"

#include <algorithm>
#include <cmath>
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

void drawTitle(Frame& frame, const std::string& text) {
  cv::Mat img(frame.height, frame.width, CV_8UC3, frame.rgb.data());
  const double unit = std::max(0.35, frame.height / 480.0);
  const double fontScale = 0.6 * unit;
  const int thick = std::max(1, static_cast<int>(std::lround(1.5 * unit)));
  int base = 0;
  const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, fontScale, thick, &base);
  const int pad = std::max(2, static_cast<int>(4 * unit));
  cv::rectangle(img, cv::Rect(0, 0, std::min(frame.width, ts.width + 2 * pad), std::min(frame.height, ts.height + base + 2 * pad)),
                cv::Scalar(0, 0, 0), cv::FILLED);
  cv::putText(img, text, cv::Point(pad, pad + ts.height), cv::FONT_HERSHEY_SIMPLEX, fontScale,
              cv::Scalar(255, 255, 255), thick, cv::LINE_AA);
}

GridLayout gridLayout(int panels, int width, int height) {
  if (panels < 1 || width < 1 || height < 1) throw Error(ErrorKind::Internal, "grid layout of no panels");
  GridLayout g;
  g.columns = panels <= 4 ? panels : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(panels))));
  g.rows = (panels + g.columns - 1) / g.columns;
  g.panelWidth = width;
  g.panelHeight = height;
  if (g.width() > kMaxGridWidth || g.height() > kMaxGridHeight) {
    const double f = std::min(static_cast<double>(kMaxGridWidth) / g.width(), static_cast<double>(kMaxGridHeight) / g.height());
    g.panelWidth = std::max(2, static_cast<int>(std::floor(width * f / 2)) * 2);
    g.panelHeight = std::max(2, static_cast<int>(std::floor(height * f / 2)) * 2);
  }
  return g;
}

void placePanel(Frame& grid, const GridLayout& layout, int index, const Frame& panel) {
  if (grid.width != layout.width() || grid.height != layout.height() ||
      grid.rgb.size() != static_cast<size_t>(grid.width) * grid.height * 3)
    throw Error(ErrorKind::Internal, "grid frame does not match its layout");
  cv::Mat dst(grid.height, grid.width, CV_8UC3, grid.rgb.data());
  const cv::Rect cell((index % layout.columns) * layout.panelWidth, (index / layout.columns) * layout.panelHeight,
                      layout.panelWidth, layout.panelHeight);
  const cv::Mat src(panel.height, panel.width, CV_8UC3, const_cast<uint8_t*>(panel.rgb.data()));
  if (panel.width == layout.panelWidth && panel.height == layout.panelHeight)
    src.copyTo(dst(cell));
  else
    cv::resize(src, dst(cell), cell.size(), 0, 0, cv::INTER_AREA);
}

Renderer::Renderer(const RenderParams& params, std::string label, std::vector<float> importance)
    : params_(params), colormap_(colormapId(params.colormap)), label_(std::move(label)), importance_(std::move(importance)) {
  checkRenderParams(params);
  for (float v : importance_) importanceMax_ = std::max(importanceMax_, v);
  cv::Mat gray(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) gray.at<uint8_t>(0, i) = static_cast<uint8_t>(i);
  const cv::Mat rgb = colorize(gray, colormap_);
  lut_.assign(rgb.data, rgb.data + 256 * 3);
}

void Renderer::render(Frame& frame, const float* heat, double score) const {
  cv::Mat img(frame.height, frame.width, CV_8UC3, frame.rgb.data());
  // The colormap blended in one pass, in 8.8 fixed point: pixel·(1 − α) + colour(heat)·α, heat
  // quantised to 8 bits (saturating outside [0,1]) as the colormap takes it.
  const int ib = static_cast<int>(std::lround((1.0 - params_.alpha) * 256));
  const int ia = 256 - ib;
  int colour[256][3];
  for (int v = 0; v < 256; ++v)
    for (int k = 0; k < 3; ++k) colour[v][k] = lut_[3 * static_cast<size_t>(v) + k] * ia + 128;
  // Only the region the model saw is tinted.
  const bool whole = seen_.width < 0 ||
                     (seen_.x <= 0 && seen_.y <= 0 && seen_.x + seen_.width >= frame.width && seen_.y + seen_.height >= frame.height);
  const int x0 = whole ? 0 : std::clamp(seen_.x, 0, frame.width), x1 = whole ? frame.width : std::clamp(seen_.x + seen_.width, 0, frame.width);
  const int y0 = whole ? 0 : std::clamp(seen_.y, 0, frame.height), y1 = whole ? frame.height : std::clamp(seen_.y + seen_.height, 0, frame.height);
  uint8_t* px = frame.rgb.data();
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const size_t i = static_cast<size_t>(y) * frame.width + x;
      const float h = heat[i] * 255.f;
      const int q = h >= 255.f ? 255 : h > 0.f ? static_cast<int>(h + 0.5f) : 0;
      const int* c = colour[q];
      uint8_t* p = px + 3 * i;
      p[0] = static_cast<uint8_t>((p[0] * ib + c[0]) >> 8);
      p[1] = static_cast<uint8_t>((p[1] * ib + c[1]) >> 8);
      p[2] = static_cast<uint8_t>((p[2] * ib + c[2]) >> 8);
    }
  if (!whole && x1 > x0 && y1 > y0) {
    // The edge of what the model saw: a light grey line just outside the region, 1 px per
    // 480 lines of frame height.
    const int t = std::max(1, frame.height / 480);
    cv::rectangle(img, cv::Rect(x0 - t, y0 - t, x1 - x0 + 2 * t, y1 - y0 + 2 * t), cv::Scalar(200, 200, 200), t);
  }

  const double unit = std::max(0.35, frame.height / 480.0);  // text and strip scale with the frame
  if (params_.text) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  p=%.3f", score);
    drawTitle(frame, label_ + buf);
  }

  const auto n = static_cast<int64_t>(importance_.size());
  if (params_.strip && n > 0) {
    // One column per pixel; each column shows the frame it falls on, bar height ∝ importance.
    const int stripH = std::min(frame.height, std::max(6, static_cast<int>(std::lround(24 * unit))));
    const int y0 = frame.height - stripH;
    cv::Mat strip = img(cv::Rect(0, y0, frame.width, stripH));
    strip *= 0.35;  // darken the band so bars read on any footage
    // The bars are the same in every frame: drawn once per frame size.
    if (barsWidth_ != frame.width || barsHeight_ != stripH) {
      barsWidth_ = frame.width;
      barsHeight_ = stripH;
      bars_.assign(static_cast<size_t>(stripH) * frame.width * 3, 0);
      barMask_.assign(static_cast<size_t>(stripH) * frame.width, 0);
      cv::Mat barsImg(stripH, frame.width, CV_8UC3, bars_.data()), maskImg(stripH, frame.width, CV_8U, barMask_.data());
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
        if (bar <= 0) continue;
        cv::line(barsImg, cv::Point(x, stripH - 1), cv::Point(x, stripH - bar), cv::Scalar(c[0], c[1], c[2]));
        cv::line(maskImg, cv::Point(x, stripH - 1), cv::Point(x, stripH - bar), cv::Scalar(255));
      }
    }
    cv::Mat(stripH, frame.width, CV_8UC3, bars_.data()).copyTo(strip, cv::Mat(stripH, frame.width, CV_8U, barMask_.data()));
    const int cx = static_cast<int>(std::min<int64_t>(frame.width - 1, (frame.index * frame.width + frame.width / 2) / n));
    cv::line(strip, cv::Point(cx, 0), cv::Point(cx, stripH - 1), cv::Scalar(255, 255, 255),
             std::max(1, static_cast<int>(unit)));
  }
}

}  // namespace ev
