// The pure metric functions of eval.hpp: no model, no files.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "explain_video/error.hpp"
#include "explain_video/eval.hpp"
#include "explain_video/heatmap.hpp"
#include "util/plural.hpp"

namespace ev {
namespace {

void checkInputAndMap(const Volume& input, const Volume& map, const char* what) {
  if (input.shape.size() != 5 || input.shape[0] != 1 || input.shape[1] != 3)
    throw Error(ErrorKind::Internal, std::string(what) + ": input must be 1x3xTxHxW");
  if (map.shape.size() != 3 || map.shape[0] != input.shape[2] || map.shape[1] != input.shape[3] ||
      map.shape[2] != input.shape[4])
    throw Error(ErrorKind::Internal, std::string(what) + ": map must be TxHxW of the input");
}

void checkSameSize(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  if (a.size() != b.size()) throw Error(ErrorKind::Internal, std::string(what) + ": sizes differ");
}

// Copies the 3 channels of voxels order[from..to) from `src` into `dst`.
void copyVoxels(Volume& dst, const Volume& src, const std::vector<int64_t>& order, size_t from, size_t to) {
  const size_t plane = order.size();
  for (size_t r = from; r < to; ++r) {
    const size_t v = static_cast<size_t>(order[r]);
    for (size_t ch = 0; ch < 3; ++ch) dst.data[ch * plane + v] = src.data[ch * plane + v];
  }
}

std::vector<double> perturbationCurve(const Volume& start, const Volume& target, const Volume& map, int steps,
                                      const ScoreFn& score) {
  if (steps < 1) throw Error(ErrorKind::Usage, "deletion/insertion steps must be >= 1");
  const std::vector<int64_t> order = saliencyOrder(map);
  const size_t n = order.size();
  Volume cur = start;
  std::vector<double> curve;
  curve.reserve(static_cast<size_t>(steps) + 1);
  curve.push_back(score(cur));
  for (int k = 1; k <= steps; ++k) {
    const size_t from = static_cast<size_t>((k - 1) * static_cast<int64_t>(n) / steps);
    const size_t to = static_cast<size_t>(k * static_cast<int64_t>(n) / steps);
    copyVoxels(cur, target, order, from, to);
    curve.push_back(score(cur));
  }
  return curve;
}

// The same with `batch` states scored per call; the start (or, with `knownEnd`, the end: the
// state after the last step) is not scored but given.
std::vector<double> perturbationCurveBatched(const Volume& start, const Volume& target, const Volume& map, int steps,
                                             const BatchScoreFn& score, int batch, double known, bool knownEnd) {
  if (steps < 1) throw Error(ErrorKind::Usage, "deletion/insertion steps must be >= 1");
  if (batch < 1) batch = 1;
  const std::vector<int64_t> order = saliencyOrder(map);
  const size_t n = order.size();
  Volume cur = start;
  std::vector<double> curve;
  curve.reserve(static_cast<size_t>(steps) + 1);
  std::vector<Volume> pending;
  auto flush = [&] {
    if (pending.empty()) return;
    std::vector<const Volume*> ptrs;
    for (const Volume& v : pending) ptrs.push_back(&v);
    const std::vector<double> s = score(ptrs);
    if (s.size() != pending.size()) throw Error(ErrorKind::Internal, "batch scorer returned the wrong count");
    curve.insert(curve.end(), s.begin(), s.end());
    pending.clear();
  };
  auto add = [&](const Volume& v) {
    pending.push_back(v);
    if (static_cast<int>(pending.size()) == batch) flush();
  };
  if (knownEnd) add(cur);
  else curve.push_back(known);
  for (int k = 1; k <= steps; ++k) {
    const size_t from = static_cast<size_t>((k - 1) * static_cast<int64_t>(n) / steps);
    const size_t to = static_cast<size_t>(k * static_cast<int64_t>(n) / steps);
    copyVoxels(cur, target, order, from, to);
    if (knownEnd && k == steps) {
      flush();
      curve.push_back(known);
    } else {
      add(cur);
    }
  }
  flush();
  return curve;
}

}  // namespace

std::vector<double> deletionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                  const BatchScoreFn& score, int batch, double inputScore) {
  checkInputAndMap(input, map, "deletionCurve");
  if (baseline.shape != input.shape) throw Error(ErrorKind::Internal, "deletionCurve: baseline shape differs");
  return perturbationCurveBatched(input, baseline, map, steps, score, batch, inputScore, false);
}

std::vector<double> insertionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                   const BatchScoreFn& score, int batch, double inputScore) {
  checkInputAndMap(input, map, "insertionCurve");
  if (baseline.shape != input.shape) throw Error(ErrorKind::Internal, "insertionCurve: baseline shape differs");
  return perturbationCurveBatched(baseline, input, map, steps, score, batch, inputScore, true);
}

double softmaxScore(const std::vector<float>& logits, int c) {
  if (c < 0 || c >= static_cast<int>(logits.size()))
    throw Error(ErrorKind::Model, "class " + std::to_string(c) + " is out of range for a model with " +
                                      plural(logits.size(), "class"));
  const double m = *std::max_element(logits.begin(), logits.end());
  double s = 0;
  for (float l : logits) s += std::exp(static_cast<double>(l) - m);
  return std::exp(static_cast<double>(logits[static_cast<size_t>(c)]) - m) / s;
}

double relativeDrop(double Y, double O) { return Y > 0 ? std::max(0.0, Y - O) / Y : 0.0; }
double relativeConfidence(double Y, double O) { return Y > 0 ? O / Y : 1.0; }

double averageDrop(const std::vector<double>& Y, const std::vector<double>& O) {
  checkSameSize(Y, O, "averageDrop");
  if (Y.empty()) return 0;
  double s = 0;
  for (size_t i = 0; i < Y.size(); ++i) s += relativeDrop(Y[i], O[i]);
  return 100.0 * s / static_cast<double>(Y.size());
}

double increaseInConfidence(const std::vector<double>& Y, const std::vector<double>& O) {
  checkSameSize(Y, O, "increaseInConfidence");
  if (Y.empty()) return 0;
  size_t k = 0;
  for (size_t i = 0; i < Y.size(); ++i) k += Y[i] < O[i];
  return 100.0 * static_cast<double>(k) / static_cast<double>(Y.size());
}

double winPercent(const std::vector<double>& dropA, const std::vector<double>& dropB, double tieTolerance) {
  checkSameSize(dropA, dropB, "winPercent");
  if (dropA.empty()) return 0;
  double s = 0;
  for (size_t i = 0; i < dropA.size(); ++i)
    s += std::abs(dropA[i] - dropB[i]) <= tieTolerance ? 0.5 : dropA[i] < dropB[i] ? 1.0 : 0.0;
  return 100.0 * s / static_cast<double>(dropA.size());
}

Volume explanationMap(const Volume& cam, int64_t T, int64_t H, int64_t W, const CellCentres& centres) {
  Volume m = upsampleTrilinear(cam, T, H, W, centres);
  const float mx = m.data.empty() ? 0.f : *std::max_element(m.data.begin(), m.data.end());
  for (float& v : m.data) v = mx > 0 ? v / mx : 0.f;
  return m;
}

namespace {

template <class T>
double quantileOf(std::vector<T> s, double q) {
  if (s.empty()) return 0;
  std::sort(s.begin(), s.end());
  q = std::clamp(q, 0.0, 1.0);
  const double pos = q * static_cast<double>(s.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return static_cast<double>(s[lo]) + f * (static_cast<double>(s[hi]) - static_cast<double>(s[lo]));
}

}  // namespace

double quantile(const Volume& v, double q) { return quantileOf(v.data, q); }
double quantile(std::vector<double> values, double q) { return quantileOf(std::move(values), q); }

Volume thresholdMap(const Volume& map, double theta) {
  const double q = quantile(map, theta);
  Volume out = map;
  for (float& v : out.data)
    if (static_cast<double>(v) < q) v = 0.f;
  return out;
}

Volume maskInput(const Volume& input, const Volume& map01, const PreprocessParams& pre) {
  checkInputAndMap(input, map01, "maskInput");
  Volume out = input;
  const size_t plane = map01.data.size();
  for (size_t ch = 0; ch < 3; ++ch) {
    const float ms = pre.mean[ch] / pre.std[ch];
    float* o = out.data.data() + ch * plane;
    for (size_t i = 0; i < plane; ++i) {
      const float L = map01.data[i];
      o[i] = L * o[i] + (L - 1.f) * ms;
    }
  }
  return out;
}

Volume meanColourBaseline(const Volume& input) { return Volume(input.shape, 0.f); }

int defaultBlurKernel(int64_t H, int64_t W) { return static_cast<int>(2 * (std::min(H, W) / 8) + 1); }

Volume blurBaseline(const Volume& input, int kernel) {
  if (input.shape.size() != 5) throw Error(ErrorKind::Internal, "blurBaseline: input must be 1x3xTxHxW");
  const int H = static_cast<int>(input.shape[3]), W = static_cast<int>(input.shape[4]);
  if (kernel <= 0) kernel = defaultBlurKernel(H, W);
  Volume out = input;
  const size_t planes = static_cast<size_t>(input.shape[0] * input.shape[1] * input.shape[2]);
  const size_t hw = static_cast<size_t>(H) * W;
  for (size_t p = 0; p < planes; ++p) {
    cv::Mat src(H, W, CV_32F, const_cast<float*>(input.data.data() + p * hw));
    cv::Mat dst(H, W, CV_32F, out.data.data() + p * hw);
    cv::blur(src, dst, cv::Size(kernel, kernel), cv::Point(-1, -1), cv::BORDER_REPLICATE);
  }
  return out;
}

std::vector<int64_t> saliencyOrder(const Volume& map) {
  std::vector<int64_t> idx(map.data.size());
  std::iota(idx.begin(), idx.end(), int64_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return map.data[static_cast<size_t>(a)] > map.data[static_cast<size_t>(b)];
  });
  return idx;
}

std::vector<double> deletionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                  const ScoreFn& score) {
  checkInputAndMap(input, map, "deletionCurve");
  if (baseline.shape != input.shape) throw Error(ErrorKind::Internal, "deletionCurve: baseline shape differs");
  return perturbationCurve(input, baseline, map, steps, score);
}

std::vector<double> insertionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                   const ScoreFn& score) {
  checkInputAndMap(input, map, "insertionCurve");
  if (baseline.shape != input.shape) throw Error(ErrorKind::Internal, "insertionCurve: baseline shape differs");
  return perturbationCurve(baseline, input, map, steps, score);
}

double auc(const std::vector<double>& curve) {
  if (curve.size() < 2) return 0;
  const double dx = 1.0 / static_cast<double>(curve.size() - 1);
  double s = 0;
  for (size_t i = 0; i + 1 < curve.size(); ++i) s += 0.5 * (curve[i] + curve[i + 1]) * dx;
  return s;
}

std::vector<double> curveThetas(int steps) {
  if (steps <= 0) return {};
  if (steps == 1) return {0.0};
  std::vector<double> t(static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) t[static_cast<size_t>(i)] = static_cast<double>(i) / (steps - 1);
  return t;
}

}  // namespace ev
