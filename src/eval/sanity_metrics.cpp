// The similarity measures of the sanity checks (docs/eval.md, "Sanity checks").
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "explain_video/error.hpp"
#include "explain_video/sanity.hpp"

namespace ev {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Ranks 1..n, ties getting the mean of the ranks they span.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double mean = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = mean;
    i = j + 1;
  }
  return r;
}

bool constant(const float* v, size_t n) {
  for (size_t i = 1; i < n; ++i)
    if (v[i] != v[0]) return false;
  return true;
}

// The k voxel indices of the largest values (ties: the lower index first), sorted.
std::vector<int64_t> topIndices(const Volume& m, size_t k) {
  std::vector<int64_t> idx(m.size());
  std::iota(idx.begin(), idx.end(), int64_t{0});
  auto before = [&](int64_t a, int64_t b) {
    const float va = m.data[static_cast<size_t>(a)], vb = m.data[static_cast<size_t>(b)];
    return va > vb || (va == vb && a < b);
  };
  if (k < idx.size()) std::nth_element(idx.begin(), idx.begin() + static_cast<long>(k), idx.end(), before);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

void checkSameShape(const Volume& a, const Volume& b, const char* what) {
  if (a.shape != b.shape || a.shape.size() != 3)
    throw Error(ErrorKind::Internal, std::string(what) + ": the maps must be T×H×W of one shape");
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) return kNaN;
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double mean = 0.5 * static_cast<double>(a.size() + 1);  // of ranks 1..n, ties included
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double da = ra[i] - mean, db = rb[i] - mean;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  if (!(saa > 0) || !(sbb > 0)) return kNaN;
  return sab / std::sqrt(saa * sbb);
}

double ssim(const Volume& a, const Volume& b) {
  checkSameShape(a, b, "ssim");
  const int T = static_cast<int>(a.shape[0]), H = static_cast<int>(a.shape[1]), W = static_cast<int>(a.shape[2]);
  const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
  const cv::Size win(std::min(11, 2 * ((W - 1) / 2) + 1), std::min(11, 2 * ((H - 1) / 2) + 1));
  auto blur = [&](const cv::Mat& in) {
    cv::Mat out;
    cv::GaussianBlur(in, out, win, 1.5, 1.5, cv::BORDER_REPLICATE);
    return out;
  };
  double sum = 0;
  for (int t = 0; t < T; ++t) {
    const size_t off = static_cast<size_t>(t) * H * W;
    cv::Mat x, y;
    cv::Mat(H, W, CV_32F, const_cast<float*>(a.ptr() + off)).convertTo(x, CV_64F);
    cv::Mat(H, W, CV_32F, const_cast<float*>(b.ptr() + off)).convertTo(y, CV_64F);
    const cv::Mat mx = blur(x), my = blur(y);
    const cv::Mat sxx = blur(x.mul(x)) - mx.mul(mx), syy = blur(y.mul(y)) - my.mul(my), sxy = blur(x.mul(y)) - mx.mul(my);
    const cv::Mat num = (2 * mx.mul(my) + C1).mul(2 * sxy + C2);
    const cv::Mat den = (mx.mul(mx) + my.mul(my) + C1).mul(sxx + syy + C2);
    cv::Mat s;
    cv::divide(num, den, s);
    sum += cv::sum(s)[0];
  }
  return sum / (static_cast<double>(T) * H * W);
}

double topKIntersection(const Volume& a, const Volume& b, double share) {
  checkSameShape(a, b, "topKIntersection");
  if (a.size() == 0 || constant(a.ptr(), a.size()) || constant(b.ptr(), b.size())) return kNaN;
  const size_t k = std::clamp<size_t>(static_cast<size_t>(std::ceil(share * static_cast<double>(a.size()) - 1e-9)), 1, a.size());
  const std::vector<int64_t> ta = topIndices(a, k), tb = topIndices(b, k);
  std::vector<int64_t> both;
  std::set_intersection(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(both));
  return static_cast<double>(both.size()) / static_cast<double>(k);
}

}  // namespace ev
