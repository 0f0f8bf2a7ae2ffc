// The evaluation's outputs: the stdout table, the JSON, the CSV folder and the PNG plots.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "io/params_json.hpp"
#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "io/atomic_output.hpp"
#include "util/plural.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace {

std::string fmt(double v, int prec = 2) {
  if (v < 0) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

nlohmann::json orNull(double v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); }

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(ErrorKind::Output, path + ": write failed");
}

std::string csvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string num(double v) {
  std::ostringstream s;
  s << std::setprecision(8) << v;
  return s.str();
}

std::vector<double> stepFractions(size_t n) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
  return x;
}

// Columns: x, then `curve` per method (headed by the method's name), then, if given, `second`
// per method (headed "<method>_median").
std::string curveCsv(const std::string& xName, const std::vector<double>& x, const EvalResult& r,
                     const std::vector<double> MethodEval::*curve,
                     const std::vector<double> MethodEval::*second = nullptr) {
  std::ostringstream s;
  s << xName;
  for (const auto& m : r.methods) s << "," << csvQuote(m.method);
  if (second)
    for (const auto& m : r.methods) s << "," << csvQuote(m.method + "_median");
  s << "\n";
  for (size_t i = 0; i < x.size(); ++i) {
    s << num(x[i]);
    for (const auto& m : r.methods) s << "," << (i < (m.*curve).size() ? num((m.*curve)[i]) : "");
    if (second)
      for (const auto& m : r.methods) s << "," << (i < (m.*second).size() ? num((m.*second)[i]) : "");
    s << "\n";
  }
  return s.str();
}

// Tick values 0, step, 2·step, … covering [0, hi] with a "nice" step.
double niceStep(double range) {
  const double raw = range / 5.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

std::string tickLabel(double v, double step) {
  const int prec = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  std::ostringstream s;
  s << std::fixed << std::setprecision(step == 0.25 || step == 0.025 ? prec + 1 : prec) << v;
  return s.str();
}

}  // namespace

void writeLinePlot(const std::string& path, const std::string& title, const std::string& xTitle,
                   const std::string& yTitle, const std::vector<double>& x, const std::vector<PlotSeries>& series,
                   const std::vector<std::string>& xTickLabels, double yMin) {
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  // Named ticks are written vertically under the axis: the bottom margin grows to hold them.
  int labelsHeight = 0;
  for (const std::string& t : xTickLabels) {
    int base = 0;
    labelsHeight = std::min(260, std::max(labelsHeight, cv::getTextSize(t, font, 0.45, 1, &base).width + 6));
  }
  const int W = 900, left = 100, right = 40, top = 60, bottom = 80 + labelsHeight;
  const int H = 520 + bottom;
  const int pw = W - left - right, ph = H - top - bottom;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar black(0, 0, 0), grid(225, 225, 225);
  // BGR colours, one per series.
  const std::vector<cv::Scalar> colours{{40, 90, 220},  {200, 110, 30}, {40, 160, 40}, {160, 50, 160},
                                        {30, 160, 220}, {120, 120, 120}, {180, 180, 30}, {90, 40, 140}};

  double xmin = x.empty() ? 0 : *std::min_element(x.begin(), x.end());
  double xmax = x.empty() ? 1 : *std::max_element(x.begin(), x.end());
  if (xmax <= xmin) xmax = xmin + 1;
  double ymax = 1.0, ymin = yMin;
  for (const auto& s : series)
    for (double v : s.y)
      if (std::isfinite(v)) ymax = std::max(ymax, v), ymin = std::min(ymin, v);
  const double ystep = niceStep(ymax - ymin);
  ymax = std::ceil(ymax / ystep - 1e-9) * ystep;
  ymin = std::floor(ymin / ystep + 1e-9) * ystep;
  const double xstep = niceStep(xmax - xmin);
  auto px = [&](double v) { return left + static_cast<int>(std::lround((v - xmin) / (xmax - xmin) * pw)); };
  auto py = [&](double v) { return top + ph - static_cast<int>(std::lround((v - ymin) / (ymax - ymin) * ph)); };

  // Grid, ticks and tick labels.
  for (double v = ymin; v <= ymax + 1e-9; v += ystep) {
    const int y = py(v);
    cv::line(img, {left, y}, {left + pw, y}, grid, 1);
    cv::line(img, {left - 6, y}, {left, y}, black, 1);
    const std::string t = tickLabel(v, ystep);
    int base = 0;
    const cv::Size ts = cv::getTextSize(t, font, 0.5, 1, &base);
    cv::putText(img, t, {left - 10 - ts.width, y + ts.height / 2}, font, 0.5, black, 1, cv::LINE_AA);
  }
  for (size_t i = 0; i < xTickLabels.size() && i < x.size(); ++i) {
    const int xx = px(x[i]);
    cv::line(img, {xx, top}, {xx, top + ph}, grid, 1);
    cv::line(img, {xx, top + ph}, {xx, top + ph + 6}, black, 1);
    int base = 0;
    const cv::Size ts = cv::getTextSize(xTickLabels[i], font, 0.45, 1, &base);
    cv::Mat strip(ts.height + base + 4, std::min(ts.width + 4, labelsHeight), CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(strip, xTickLabels[i], {strip.cols - ts.width - 2, ts.height + 2}, font, 0.45, black, 1, cv::LINE_AA);
    cv::Mat rotated;
    cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int x0 = xx - rotated.cols / 2, y0 = top + ph + 10;
    if (x0 >= 0 && x0 + rotated.cols <= W && y0 + rotated.rows <= H)
      rotated.copyTo(img(cv::Rect(x0, y0, rotated.cols, rotated.rows)));
  }
  for (double v = xmin; xTickLabels.empty() && v <= xmax + 1e-9; v += xstep) {
    const int xx = px(v);
    cv::line(img, {xx, top}, {xx, top + ph}, grid, 1);
    cv::line(img, {xx, top + ph}, {xx, top + ph + 6}, black, 1);
    const std::string t = tickLabel(v, xstep);
    int base = 0;
    const cv::Size ts = cv::getTextSize(t, font, 0.5, 1, &base);
    cv::putText(img, t, {xx - ts.width / 2, top + ph + 12 + ts.height}, font, 0.5, black, 1, cv::LINE_AA);
  }
  cv::rectangle(img, {left, top}, {left + pw, top + ph}, black, 1);

  // Titles: plot, x axis, y axis (drawn horizontally on a strip, then rotated).
  int base = 0;
  cv::Size ts = cv::getTextSize(title, font, 0.7, 2, &base);
  cv::putText(img, title, {left + (pw - ts.width) / 2, top - 22}, font, 0.7, black, 2, cv::LINE_AA);
  ts = cv::getTextSize(xTitle, font, 0.6, 1, &base);
  cv::putText(img, xTitle, {left + (pw - ts.width) / 2, H - 22}, font, 0.6, black, 1, cv::LINE_AA);
  {
    ts = cv::getTextSize(yTitle, font, 0.6, 1, &base);
    cv::Mat strip(ts.height + base + 8, std::max(ts.width + 8, 1), CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(strip, yTitle, {4, ts.height + 4}, font, 0.6, black, 1, cv::LINE_AA);
    cv::Mat rotated;
    cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int y0 = std::max(0, top + (ph - rotated.rows) / 2);
    const int x0 = 18;
    if (y0 + rotated.rows <= H && x0 + rotated.cols <= W) rotated.copyTo(img(cv::Rect(x0, y0, rotated.cols, rotated.rows)));
  }

  // Curves with markers.
  for (size_t s = 0; s < series.size(); ++s) {
    const cv::Scalar c = colours[s % colours.size()];
    std::vector<cv::Point> pts;
    for (size_t i = 0; i < x.size() && i < series[s].y.size(); ++i)
      if (std::isfinite(series[s].y[i])) pts.emplace_back(px(x[i]), py(series[s].y[i]));
    if (pts.size() > 1) cv::polylines(img, pts, false, c, 2, cv::LINE_AA);
    for (const auto& p : pts) cv::circle(img, p, 3, c, cv::FILLED, cv::LINE_AA);
  }

  // Legend, top right inside the plot.
  int lw = 0;
  for (const auto& s : series) lw = std::max(lw, cv::getTextSize(s.name, font, 0.55, 1, &base).width);
  const int lh = 24, boxW = lw + 60, boxH = lh * static_cast<int>(series.size()) + 10;
  const cv::Point l0(left + pw - boxW - 10, top + 10);
  if (!series.empty()) {
    cv::rectangle(img, l0, l0 + cv::Point(boxW, boxH), cv::Scalar(255, 255, 255), cv::FILLED);
    cv::rectangle(img, l0, l0 + cv::Point(boxW, boxH), black, 1);
    for (size_t s = 0; s < series.size(); ++s) {
      const int y = l0.y + 5 + lh * static_cast<int>(s) + lh / 2;
      const cv::Scalar c = colours[s % colours.size()];
      cv::line(img, {l0.x + 8, y}, {l0.x + 38, y}, c, 2, cv::LINE_AA);
      cv::circle(img, {l0.x + 23, y}, 3, c, cv::FILLED, cv::LINE_AA);
      cv::putText(img, series[s].name, {l0.x + 46, y + 5}, font, 0.55, black, 1, cv::LINE_AA);
    }
  }

  AtomicOutput out(path, ".png");
  if (!cv::imwrite(out.tempPath(), img)) throw Error(ErrorKind::Output, path + ": cannot write the PNG");
  out.commit();
}

std::string formatEvalTable(const EvalResult& r) {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> rows;  // label, then one cell per method
  auto add = [&](const std::string& label, const std::function<std::string(const MethodEval&)>& cell) {
    std::vector<std::string> row{label};
    for (const auto& m : r.methods) row.push_back(cell(m));
    rows.push_back(row);
  };
  add("Avg Drop % (lower is better)", [](const MethodEval& m) { return fmt(m.averageDrop); });
  add("Incr. in Conf. % (higher)", [](const MethodEval& m) { return fmt(m.increaseInConfidence); });
  for (const auto& other : r.methods)
    if (r.methods.size() > 1)
      add("Win % vs " + other.method, [&](const MethodEval& m) {
        auto it = m.win.find(other.method);
        return it == m.win.end() ? std::string("") : fmt(it->second);
      });
  if (r.params.delSteps > 0) {
    add("Deletion AUC (lower)", [](const MethodEval& m) { return fmt(m.deletionAuc, 4); });
    add("Insertion AUC (higher)", [](const MethodEval& m) { return fmt(m.insertionAuc, 4); });
  }
  bool anyLoc = false;
  for (const auto& m : r.methods) anyLoc = anyLoc || m.locClips > 0;
  if (anyLoc) {
    add("Pointing % (tol " + fmt(r.params.pointingTolerance) + ")", [](const MethodEval& m) { return fmt(m.pointing); });
    add("Heat in box %", [](const MethodEval& m) { return fmt(m.heatInBox); });
    add("IoU (map >= " + fmt(r.params.iouThreshold) + " max)", [](const MethodEval& m) { return fmt(m.iou, 3); });
    add("Heat in action range %, partial", [](const MethodEval& m) { return fmt(m.heatInRangePartial); });
    add("Heat in action range %, all", [](const MethodEval& m) { return fmt(m.heatInRange); });
  }
  bool anyInstances = false;
  size_t ranks = 0;
  for (const auto& m : r.methods) anyInstances = anyInstances || m.instanceClips > 0, ranks = std::max(ranks, m.instanceShareByRank.size());
  if (anyInstances) {
    add("Instance recall % (peak >= " + fmt(r.params.instancePeak) + ")", [](const MethodEval& m) { return fmt(m.instanceRecall); });
    for (size_t k = 0; k < ranks; ++k)
      add("Heat on instance #" + std::to_string(k + 1) + " %", [k](const MethodEval& m) {
        return k < m.instanceShareByRank.size() ? fmt(m.instanceShareByRank[k]) : std::string("");
      });
    add("Gini across instances (0 even)", [](const MethodEval& m) { return fmt(m.instanceGini, 3); });
  }
  size_t w0 = 6;
  for (const auto& row : rows) w0 = std::max(w0, row[0].size());
  std::vector<size_t> w(r.methods.size());
  for (size_t i = 0; i < r.methods.size(); ++i) {
    w[i] = std::max<size_t>(9, r.methods[i].method.size());
    for (const auto& row : rows) w[i] = std::max(w[i], row[i + 1].size());
  }
  std::ostringstream s;
  int withTruth = 0;
  for (const auto& c : r.clips) withTruth += c.truthClass >= 0;
  s << plural(r.clips.size(), "clip") << " (" << withTruth << " with ground truth), " << plural(r.totalWindows(), "window")
    << ", layer "
    << r.layer << "\n";
  s << std::left << std::setw(static_cast<int>(w0) + 2) << "metric";
  for (size_t i = 0; i < r.methods.size(); ++i) s << std::right << std::setw(static_cast<int>(w[i]) + 2) << r.methods[i].method;
  s << "\n";
  for (const auto& row : rows) {
    s << std::left << std::setw(static_cast<int>(w0) + 2) << row[0];
    for (size_t i = 0; i + 1 < row.size(); ++i) s << std::right << std::setw(static_cast<int>(w[i]) + 2) << row[i + 1];
    s << "\n";
  }
  return s.str();
}

void writeEvalJson(const EvalResult& r, const std::string& path) {
  AtomicOutput out(path);
  const EvalParams& p = r.params;
  nlohmann::json j;
  j["format"] = "explain-video-eval";
  j["version"] = 1;
  j["model"] = p.model;
  j["layer"] = r.layer;
  std::vector<std::string> methods;
  for (const auto& m : r.methods) methods.push_back(m.method);
  j["methods"] = methods;
  j["class_source"] = p.classFromTruth ? "truth" : p.classSpec.empty() ? "top-1 of mean logits" : "given";
  if (!p.classSpec.empty()) j["class"] = p.classSpec;
  j["preprocess"] = preprocessJson(p.preprocess, p.windows);
  j["options"] = {{"curve_steps", p.curveSteps},
                  {"del_steps", p.delSteps},
                  {"blur_kernel", p.blurKernel > 0 ? p.blurKernel : defaultBlurKernel(p.preprocess.cropHeight, p.preprocess.cropWidth)},
                  {"pointing_tolerance", p.pointingTolerance},
                  {"iou_threshold", p.iouThreshold},
                  {"instance_tolerance", p.instanceTolerance},
                  {"instance_peak", p.instancePeak}};
  if (p.shardCount > 1 || !p.shardSource.empty())
    j["shard"] = {{"index", p.shardIndex}, {"count", p.shardCount}, {"source", p.shardSource}};
  j["n_clips"] = r.clips.size();
  j["n_windows"] = r.totalWindows();
  j["thetas"] = r.thetas;
  const size_t steps = r.methods.empty() ? 0 : r.methods[0].deletionCurve.size();
  j["fractions"] = stepFractions(steps);
  nlohmann::json ms = nlohmann::json::object();
  for (const auto& m : r.methods) {
    nlohmann::json mj;
    mj["average_drop"] = m.averageDrop;
    mj["increase_in_confidence"] = m.increaseInConfidence;
    mj["win"] = m.win;
    mj["threshold_curve"] = m.thresholdCurve;
    mj["threshold_curve_median"] = m.thresholdCurveMedian;
    mj["deletion_curve"] = m.deletionCurve;
    mj["insertion_curve"] = m.insertionCurve;
    mj["deletion_auc"] = p.delSteps > 0 ? nlohmann::json(m.deletionAuc) : nlohmann::json(nullptr);
    mj["insertion_auc"] = p.delSteps > 0 ? nlohmann::json(m.insertionAuc) : nlohmann::json(nullptr);
    mj["localization"] = {{"clips", m.locClips},
                          {"frames", m.locFrames},
                          {"partial_clips", m.locPartialClips},
                          {"pointing", orNull(m.pointing)},
                          {"heat_in_box", orNull(m.heatInBox)},
                          {"iou", orNull(m.iou)},
                          {"heat_in_action_range_partial", orNull(m.heatInRangePartial)},
                          {"heat_in_action_range_all", orNull(m.heatInRange)}};
    if (m.instanceClips > 0) {
      nlohmann::json shares = nlohmann::json::array();
      for (double v : m.instanceShareByRank) shares.push_back(orNull(v));
      mj["localization"]["instances"] = {{"clips", m.instanceClips},
                                         {"pairs", m.instancePairs},
                                         {"frames", m.instanceFrames},
                                         {"recall", orNull(m.instanceRecall)},
                                         {"share_by_rank", shares},
                                         {"gini", orNull(m.instanceGini)}};
    }
    ms[m.method] = mj;
  }
  j["summary"] = ms;
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& c : r.clips) {
    nlohmann::json x;
    x["clip"] = c.clip;
    x["position"] = c.position;
    x["class"] = c.classId;
    x["truth_class"] = c.truthClass >= 0 ? nlohmann::json(c.truthClass) : nlohmann::json(nullptr);
    x["frames"] = c.frames;
    x["windows"] = c.windows;
    x["seconds"] = c.seconds;
    nlohmann::json loc = nlohmann::json::object();
    for (const auto& [name, l] : c.localization) {
      const double n = l.actionFrames;
      loc[name] = {{"action_frames", l.actionFrames},
                   {"partial", l.partial},
                   {"pointing_hits", l.pointingHits},
                   {"heat_in_box_sum", l.heatInBoxSum},
                   {"iou_sum", l.iouSum},
                   {"heat_in_range_share", l.heatInRange},
                   {"pointing", n > 0 ? nlohmann::json(100.0 * l.pointingHits / n) : nlohmann::json(nullptr)},
                   {"heat_in_box", n > 0 ? nlohmann::json(100.0 * l.heatInBoxSum / n) : nlohmann::json(nullptr)},
                   {"iou", n > 0 ? nlohmann::json(l.iouSum / n) : nlohmann::json(nullptr)},
                   {"heat_in_action_range", 100.0 * l.heatInRange}};
      if (l.instances >= 2)
        loc[name]["instances"] = {{"count", l.instances},
                                  {"pairs", l.instancePairs},
                                  {"found", l.instancesFound},
                                  {"frames", l.instanceFrames},
                                  {"share_by_rank_sum", l.shareByRankSum},
                                  {"share_by_rank_frames", l.shareByRankFrames},
                                  {"gini_sum", l.giniSum},
                                  {"recall", l.instancePairs > 0 ? nlohmann::json(100.0 * l.instancesFound / l.instancePairs)
                                                                 : nlohmann::json(nullptr)}};
    }
    x["localization"] = loc;
    cj.push_back(x);
  }
  j["clips"] = cj;
  nlohmann::json wj = nlohmann::json::array();
  for (const auto& m : r.methods)
    for (const auto& w : m.windows) {
      nlohmann::json x;
      x["method"] = m.method;
      x["clip"] = w.clip;
      x["window"] = w.window;
      x["first_frame"] = w.firstFrame;
      x["last_frame"] = w.lastFrame;
      x["class"] = w.classId;
      x["Y"] = w.Y;
      x["O"] = w.O;
      x["drop"] = w.drop;
      x["threshold_conf"] = w.thresholdConf;
      x["deletion"] = w.deletion;
      x["insertion"] = w.insertion;
      x["deletion_auc"] = w.deletionAuc;
      x["insertion_auc"] = w.insertionAuc;
      wj.push_back(x);
    }
  j["windows"] = wj;
  j["seconds_total"] = r.secondsTotal;
  j["forward_passes"] = r.forwardPasses;
  j["warnings"] = r.warnings;
  writeText(out.tempPath(), j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  out.commit();
}

void writeEvalCsv(const EvalResult& r, const std::string& dir) {
  AtomicOutputDir out(dir);
  {
    std::ostringstream s;
    s << "method,clip,window,first_frame,last_frame,class,Y,O,drop,increase,deletion_auc,insertion_auc";
    for (double t : r.thetas) s << ",conf_theta_" << num(t);
    s << "\n";
    for (const auto& m : r.methods)
      for (const auto& w : m.windows) {
        s << csvQuote(m.method) << "," << csvQuote(w.clip) << "," << w.window << "," << w.firstFrame << "," << w.lastFrame
          << "," << w.classId << "," << num(w.Y) << "," << num(w.O) << "," << num(w.drop) << "," << (w.Y < w.O ? 1 : 0)
          << "," << (w.deletion.empty() ? "" : num(w.deletionAuc)) << ","
          << (w.insertion.empty() ? "" : num(w.insertionAuc));
        for (double v : w.thresholdConf) s << "," << num(v);
        s << "\n";
      }
    writeText(out.path("windows.csv"), s.str());
  }
  {
    std::ostringstream s;
    s << "method,clip,class,truth_class,frames,windows,action_frames,partial,pointing,heat_in_box,iou,heat_in_action_range\n";
    for (const auto& m : r.methods)
      for (const auto& c : r.clips) {
        s << csvQuote(m.method) << "," << csvQuote(c.clip) << "," << c.classId << ","
          << (c.truthClass >= 0 ? std::to_string(c.truthClass) : "") << "," << c.frames << "," << c.windows << ",";
        auto it = c.localization.find(m.method);
        if (it == c.localization.end()) {
          s << ",,,,,\n";
          continue;
        }
        const ClipLocalization& l = it->second;
        const double n = l.actionFrames;
        s << l.actionFrames << "," << (l.partial ? 1 : 0) << "," << (n > 0 ? num(100.0 * l.pointingHits / n) : "") << ","
          << (n > 0 ? num(100.0 * l.heatInBoxSum / n) : "") << "," << (n > 0 ? num(l.iouSum / n) : "") << ","
          << num(100.0 * l.heatInRange) << "\n";
      }
    writeText(out.path("clips.csv"), s.str());
  }
  {
    std::ostringstream s;
    s << "method,n_clips,n_windows,average_drop,increase_in_confidence";
    for (const auto& m : r.methods) s << ",win_vs_" << m.method;
    s << ",deletion_auc,insertion_auc,loc_clips,loc_frames,pointing,heat_in_box,iou,heat_in_action_range_partial,"
         "heat_in_action_range_all,instance_clips,instance_recall,instance_gini";
    size_t ranks = 0;
    for (const auto& m : r.methods) ranks = std::max(ranks, m.instanceShareByRank.size());
    for (size_t k = 0; k < ranks; ++k) s << ",instance_share_" << k + 1;
    s << "\n";
    auto opt = [](double v) { return v < 0 ? std::string() : num(v); };
    for (const auto& m : r.methods) {
      s << csvQuote(m.method) << "," << r.clips.size() << "," << m.windows.size() << "," << num(m.averageDrop) << ","
        << num(m.increaseInConfidence);
      for (const auto& o : r.methods) {
        auto it = m.win.find(o.method);
        s << "," << (it == m.win.end() ? "" : num(it->second));
      }
      s << "," << (r.params.delSteps > 0 ? num(m.deletionAuc) : "") << ","
        << (r.params.delSteps > 0 ? num(m.insertionAuc) : "") << "," << m.locClips << "," << m.locFrames << ","
        << opt(m.pointing) << "," << opt(m.heatInBox) << "," << opt(m.iou) << "," << opt(m.heatInRangePartial) << ","
        << opt(m.heatInRange) << "," << m.instanceClips << "," << opt(m.instanceRecall) << "," << opt(m.instanceGini);
      for (size_t k = 0; k < ranks; ++k) s << "," << (k < m.instanceShareByRank.size() ? opt(m.instanceShareByRank[k]) : "");
      s << "\n";
    }
    writeText(out.path("summary.csv"), s.str());
  }
  if (!r.thetas.empty())
    writeText(out.path("threshold_curve.csv"),
              curveCsv("theta", r.thetas, r, &MethodEval::thresholdCurve, &MethodEval::thresholdCurveMedian));
  const size_t steps = r.methods.empty() ? 0 : r.methods[0].deletionCurve.size();
  if (steps > 0) {
    writeText(out.path("deletion.csv"), curveCsv("fraction", stepFractions(steps), r, &MethodEval::deletionCurve));
    writeText(out.path("insertion.csv"), curveCsv("fraction", stepFractions(steps), r, &MethodEval::insertionCurve));
  }
  out.commit();
}

void writeEvalPlots(const EvalResult& r, const std::string& dir) {
  AtomicOutputDir out(dir);
  auto seriesOf = [&](const std::vector<double> MethodEval::*curve) {
    std::vector<PlotSeries> s;
    for (const auto& m : r.methods) s.push_back({m.method, m.*curve});
    return s;
  };
  if (!r.thetas.empty())
    writeLinePlot(out.path("threshold_curve.png"), "Relative confidence vs map threshold",
                  "threshold theta (quantile of the map)", "median O / Y over the windows", r.thetas,
                  seriesOf(&MethodEval::thresholdCurveMedian));
  const size_t steps = r.methods.empty() ? 0 : r.methods[0].deletionCurve.size();
  if (steps > 0) {
    writeLinePlot(out.path("deletion.png"), "Deletion (most salient voxels first)", "fraction of voxels removed",
                  "mean class score", stepFractions(steps), seriesOf(&MethodEval::deletionCurve));
    writeLinePlot(out.path("insertion.png"), "Insertion (most salient voxels first)", "fraction of voxels inserted",
                  "mean class score", stepFractions(steps), seriesOf(&MethodEval::insertionCurve));
  }
  out.commit();
}

}  // namespace ev
