// Rendering of the synthetic action benchmark (docs/benchmark.md): seeded layout, motion of the
// actor per class, distractors, background, camera shake and noise.
#include "explain_video/synth.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <random>

#include "explain_video/error.hpp"

namespace ev {

namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- seeded, portable randomness ----------------------------------------------------------

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// std::mt19937_64's output sequence is fixed by the standard; the std distributions are not, so
// the mappings to doubles and integers are done here.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t bits() { return g_(); }
  double uniform() { return static_cast<double>(g_() >> 11) * (1.0 / 9007199254740992.0); }  // [0,1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) {  // inclusive; hi - lo is small, so the modulo bias is < 1e-15
    return lo + static_cast<int>(g_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool chance(double p) { return uniform() < p; }

 private:
  std::mt19937_64 g_;
};

// Independent streams per concern, so that e.g. turning the noise off leaves the geometry alone.
constexpr uint64_t kStreamLayout = 0x4C41594F5554ull;  // "LAYOUT"
constexpr uint64_t kStreamCamera = 0x43414D455241ull;  // "CAMERA"
constexpr uint64_t kStreamNoise = 0x4E4F495345ull;     // "NOISE"

Rng stream(uint64_t seed, uint64_t tag) { return Rng(splitmix64(seed ^ tag)); }

// ---- shapes and colours ---------------------------------------------------------------------

struct Colour {
  const char* name;
  uint8_t r, g, b;
};
const Colour kColours[] = {{"red", 225, 30, 30},    {"green", 30, 200, 50},    {"blue", 35, 75, 235},
                           {"yellow", 240, 215, 25}, {"magenta", 215, 40, 205}, {"cyan", 25, 205, 215}};
constexpr int kNumColours = 6;

const char* const kShapes[] = {"square", "triangle", "cross", "pacman"};
constexpr int kNumShapes = 4;

struct Pt {
  double x, y;
};

// Unit outlines centred on the origin (y down). Every shape looks different when turned by a
// few degrees (no circle: a rotating disc would not show its motion).
const std::vector<Pt>& outline(int shape) {
  static const std::vector<std::vector<Pt>> all = [] {
    std::vector<std::vector<Pt>> v(kNumShapes);
    v[0] = {{-0.8, -0.8}, {0.8, -0.8}, {0.8, 0.8}, {-0.8, 0.8}};
    for (int i = 0; i < 3; ++i) {
      const double a = (-90.0 + 120.0 * i) * kPi / 180.0;
      v[1].push_back({std::cos(a), std::sin(a)});
    }
    const double t = 0.32, l = 1.0;
    v[2] = {{-t, -l}, {t, -l}, {t, -t}, {l, -t}, {l, t},  {t, t},
            {t, l},   {-t, l}, {-t, t}, {-l, t}, {-l, -t}, {-t, -t}};
    // A disc with a 70-degree wedge cut out (a "pacman"), mouth towards +x.
    v[3].push_back({0.0, 0.0});
    const int n = 40;
    for (int i = 0; i <= n; ++i) {
      const double a = (35.0 + 290.0 * i / n) * kPi / 180.0;
      v[3].push_back({0.95 * std::cos(a), 0.95 * std::sin(a)});
    }
    return v;
  }();
  return all[static_cast<size_t>(shape)];
}

double outlineRadius(int shape) {
  double r = 0;
  for (const Pt& p : outline(shape)) r = std::max(r, std::hypot(p.x, p.y));
  return r;
}

// ---- the scene --------------------------------------------------------------------------------

struct Pose {
  double cx = 0, cy = 0, r = 0, theta = 0;  // centre, scale of the unit outline, angle (radians)
};

struct Object {
  int shape = 0, colour = 0;
  Pose pose;
};

struct Rect {
  double x0, y0, x1, y1;
  bool intersects(const Rect& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

Rect extentOf(const Pose& p, int shape, double margin) {
  const double e = p.r * outlineRadius(shape) + margin;
  return {p.cx - e, p.cy - e, p.cx + e, p.cy + e};
}

// Rasterises one object into `mask` (CV_8U, values 0/1, cleared by the caller) shifted by
// (dx, dy) and returns the tight box of the pixels it set.
Box rasterise(cv::Mat& mask, int shape, const Pose& p, int dx, int dy) {
  constexpr int kShift = 4;  // sub-pixel vertices, 1/16 px
  const double c = std::cos(p.theta), s = std::sin(p.theta);
  std::vector<cv::Point> pts;
  // The shift is added in fixed point, so a shifted object is exactly the same pixels moved.
  for (const Pt& q : outline(shape)) {
    const double x = p.cx + p.r * (c * q.x - s * q.y);
    const double y = p.cy + p.r * (s * q.x + c * q.y);
    pts.emplace_back(static_cast<int>(std::lround(x * (1 << kShift))) + dx * (1 << kShift),
                     static_cast<int>(std::lround(y * (1 << kShift))) + dy * (1 << kShift));
  }
  const cv::Point* poly = pts.data();
  const int n = static_cast<int>(pts.size());
  cv::fillPoly(mask, &poly, &n, 1, cv::Scalar(1), cv::LINE_8, kShift);

  // The box: scan only the rows/columns the outline can reach.
  const Rect e = extentOf(Pose{p.cx + dx, p.cy + dy, p.r, 0}, shape, 2.0);
  const int x0 = std::max(0, static_cast<int>(std::floor(e.x0))), x1 = std::min(mask.cols, static_cast<int>(std::ceil(e.x1)) + 1);
  const int y0 = std::max(0, static_cast<int>(std::floor(e.y0))), y1 = std::min(mask.rows, static_cast<int>(std::ceil(e.y1)) + 1);
  int bx0 = mask.cols, by0 = mask.rows, bx1 = -1, by1 = -1;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    for (int x = x0; x < x1; ++x)
      if (row[x]) bx0 = std::min(bx0, x), bx1 = std::max(bx1, x), by0 = std::min(by0, y), by1 = std::max(by1, y);
  }
  if (bx1 < 0) return Box{};
  return Box{bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1};
}

void paint(cv::Mat& rgb, const cv::Mat& mask, const Box& b, const Colour& col) {
  for (int y = b.y; y < b.y + b.h; ++y) {
    const uint8_t* m = mask.ptr<uint8_t>(y);
    uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = b.x; x < b.x + b.w; ++x)
      if (m[x]) p[3 * x] = col.r, p[3 * x + 1] = col.g, p[3 * x + 2] = col.b;
  }
}

void clearBox(cv::Mat& mask, const Box& b) {
  if (!b.empty()) mask(cv::Rect(b.x, b.y, b.w, b.h)).setTo(0);
}

// ---- background -------------------------------------------------------------------------------

struct Rgbd {
  double r, g, b;
};

Rgbd mutedColour(Rng& rng) {  // low saturation, mid brightness: the objects stand out
  const double grey = rng.uniform(70, 180);
  return {grey + rng.uniform(-25, 25), grey + rng.uniform(-25, 25), grey + rng.uniform(-25, 25)};
}

// A smooth random field: values on a coarse grid, interpolated with smoothstep weights.
class SmoothField {
 public:
  SmoothField(Rng& rng, int cellsX, int cellsY, int width, int height)
      : nx_(cellsX + 1), ny_(cellsY + 1), sx_(static_cast<double>(cellsX) / width), sy_(static_cast<double>(cellsY) / height) {
    v_.resize(static_cast<size_t>(nx_) * ny_);
    for (Rgbd& c : v_) c = mutedColour(rng);
  }
  Rgbd at(double x, double y) const {
    const double fx = x * sx_, fy = y * sy_;
    const int ix = std::min(nx_ - 2, static_cast<int>(fx)), iy = std::min(ny_ - 2, static_cast<int>(fy));
    double tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx), ty = ty * ty * (3 - 2 * ty);
    const Rgbd& a = v_[static_cast<size_t>(iy) * nx_ + ix];
    const Rgbd& b = v_[static_cast<size_t>(iy) * nx_ + ix + 1];
    const Rgbd& c = v_[static_cast<size_t>(iy + 1) * nx_ + ix];
    const Rgbd& d = v_[static_cast<size_t>(iy + 1) * nx_ + ix + 1];
    auto mix = [&](double pa, double pb, double pc, double pd) {
      return (pa * (1 - tx) + pb * tx) * (1 - ty) + (pc * (1 - tx) + pd * tx) * ty;
    };
    return {mix(a.r, b.r, c.r, d.r), mix(a.g, b.g, c.g, d.g), mix(a.b, b.b, c.b, d.b)};
  }

 private:
  int nx_, ny_;
  double sx_, sy_;
  std::vector<Rgbd> v_;
};

uint8_t toByte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// The background of the whole scene, `margin` pixels larger than the frame on every side so the
// camera can shake over it.
cv::Mat makeBackground(Rng& rng, int width, int height, int margin, std::string& kind) {
  const int W = width + 2 * margin, H = height + 2 * margin;
  const double sc = std::min(width / 160.0, height / 120.0);
  cv::Mat bg(H, W, CV_8UC3);
  const int type = rng.integer(0, 2);
  if (type == 0) {
    kind = "smooth";
    const int cx = rng.integer(3, 7);
    const int cy = std::max(2, static_cast<int>(std::lround(cx * static_cast<double>(H) / W)));
    SmoothField f(rng, cx, cy, W, H);
    for (int y = 0; y < H; ++y) {
      uint8_t* p = bg.ptr<uint8_t>(y);
      for (int x = 0; x < W; ++x) {
        const Rgbd c = f.at(x, y);
        p[3 * x] = toByte(c.r), p[3 * x + 1] = toByte(c.g), p[3 * x + 2] = toByte(c.b);
      }
    }
  } else if (type == 1) {
    kind = "stripes";
    const Rgbd a = mutedColour(rng), b = mutedColour(rng);
    const double angle = rng.uniform(0, kPi), period = rng.uniform(10, 30) * sc, phase = rng.uniform(0, 2 * kPi);
    const double ux = std::cos(angle) * 2 * kPi / period, uy = std::sin(angle) * 2 * kPi / period;
    for (int y = 0; y < H; ++y) {
      uint8_t* p = bg.ptr<uint8_t>(y);
      for (int x = 0; x < W; ++x) {
        const double t = 0.5 + 0.5 * std::sin(x * ux + y * uy + phase);
        p[3 * x] = toByte(a.r + (b.r - a.r) * t), p[3 * x + 1] = toByte(a.g + (b.g - a.g) * t),
                  p[3 * x + 2] = toByte(a.b + (b.b - a.b) * t);
      }
    }
  } else {
    kind = "gradient";
    const Rgbd a = mutedColour(rng), b = mutedColour(rng);
    const double angle = rng.uniform(0, 2 * kPi);
    const double ux = std::cos(angle), uy = std::sin(angle);
    const double span = std::abs(ux) * W + std::abs(uy) * H;
    const double off = std::min(0.0, ux * W) + std::min(0.0, uy * H);
    SmoothField f(rng, rng.integer(3, 6), 3, W, H);  // a faint texture on top
    for (int y = 0; y < H; ++y) {
      uint8_t* p = bg.ptr<uint8_t>(y);
      for (int x = 0; x < W; ++x) {
        const double t = (x * ux + y * uy - off) / span;
        const Rgbd n = f.at(x, y);
        p[3 * x] = toByte(a.r + (b.r - a.r) * t + 0.25 * (n.r - 125));
        p[3 * x + 1] = toByte(a.g + (b.g - a.g) * t + 0.25 * (n.g - 125));
        p[3 * x + 2] = toByte(a.b + (b.b - a.b) * t + 0.25 * (n.b - 125));
      }
    }
  }
  return bg;
}

[[noreturn]] void usage(const std::string& what) { throw Error(ErrorKind::Usage, "synth: " + what); }

std::string str(double v) {
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

const std::vector<std::string>& synthClassNames() {
  static const std::vector<std::string> names = {"move_left", "move_right", "move_up", "move_down",
                                                 "grow",      "shrink",     "rotate",  "bounce"};
  return names;
}

void validateSynthParams(const SynthParams& p) {
  auto range = [](const char* opt, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi))
      usage(std::string(opt) + " must be in " + str(lo) + ".." + str(hi) + " (got " + str(v) + ")");
  };
  range("--width", p.width, 64, 4096);
  range("--height", p.height, 48, 4096);
  range("--frames", p.frames, 8, 1000);
  range("--fps", p.fpsNum, 1, 1000);
  range("--partial-share", p.partialShare, 0, 1);
  range("--max-static", p.maxStatic, 0, 8);
  range("--noise", p.noise, 0, 64);
  range("--jitter", p.jitter, 0, 8);
  range("--instances", p.instancesMin, 1, kMaxSynthInstances);
  range("--instances", p.instancesMax, 1, kMaxSynthInstances);
  if (p.instancesMin > p.instancesMax)
    usage("--instances " + std::to_string(p.instancesMin) + "-" + std::to_string(p.instancesMax) + ": the range is empty");
  if (p.instancesMax > 1) {
    // Each instance's lane must hold a visible actor: at least 12 px across.
    const double region = std::min(p.width - 2 * std::max(0.18 * p.width, p.jitter + 1.0),
                                   p.height - 2 * std::max(0.07 * p.height, p.jitter + 1.0));
    const double lane = (region - 8.0 * (p.instancesMax - 1)) / p.instancesMax;
    if (lane < 12)
      usage("--instances " + std::to_string(p.instancesMax) + " needs larger frames: its lanes would be " + str(lane) +
            " px across (at least 12; " + std::to_string(p.width) + "x" + std::to_string(p.height) + ")");
  }
}

SynthClip renderSynthClip(int classId, uint64_t seed, const SynthParams& params) {
  const auto& names = synthClassNames();
  if (classId < 0 || classId >= static_cast<int>(names.size()))
    usage("class id must be in 0.." + std::to_string(names.size() - 1) + " (got " + std::to_string(classId) + ")");
  validateSynthParams(params);

  const int W = params.width, H = params.height, T = params.frames, J = params.jitter;
  const double sc = std::min(W / 160.0, H / 120.0);  // sizes and speeds are tuned for 160x120
  Rng rng = stream(seed, kStreamLayout);

  SynthClip clip;
  ClipTruth& truth = clip.truth;
  truth.classId = classId;
  truth.className = names[static_cast<size_t>(classId)];
  truth.seed = seed;
  truth.params = params;

  // -- the actors: N instances of the class's action (one by default). Each has its own
  // appearance, action range, size and position; with several, each lives in its own lane (a
  // band across the region the default resize + centre crop keeps), so their paths never
  // overlap. One instance draws exactly what the single-actor benchmark always drew.
  const int N = params.instancesMin == params.instancesMax ? params.instancesMin
                                                           : rng.integer(params.instancesMin, params.instancesMax);
  const double xlo = std::max(0.18 * W, J + 1.0), xhi = W - xlo;
  const double ylo = std::max(0.07 * H, J + 1.0), yhi = H - ylo;
  // Horizontal movers get bands stacked along y; every other class bands side by side along x
  // (grow, shrink and rotate along the frame's longer side).
  const bool bandsAlongY = classId < 2 || (classId >= 4 && classId <= 6 && H > W);
  constexpr double kLaneGap = 8;  // px between lanes: more than the 3 px margins of two sweeps
  struct Actor {
    Object o;
    int start = 0, L = 0;
    std::function<Pose(int)> poseAt;
    std::map<std::string, double> motion;
  };
  std::vector<Actor> actors;
  for (int i = 0; i < N; ++i) {
    double x0 = xlo, x1 = xhi, y0 = ylo, y1 = yhi;
    if (N > 1) {
      const double lo = bandsAlongY ? ylo : xlo, hi = bandsAlongY ? yhi : xhi;
      const double band = (hi - lo - kLaneGap * (N - 1)) / N;
      const double b0 = lo + i * (band + kLaneGap), b1 = b0 + band;
      (bandsAlongY ? y0 : x0) = b0;
      (bandsAlongY ? y1 : x1) = b1;
    }
    Actor a;
    Object& actor = a.o;
    actor.shape = rng.integer(0, kNumShapes - 1);
    actor.colour = rng.integer(0, kNumColours - 1);
    const double theta0 = rng.uniform(0, 2 * kPi);
    int L = T, start = 0;
    if (rng.chance(params.partialShare) && T >= 12) {
      L = rng.integer(8, T - 4);
      start = rng.integer(0, T - L);
    }
    a.start = start, a.L = L;

    // The motion: pose after k steps, k = 0..L, inside [x0, x1] x [y0, y1].
    const double rmax = outlineRadius(actor.shape);
    // In a lane, a size drawn for the whole region is capped to fit the lane's width.
    const double fitLane = N > 1 ? (std::min(x1 - x0, y1 - y0) / 2 - 1) / rmax : 1e9;
    auto fit = [&](double r) { return std::min(r, fitLane); };
    auto centreFor = [&](double r, double& cx, double& cy) {
      const double e = r * rmax;
      cx = rng.uniform(x0 + e, x1 - e);
      cy = rng.uniform(y0 + e, y1 - e);
    };
    std::map<std::string, double>& motion = a.motion;
    switch (classId) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const bool horizontal = classId < 2;
        const double r = fit(rng.uniform(7, 13) * sc), e = r * rmax;
        const double avail = horizontal ? (x1 - x0 - 2 * e) : (y1 - y0 - 2 * e);
        const double v = std::min(rng.uniform(1.5, 3.0) * sc, avail / L);
        const double d = v * L;
        double cx, cy;
        if (horizontal) {
          cy = rng.uniform(y0 + e, y1 - e);
          cx = classId == 1 ? rng.uniform(x0 + e, x1 - e - d) : rng.uniform(x0 + e + d, x1 - e);
        } else {
          cx = rng.uniform(x0 + e, x1 - e);
          cy = classId == 3 ? rng.uniform(y0 + e, y1 - e - d) : rng.uniform(y0 + e + d, y1 - e);
        }
        const double vx = classId == 0 ? -v : classId == 1 ? v : 0, vy = classId == 2 ? -v : classId == 3 ? v : 0;
        motion = {{"vx", vx}, {"vy", vy}, {"size", r}};
        a.poseAt = [=](int k) { return Pose{cx + vx * k, cy + vy * k, r, theta0}; };
        break;
      }
      case 4:
      case 5: {
        const double fitAll = std::min(x1 - x0, y1 - y0) / 2 / rmax;
        double r0 = fit(rng.uniform(5, 8) * sc);
        double r1 = std::min(r0 * rng.uniform(1.8, 2.3), fitAll);
        double cx, cy;
        centreFor(r1, cx, cy);
        if (classId == 5) std::swap(r0, r1);
        motion = {{"size_from", r0}, {"size_to", r1}};
        a.poseAt = [=](int k) { return Pose{cx, cy, r0 + (r1 - r0) * k / L, theta0}; };
        break;
      }
      case 6: {
        const double r = fit(rng.uniform(10, 15) * sc);
        const double w = rng.uniform(8, 14) * (rng.chance(0.5) ? 1 : -1);
        double cx, cy;
        centreFor(r, cx, cy);
        motion = {{"degrees_per_frame", w}, {"size", r}};
        a.poseAt = [=](int k) { return Pose{cx, cy, r, theta0 + w * k * kPi / 180.0}; };
        break;
      }
      default: {  // bounce: hops on a floor, straight up and down
        const double r = fit(rng.uniform(7, 12) * sc), e = r * rmax;
        const double amp = std::min(rng.uniform(25, 40) * sc, y1 - y0 - 2 * e);
        const int hops = L >= 18 ? rng.integer(2, 3) : 2;
        const double cx = rng.uniform(x0 + e, x1 - e);
        const double floorY = rng.uniform(y0 + e + amp, y1 - e);
        motion = {{"amplitude", amp}, {"hops", hops}, {"size", r}};
        a.poseAt = [=](int k) {
          return Pose{cx, floorY - amp * std::abs(std::sin(kPi * hops * k / L)), r, theta0};
        };
        break;
      }
    }
    actors.push_back(std::move(a));
  }
  auto stepsAt = [&](const Actor& a, int t) { return std::clamp(t - a.start + 1, 0, a.L); };

  // The top-level fields describe the first actor's appearance and motion, and the union of
  // every actor's action range (the frames in which the class's action happens somewhere).
  {
    const Object& actor = actors.front().o;
    truth.actionStart = actors.front().start;
    truth.actionEnd = actors.front().start + actors.front().L;
    for (const Actor& a : actors) {
      truth.actionStart = std::min(truth.actionStart, a.start);
      truth.actionEnd = std::max(truth.actionEnd, a.start + a.L);
    }
    truth.partial = truth.actionEnd - truth.actionStart < T;
    truth.shape = kShapes[actor.shape];
    truth.colour = kColours[actor.colour].name;
    truth.rgb[0] = kColours[actor.colour].r, truth.rgb[1] = kColours[actor.colour].g, truth.rgb[2] = kColours[actor.colour].b;
    truth.motion = actors.front().motion;
  }
  if (params.instancesMax > 1)
    for (const Actor& a : actors) {
      SynthInstance in;
      in.shape = kShapes[a.o.shape];
      in.colour = kColours[a.o.colour].name;
      in.rgb[0] = kColours[a.o.colour].r, in.rgb[1] = kColours[a.o.colour].g, in.rgb[2] = kColours[a.o.colour].b;
      in.actionStart = a.start;
      in.actionEnd = a.start + a.L;
      in.motion = a.motion;
      truth.instances.push_back(std::move(in));
    }

  // -- distractors: the same shapes and colours, never overlapping the actor's whole path
  std::vector<Rect> taken;
  for (const Actor& a : actors) {
    Rect sweep = extentOf(a.poseAt(0), a.o.shape, 3.0);
    for (int k = 1; k <= a.L; ++k) {
      const Rect e = extentOf(a.poseAt(k), a.o.shape, 3.0);
      sweep = {std::min(sweep.x0, e.x0), std::min(sweep.y0, e.y0), std::max(sweep.x1, e.x1), std::max(sweep.y1, e.y1)};
    }
    taken.push_back(sweep);
  }
  constexpr int kMoverAmp = 2;  // the jittering distractor's offsets, px per axis
  std::vector<Object> statics;
  Object mover;
  bool hasMover = false;
  auto place = [&](Object& o, double extra) {
    o.shape = rng.integer(0, kNumShapes - 1);
    o.colour = rng.integer(0, kNumColours - 1);
    o.pose.r = rng.uniform(6, 12) * sc;
    o.pose.theta = rng.uniform(0, 2 * kPi);
    const double e = o.pose.r * outlineRadius(o.shape) + J + extra + 1;
    for (int attempt = 0; attempt < 100; ++attempt) {
      o.pose.cx = rng.uniform(e, W - e);
      o.pose.cy = rng.uniform(e, H - e);
      const Rect r = extentOf(o.pose, o.shape, extra + 2);
      if (std::none_of(taken.begin(), taken.end(), [&](const Rect& t) { return t.intersects(r); })) {
        taken.push_back(r);
        return true;
      }
    }
    return false;
  };
  const int nStatic = params.maxStatic > 0 ? rng.integer(1, params.maxStatic) : 0;
  for (int i = 0; i < nStatic; ++i) {
    Object o;
    if (place(o, 0)) statics.push_back(o);
  }
  std::vector<std::pair<int, int>> moverOffsets;
  if (params.distractorMover) {
    hasMover = place(mover, kMoverAmp);
    if (hasMover)
      for (int t = 0; t < T; ++t) {
        const int ox = rng.integer(-kMoverAmp, kMoverAmp);
        moverOffsets.emplace_back(ox, rng.integer(-kMoverAmp, kMoverAmp));
      }
  }
  for (const Object& o : statics) truth.distractors.push_back({"static", kShapes[o.shape], kColours[o.colour].name, {}});
  if (hasMover) truth.distractors.push_back({"jitter", kShapes[mover.shape], kColours[mover.colour].name, {}});

  std::string bgKind;
  const cv::Mat background = makeBackground(rng, W, H, J, bgKind);
  truth.background = bgKind;

  // -- frames
  Rng camera = stream(seed, kStreamCamera);
  Rng noise = stream(seed, kStreamNoise);
  cv::Mat mask = cv::Mat::zeros(H, W, CV_8U);
  cv::Mat rgb(H, W, CV_8UC3);
  for (int t = 0; t < T; ++t) {
    int dx = 0, dy = 0;
    if (J > 0) dx = camera.integer(-J, J), dy = camera.integer(-J, J);
    truth.camera.emplace_back(dx, dy);
    background(cv::Rect(J - dx, J - dy, W, H)).copyTo(rgb);

    size_t d = 0;
    auto drawDistractor = [&](const Object& o, int ox, int oy) {
      const Box b = rasterise(mask, o.shape, o.pose, dx + ox, dy + oy);
      paint(rgb, mask, b, kColours[o.colour]);
      clearBox(mask, b);
      truth.distractors[d++].boxes.push_back(b);
    };
    for (const Object& o : statics) drawDistractor(o, 0, 0);
    if (hasMover) drawDistractor(mover, moverOffsets[static_cast<size_t>(t)].first, moverOffsets[static_cast<size_t>(t)].second);

    if (actors.size() == 1) {
      const Actor& a = actors.front();
      const Box b = rasterise(mask, a.o.shape, a.poseAt(stepsAt(a, t)), dx, dy);
      paint(rgb, mask, b, kColours[a.o.colour]);
      truth.actorBoxes.push_back(b);
      truth.actorMasks.emplace_back(mask.begin<uint8_t>(), mask.end<uint8_t>());
      clearBox(mask, b);
    } else {
      // Several: the top-level box and mask are the union of the instances'.
      std::vector<uint8_t> all(static_cast<size_t>(W) * H, 0);
      Box u;
      for (size_t i = 0; i < actors.size(); ++i) {
        const Actor& a = actors[i];
        const Box b = rasterise(mask, a.o.shape, a.poseAt(stepsAt(a, t)), dx, dy);
        paint(rgb, mask, b, kColours[a.o.colour]);
        std::vector<uint8_t> m(mask.begin<uint8_t>(), mask.end<uint8_t>());
        for (size_t k = 0; k < m.size(); ++k) all[k] |= m[k];
        if (!b.empty()) {
          if (u.empty()) {
            u = b;
          } else {
            const int ux1 = std::max(u.x + u.w, b.x + b.w), uy1 = std::max(u.y + u.h, b.y + b.h);
            u.x = std::min(u.x, b.x), u.y = std::min(u.y, b.y);
            u.w = ux1 - u.x, u.h = uy1 - u.y;
          }
        }
        truth.instances[i].boxes.push_back(b);
        truth.instances[i].masks.push_back(std::move(m));
        clearBox(mask, b);
      }
      truth.actorBoxes.push_back(u);
      truth.actorMasks.push_back(std::move(all));
    }

    Frame f;
    f.width = W, f.height = H, f.index = t, f.time = static_cast<double>(t) / params.fpsNum;
    f.rgb.assign(rgb.data, rgb.data + static_cast<size_t>(W) * H * 3);
    if (params.noise > 0) {
      // Sum of three uniforms: a bell-shaped noise with standard deviation `noise`, from 16-bit
      // slices of the generator's output.
      const double k = 2.0 * params.noise / 65536.0;
      uint64_t bits = 0;
      int left = 0;
      auto u16 = [&]() {
        if (left == 0) bits = noise.bits(), left = 4;
        const double v = static_cast<double>(bits & 0xFFFF);
        bits >>= 16, --left;
        return v;
      };
      for (uint8_t& px : f.rgb) {
        const double n = (u16() + u16() + u16() - 1.5 * 65535.0) * k;
        px = toByte(px + n);
      }
    }
    clip.frames.push_back(std::move(f));
  }
  return clip;
}

// ---- splits -------------------------------------------------------------------------------------

uint64_t synthSplitSeed(uint64_t baseSeed, const std::string& split) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a, 64 bit
  for (unsigned char c : split) h = (h ^ c) * 0x100000001B3ull;
  return splitmix64(baseSeed ^ h);
}

uint64_t synthClipSeed(uint64_t splitSeed, int index) {
  return splitmix64(splitSeed + static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull);
}

std::vector<SynthClipSpec> synthSplitPlan(const std::string& split, int clipsPerClass, uint64_t baseSeed) {
  const bool nameOk = !split.empty() && split.size() <= 64 && split[0] != '.' &&
                      std::all_of(split.begin(), split.end(), [](unsigned char c) {
                        return std::isalnum(c) || c == '_' || c == '-' || c == '.';
                      });
  if (!nameOk)
    usage("--split '" + split + "' must be 1-64 letters, digits, '_', '-' or '.' (not starting with '.')");
  if (clipsPerClass < 1 || clipsPerClass > 1000000)
    usage("--clips-per-class must be in 1..1000000 (got " + std::to_string(clipsPerClass) + ")");
  const int classes = static_cast<int>(synthClassNames().size());
  const uint64_t splitSeed = synthSplitSeed(baseSeed, split);
  std::vector<SynthClipSpec> plan;
  for (int i = 0; i < clipsPerClass * classes; ++i) {
    char stem[32];
    std::snprintf(stem, sizeof stem, "clip_%06d", i);
    plan.push_back({i, i % classes, synthClipSeed(splitSeed, i), stem});
  }
  return plan;
}

}  // namespace ev
