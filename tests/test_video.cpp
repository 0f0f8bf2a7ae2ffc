// Tests for the video stage: ev::VideoReader and ev::VideoWriter.
// Clips are made at test time with the ffmpeg CLI or with VideoWriter in a temporary directory.
#include "explain_video/error.hpp"
#include "explain_video/video.hpp"
#include "test_paths.hpp"

#include <gtest/gtest.h>

#include "scratch_dir.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using Rgb = std::array<int, 3>;

// Temporary folders named after this test file.
class ScratchDir : public evtest::ScratchDir {
 public:
  ScratchDir() : evtest::ScratchDir("ev_video_") {}
};

bool haveFfmpeg() {
  static const bool ok = std::system("ffmpeg -version >/dev/null 2>&1") == 0 &&
                         std::system("ffprobe -version >/dev/null 2>&1") == 0;
  return ok;
}

#define REQUIRE_FFMPEG_CLI() \
  if (!haveFfmpeg()) GTEST_SKIP() << "ffmpeg/ffprobe CLI not installed"

// Runs an ffmpeg command line quietly; true on success.
bool ffmpeg(const std::string& args) {
  std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string ffprobeStream(const std::string& path, const std::string& entry, bool count = false) {
  return capture("ffprobe -v error " + std::string(count ? "-count_frames " : "") +
                 "-select_streams v:0 -show_entries stream=" + entry + " -of csv=p=0 '" + path +
                 "' 2>/dev/null");
}

int64_t ffprobeFrameCount(const std::string& path) {
  std::string s = ffprobeStream(path, "nb_read_frames", true);
  return s.empty() ? -1 : std::stoll(s);
}

Rgb pixel(const ev::Frame& f, int x, int y) {
  const uint8_t* p = &f.rgb[(static_cast<size_t>(y) * f.width + x) * 3];
  return {p[0], p[1], p[2]};
}

::testing::AssertionResult near(const Rgb& got, const Rgb& want, int tol) {
  for (int c = 0; c < 3; ++c) {
    if (std::abs(got[c] - want[c]) > tol) {
      return ::testing::AssertionFailure()
             << "got (" << got[0] << "," << got[1] << "," << got[2] << ") want (" << want[0]
             << "," << want[1] << "," << want[2] << ") tolerance " << tol;
    }
  }
  return ::testing::AssertionSuccess();
}

// A frame of four flat quadrants with the given colours (TL, TR, BL, BR).
ev::Frame quadrants(int w, int h, const std::array<Rgb, 4>& c) {
  ev::Frame f;
  f.width = w;
  f.height = h;
  f.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const Rgb& col = c[(y >= h / 2 ? 2 : 0) + (x >= w / 2 ? 1 : 0)];
      uint8_t* p = &f.rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(col[0]);
      p[1] = static_cast<uint8_t>(col[1]);
      p[2] = static_cast<uint8_t>(col[2]);
    }
  }
  return f;
}

// Quadrant centres of a frame.
std::array<Rgb, 4> quadrantCentres(const ev::Frame& f) {
  const int x0 = f.width / 4, x1 = 3 * f.width / 4, y0 = f.height / 4, y1 = 3 * f.height / 4;
  return {pixel(f, x0, y0), pixel(f, x1, y0), pixel(f, x0, y1), pixel(f, x1, y1)};
}

const std::array<Rgb, 4> kQuad = {Rgb{220, 40, 40}, Rgb{40, 200, 60}, Rgb{40, 60, 210},
                                  Rgb{235, 235, 235}};

int64_t countFrames(const std::string& path, std::vector<double>* times = nullptr) {
  ev::VideoReader r(path);
  ev::Frame f;
  int64_t n = 0;
  while (r.read(f)) {
    EXPECT_EQ(f.index, n);
    EXPECT_EQ(f.width, r.info().width);
    EXPECT_EQ(f.height, r.info().height);
    EXPECT_EQ(f.rgb.size(), static_cast<size_t>(f.width) * f.height * 3);
    if (times) times->push_back(f.time);
    ++n;
  }
  EXPECT_FALSE(r.read(f)) << "read() after the end must keep returning false";
  return n;
}

// Expects `fn` to throw ev::Error of `kind` whose one-line message names `path` and contains
// `phrase` (or `phrase2` when given).
void expectError(const std::function<void()>& fn, ev::ErrorKind kind, const std::string& path,
                 const std::string& phrase, const std::string& phrase2 = "") {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning '" << phrase << "'";
  } catch (const ev::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    bool found = msg.find(phrase) != std::string::npos ||
                 (!phrase2.empty() && msg.find(phrase2) != std::string::npos);
    EXPECT_TRUE(found) << "message '" << msg << "' lacks '" << phrase << "'";
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::vector<uint8_t> readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

size_t findTag(const std::vector<uint8_t>& d, const char* tag) {
  for (size_t i = 0; i + 4 <= d.size(); ++i) {
    if (std::memcmp(&d[i], tag, 4) == 0) return i;
  }
  return std::string::npos;
}

long residentKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

// ---------------------------------------------------------------- writer + reader round trip

TEST(VideoWriter, RoundTripFlatPatches) {
  ScratchDir dir;
  const std::string path = dir.file("round.mp4");
  const int N = 40, W = 160, H = 120;
  ev::VideoWriterOptions opt;
  opt.width = W;
  opt.height = H;
  opt.fpsNum = 24;
  opt.fpsDen = 1;
  std::vector<std::array<Rgb, 4>> expected;
  {
    ev::VideoWriter w(path, opt);
    for (int i = 0; i < N; ++i) {
      // The bottom-right patch changes over time so frame order is checked too.
      std::array<Rgb, 4> c = kQuad;
      c[3] = Rgb{i * 6, 255 - i * 6, 128};
      expected.push_back(c);
      w.write(quadrants(W, H, c));
    }
    w.close();
  }
  ev::VideoReader r(path);
  EXPECT_EQ(r.info().width, W);
  EXPECT_EQ(r.info().height, H);
  EXPECT_EQ(r.info().fpsNum, 24);
  EXPECT_EQ(r.info().fpsDen, 1);
  EXPECT_DOUBLE_EQ(r.info().fps, 24.0);
  EXPECT_EQ(r.info().rotation, 0);
  EXPECT_EQ(r.info().codec, "h264");
  EXPECT_EQ(r.info().frameCountHint, N);
  EXPECT_NEAR(r.info().duration, N / 24.0, 0.05);
  ev::Frame f;
  int n = 0;
  while (r.read(f)) {
    ASSERT_LT(n, N);
    EXPECT_EQ(f.index, n);
    EXPECT_NEAR(f.time, n / 24.0, 1e-6);
    ASSERT_EQ(f.width, W);
    ASSERT_EQ(f.height, H);
    auto got = quadrantCentres(f);
    for (int q = 0; q < 4; ++q) EXPECT_TRUE(near(got[q], expected[n][q], 12)) << "frame " << n << " quadrant " << q;
    ++n;
  }
  EXPECT_EQ(n, N);
}

TEST(VideoWriter, FfprobeSeesRateCodecAndFaststart) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string path = dir.file("ntsc.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  opt.fpsNum = 30000;
  opt.fpsDen = 1001;
  const int N = 45;
  {
    ev::VideoWriter w(path, opt);
    for (int i = 0; i < N; ++i) w.write(quadrants(64, 48, kQuad));
    w.close();
  }
  // (ffprobe prints the entries in its own order)
  EXPECT_EQ(ffprobeStream(path, "codec_name,width,height,pix_fmt,r_frame_rate,avg_frame_rate"),
            "h264,64,48,yuv420p,30000/1001,30000/1001");
  EXPECT_EQ(ffprobeFrameCount(path), N);
  // faststart: the index (moov) precedes the media data (mdat).
  auto bytes = readBytes(path);
  size_t moov = findTag(bytes, "moov"), mdat = findTag(bytes, "mdat");
  ASSERT_NE(moov, std::string::npos);
  ASSERT_NE(mdat, std::string::npos);
  EXPECT_LT(moov, mdat);

  ev::VideoReader r(path);
  EXPECT_EQ(r.info().fpsNum, 30000);
  EXPECT_EQ(r.info().fpsDen, 1001);
  EXPECT_EQ(countFrames(path), N);
}

TEST(VideoWriter, OddSizeIsPaddedByReplication) {
  ScratchDir dir;
  const std::string path = dir.file("odd.mp4");
  const int W = 321, H = 241;
  ev::VideoWriterOptions opt;
  opt.width = W;
  opt.height = H;
  opt.crf = 12;
  ev::Frame f;
  f.width = W;
  f.height = H;
  f.rgb.assign(static_cast<size_t>(W) * H * 3, 128);
  // Last column white, last row black (the corner pixel is black).
  for (int y = 0; y < H; ++y) {
    for (int c = 0; c < 3; ++c) f.rgb[(static_cast<size_t>(y) * W + W - 1) * 3 + c] = 255;
  }
  for (int x = 0; x < W; ++x) {
    for (int c = 0; c < 3; ++c) f.rgb[(static_cast<size_t>(H - 1) * W + x) * 3 + c] = 0;
  }
  {
    ev::VideoWriter w(path, opt);
    for (int i = 0; i < 5; ++i) w.write(f);
    w.close();
  }
  ev::VideoReader r(path);
  // The reader sees the padded, even size: one extra replicated column and row.
  EXPECT_EQ(r.info().width, 322);
  EXPECT_EQ(r.info().height, 242);
  ev::Frame g;
  ASSERT_TRUE(r.read(g));
  ASSERT_EQ(g.width, 322);
  ASSERT_EQ(g.height, 242);
  for (int y : {10, 120, 230}) {
    EXPECT_TRUE(near(pixel(g, 320, y), {255, 255, 255}, 20)) << y;
    EXPECT_TRUE(near(pixel(g, 321, y), {255, 255, 255}, 20)) << y;
    EXPECT_TRUE(near(pixel(g, 300, y), {128, 128, 128}, 12)) << y;
  }
  for (int x : {10, 160, 300}) {
    EXPECT_TRUE(near(pixel(g, x, 240), {0, 0, 0}, 20)) << x;
    EXPECT_TRUE(near(pixel(g, x, 241), {0, 0, 0}, 20)) << x;
    EXPECT_TRUE(near(pixel(g, x, 220), {128, 128, 128}, 12)) << x;
  }
  int n = 1;
  while (r.read(g)) ++n;
  EXPECT_EQ(n, 5);
}

TEST(VideoWriter, ThousandsOfFramesWithConstantMemory) {
#ifdef __SANITIZE_ADDRESS__  // GCC's, with -fsanitize=address (EV_SANITIZE=ON)
  GTEST_SKIP() << "sanitizer build: ASan's quarantine keeps up to 256 MB of freed blocks resident (leaks: LSan)";
#endif
  ScratchDir dir;
  const std::string path = dir.file("long.mp4");
  const int N = 3000;
  ev::VideoWriterOptions opt;
  opt.width = 96;
  opt.height = 64;
  opt.preset = "ultrafast";
  long rssAt1000 = 0, rssAtEnd = 0;
  {
    ev::VideoWriter w(path, opt);
    ev::Frame f = quadrants(96, 64, kQuad);
    for (int i = 0; i < N; ++i) {
      f.rgb[0] = static_cast<uint8_t>(i);  // vary the content a little
      w.write(f);
      if (i == 1000) rssAt1000 = residentKb();
    }
    rssAtEnd = residentKb();
    w.close();
  }
  EXPECT_LT(rssAtEnd - rssAt1000, 16 * 1024) << "writer memory grew with the frame count";
  ev::VideoReader r(path);
  ev::Frame f;
  int64_t n = 0;
  long readAt1000 = 0;
  while (r.read(f)) {
    if (n == 1000) readAt1000 = residentKb();
    ++n;
  }
  EXPECT_EQ(n, N);
  EXPECT_LT(residentKb() - readAt1000, 16 * 1024) << "reader memory grew with the frame count";
}

TEST(VideoWriter, RejectsWrongFrameSize) {
  ScratchDir dir;
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  const std::string path = dir.file("w.mp4");
  ev::VideoWriter w(path, opt);
  expectError([&] { w.write(quadrants(48, 64, kQuad)); }, ev::ErrorKind::Usage, path, "48x64");
  ev::Frame shortFrame = quadrants(64, 48, kQuad);
  shortFrame.rgb.resize(100);
  expectError([&] { w.write(shortFrame); }, ev::ErrorKind::Usage, path, "bytes");
  w.write(quadrants(64, 48, kQuad));
  w.close();
  expectError([&] { w.write(quadrants(64, 48, kQuad)); }, ev::ErrorKind::Usage, path, "after close");
  EXPECT_EQ(countFrames(path), 1);
}

TEST(VideoWriter, RejectsBadOptions) {
  ScratchDir dir;
  const std::string path = dir.file("bad.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 0;
  opt.height = 48;
  expectError([&] { ev::VideoWriter w(path, opt); }, ev::ErrorKind::Usage, path, "size");
  opt.width = 64;
  opt.fpsNum = 0;
  expectError([&] { ev::VideoWriter w(path, opt); }, ev::ErrorKind::Usage, path, "frame rate");
  opt.fpsNum = 25;
  opt.preset = "warpspeed";
  expectError([&] { ev::VideoWriter w(path, opt); }, ev::ErrorKind::Usage, path, "preset");
  opt.preset = "veryfast";
  opt.crf = 99;
  expectError([&] { ev::VideoWriter w(path, opt); }, ev::ErrorKind::Usage, path, "crf");
}

TEST(VideoWriter, MissingDirectoryThrowsOutput) {
  ScratchDir dir;
  const std::string path = dir.file("no/such/dir/out.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  expectError([&] { ev::VideoWriter w(path, opt); }, ev::ErrorKind::Output, path,
              "cannot create output file (No such file or directory)");
}

TEST(VideoWriter, UnwritableDirectoryThrowsOutput) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
  ScratchDir dir;
  const std::string sub = dir.file("ro");
  fs::create_directories(sub);
  fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = sub + "/out.mp4";
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  expectError([&] { ev::VideoWriter w(path, opt); }, ev::ErrorKind::Output, path,
              "cannot create output file (Permission denied)");
  fs::permissions(sub, fs::perms::owner_all);
}

TEST(VideoWriter, DestroyWithoutCloseAbandonsFile) {
  ScratchDir dir;
  const std::string path = dir.file("abandoned.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  {
    ev::VideoWriter w(path, opt);
    for (int i = 0; i < 30; ++i) w.write(quadrants(64, 48, kQuad));
  }  // no close(): no trailer, no crash
  EXPECT_TRUE(fs::exists(path));
  // Without a trailer the MP4 has no index: reading it must fail cleanly.
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path, "not a video file");
}

TEST(VideoWriter, CloseTwiceIsHarmless) {
  ScratchDir dir;
  const std::string path = dir.file("twice.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 32;
  opt.height = 32;
  ev::VideoWriter w(path, opt);
  w.write(quadrants(32, 32, kQuad));
  w.close();
  w.close();
  EXPECT_EQ(countFrames(path), 1);
}

// ---------------------------------------------------------------- reader on ffmpeg-made clips

TEST(VideoReader, FrameCountMatchesFfprobe) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string path = dir.file("testsrc.mp4");
  // Default x264 settings use B-frames, so decode order != presentation order.
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 50 -c:v libx264 "
                     "-pix_fmt yuv420p '" + path + "'"));
  ASSERT_EQ(ffprobeFrameCount(path), 50);
  std::vector<double> times;
  EXPECT_EQ(countFrames(path, &times), 50);
  ev::VideoReader r(path);
  EXPECT_EQ(r.info().width, 320);
  EXPECT_EQ(r.info().height, 240);
  EXPECT_DOUBLE_EQ(r.info().fps, 25.0);
  EXPECT_EQ(r.info().frameCountHint, 50);
  EXPECT_NEAR(r.info().duration, 2.0, 0.05);
  ASSERT_EQ(times.size(), 50u);
  for (size_t i = 0; i < times.size(); ++i) EXPECT_NEAR(times[i], i / 25.0, 1e-6) << i;
}

// Our RGB must match the ffmpeg CLI's RGB conversion of the same file (same YUV matrix and
// range handling), for limited-range BT.601, BT.709-tagged and full-range (yuvj) sources.
TEST(VideoReader, ColoursMatchFfmpegCli) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  struct Case {
    std::string name, encode;
  };
  const std::vector<Case> cases = {
      {"bt601.mp4", "-c:v libx264 -pix_fmt yuv420p"},
      {"bt709.mp4", "-c:v libx264 -pix_fmt yuv420p -vf scale=out_color_matrix=bt709 "
                    "-colorspace bt709 -color_primaries bt709 -color_trc bt709"},
      {"mjpeg.avi", "-c:v mjpeg -pix_fmt yuvj422p -q:v 3"},
      {"yuv444.mkv", "-c:v libx264 -pix_fmt yuv444p"},
      {"odd420.mkv", "-c:v ffv1 -pix_fmt yuv420p -vf scale=175:143"},
  };
  for (const auto& c : cases) {
    const std::string path = dir.file(c.name);
    ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=176x144:rate=25 -frames:v 3 " + c.encode +
                       " '" + path + "'")) << c.name;
    const std::string raw = dir.file(c.name + ".rgb");
    // Same swscale flags as the reader, so only matrix/range handling could differ.
    ASSERT_TRUE(ffmpeg("-i '" + path + "' -frames:v 1 -sws_flags bicubic+accurate_rnd+full_chroma_int "
                       "-f rawvideo -pix_fmt rgb24 '" + raw + "'"));
    auto ref = readBytes(raw);
    ev::VideoReader r(path);
    ASSERT_EQ(ref.size(), static_cast<size_t>(r.info().width) * r.info().height * 3) << c.name;
    ev::Frame f;
    ASSERT_TRUE(r.read(f)) << c.name;
    ASSERT_EQ(f.rgb.size(), ref.size());
    double sum = 0;
    int maxDiff = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      int d = std::abs(int(f.rgb[i]) - int(ref[i]));
      sum += d;
      maxDiff = std::max(maxDiff, d);
    }
    // A wrong matrix or range gives mean differences of 5-20.
    EXPECT_LT(sum / ref.size(), 0.5) << c.name << " max diff " << maxDiff;
    EXPECT_LE(maxDiff, 3) << c.name;
  }
}

TEST(VideoReader, VariableFrameRate) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string path = dir.file("vfr.mp4");
  // 20 frames at 25 fps, then 20 frames 0.12 s apart.
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25 -frames:v 40 "
                     "-vf \"setpts='if(lt(N,20),N*0.04,0.8+(N-20)*0.12)/TB'\" -fps_mode vfr "
                     "-c:v libx264 -pix_fmt yuv420p '" + path + "'"));
  ASSERT_EQ(ffprobeFrameCount(path), 40);
  std::vector<double> times;
  EXPECT_EQ(countFrames(path, &times), 40);
  ASSERT_EQ(times.size(), 40u);
  for (size_t i = 1; i < times.size(); ++i) EXPECT_GT(times[i], times[i - 1]) << i;
  EXPECT_NEAR(times[0], 0.0, 1e-6);
  EXPECT_NEAR(times[10], 0.4, 0.002);
  EXPECT_NEAR(times[25], 1.4, 0.002);
  EXPECT_NEAR(times[39], 3.08, 0.002);
  // And the same as ffprobe's presentation times.
  std::istringstream probe(capture("ffprobe -v error -select_streams v:0 -show_entries "
                                   "frame=best_effort_timestamp_time -of csv=p=0 '" + path + "'"));
  std::vector<double> probed;
  for (std::string line; std::getline(probe, line);) {
    if (!line.empty()) probed.push_back(std::stod(line));
  }
  ASSERT_EQ(probed.size(), times.size());
  for (size_t i = 0; i < times.size(); ++i) EXPECT_NEAR(times[i], probed[i] - probed[0], 1e-4) << i;
}

TEST(VideoReader, Mpeg4InAvi) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string path = dir.file("clip.avi");
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=240x180:rate=15 -frames:v 33 -c:v mpeg4 '" +
                     path + "'"));
  EXPECT_EQ(countFrames(path), ffprobeFrameCount(path));
  EXPECT_EQ(countFrames(path), 33);
  ev::VideoReader r(path);
  EXPECT_EQ(r.info().codec, "mpeg4");
  EXPECT_EQ(r.info().width, 240);
  EXPECT_EQ(r.info().height, 180);
  EXPECT_DOUBLE_EQ(r.info().fps, 15.0);
}

TEST(VideoReader, Vp9InWebm) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string path = dir.file("clip.webm");
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=200x150:rate=30 -frames:v 24 -c:v libvpx-vp9 "
                     "-deadline realtime -cpu-used 8 -b:v 300k '" + path + "'"));
  EXPECT_EQ(countFrames(path), ffprobeFrameCount(path));
  EXPECT_EQ(countFrames(path), 24);
  ev::VideoReader r(path);
  EXPECT_EQ(r.info().codec, "vp9");
  EXPECT_EQ(r.info().width, 200);
  EXPECT_EQ(r.info().height, 150);
  EXPECT_DOUBLE_EQ(r.info().fps, 30.0);
}

TEST(VideoReader, OddSizedSourceAndAudioInterleaved) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string path = dir.file("odd.mkv");
  // yuv444p allows odd sizes; an audio stream is interleaved and must be skipped.
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc=size=171x97:rate=25 -f lavfi -i sine=duration=1 "
                     "-frames:v 25 -c:v libx264 -pix_fmt yuv444p -c:a aac -shortest '" + path +
                     "'"));
  EXPECT_EQ(countFrames(path), ffprobeFrameCount(path));
  ev::VideoReader r(path);
  EXPECT_EQ(r.info().width, 171);
  EXPECT_EQ(r.info().height, 97);
}

// A rotated phone-style clip must come out as the ffmpeg CLI (autorotate on) shows it.
TEST(VideoReader, RotationMatchesFfmpegAutorotate) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string src = dir.file("upright.mp4");
  const int W = 160, H = 96;
  {
    ev::VideoWriterOptions opt;
    opt.width = W;
    opt.height = H;
    opt.crf = 12;
    ev::VideoWriter w(src, opt);
    for (int i = 0; i < 3; ++i) w.write(quadrants(W, H, kQuad));
    w.close();
  }
  for (int rot : {90, 180, 270}) {
    SCOPED_TRACE("rotate=" + std::to_string(rot));
    const std::string path = dir.file("rot" + std::to_string(rot) + ".mp4");
    ASSERT_TRUE(ffmpeg("-i '" + src + "' -c copy -metadata:s:v:0 rotate=" + std::to_string(rot) +
                       " '" + path + "'"));
    const bool swap = rot != 180;
    const int ow = swap ? H : W, oh = swap ? W : H;
    const std::string raw = dir.file("rot" + std::to_string(rot) + ".rgb");
    ASSERT_TRUE(ffmpeg("-i '" + path + "' -frames:v 1 -f rawvideo -pix_fmt rgb24 '" + raw + "'"));
    ev::Frame ref;
    ref.width = ow;
    ref.height = oh;
    ref.rgb = readBytes(raw);
    ASSERT_EQ(ref.rgb.size(), static_cast<size_t>(ow) * oh * 3) << "ffmpeg output size";

    // FFmpeg 5.1's mov muxer turns the tag into a display matrix; ffprobe prints the matrix's
    // counter-clockwise angle (90 for rotate=90 here), and autorotate turns the picture
    // clockwise by its negation.
    const std::string probed = capture("ffprobe -v error -select_streams v:0 -show_entries "
                                       "stream_side_data=rotation -of csv=p=0 '" + path + "'");
    ASSERT_FALSE(probed.empty()) << "no display matrix written";
    const int clockwise = ((-std::stoi(probed)) % 360 + 360) % 360;
    ASSERT_NE(clockwise, 0);

    ev::VideoReader r(path);
    EXPECT_EQ(r.info().rotation, clockwise);
    EXPECT_EQ(r.info().width, ow);
    EXPECT_EQ(r.info().height, oh);
    ev::Frame f;
    ASSERT_TRUE(r.read(f));
    ASSERT_EQ(f.width, ow);
    ASSERT_EQ(f.height, oh);
    auto got = quadrantCentres(f), want = quadrantCentres(ref);
    for (int q = 0; q < 4; ++q) EXPECT_TRUE(near(got[q], want[q], 12)) << "quadrant " << q;
    // And the rotation really moved the picture: the top-left is no longer the source's.
    EXPECT_FALSE(near(got[0], kQuad[0], 12));
    // Expected layout, independent of ffmpeg: turning clockwise by 90 puts the source's
    // bottom-left quadrant at the top-left, top-left at top-right, and so on.
    const std::map<int, std::array<int, 4>> from = {
        {90, {2, 0, 3, 1}}, {180, {3, 2, 1, 0}}, {270, {1, 3, 0, 2}}};
    for (int q = 0; q < 4; ++q) {
      EXPECT_TRUE(near(got[q], kQuad[from.at(clockwise)[q]], 12)) << "layout, quadrant " << q;
    }
  }
}

// ---------------------------------------------------------------- bad inputs

TEST(VideoReader, MissingFile) {
  ScratchDir dir;
  const std::string path = dir.file("nope.mp4");
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path, "file does not exist");
}

TEST(VideoReader, EmptyFile) {
  ScratchDir dir;
  const std::string path = dir.file("empty.mp4");
  writeBytes(path, {});
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path, "file is empty");
}

TEST(VideoReader, Directory) {
  ScratchDir dir;
  const std::string path = dir.file("adir.mp4");
  fs::create_directories(path);
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path, "directory");
}

TEST(VideoReader, TextFileNamedMp4) {
  ScratchDir dir;
  const std::string path = dir.file("notes.mp4");
  std::ofstream(path) << "This is not a video.\nJust some text, nothing more.\n";
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path,
              "not a video file FFmpeg can read", "no video stream");
}

TEST(VideoReader, RandomBytesNamedAvi) {
  ScratchDir dir;
  const std::string path = dir.file("noise.avi");
  std::vector<uint8_t> noise(20000);
  uint32_t s = 12345;
  for (auto& b : noise) {
    s = s * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(s >> 24);
  }
  writeBytes(path, noise);
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path,
              "not a video file FFmpeg can read", "no video stream");
}

TEST(VideoReader, AudioOnlyFile) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  for (const char* name : {"a.mp4", "a.m4a"}) {
    const std::string path = dir.file(name);
    ASSERT_TRUE(ffmpeg("-f lavfi -i sine=frequency=440:duration=1 '" + path + "'"));
    expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path, "no video stream");
  }
}

TEST(VideoReader, TruncatedMp4WithoutIndex) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::string full = dir.file("full.mp4");
  // Without faststart the moov atom is at the end; cutting the file in half loses it.
  ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 50 -c:v libx264 '" +
                     full + "'"));
  auto bytes = readBytes(full);
  ASSERT_GT(findTag(bytes, "moov"), findTag(bytes, "mdat"));
  bytes.resize(bytes.size() / 2);
  const std::string path = dir.file("half.mp4");
  writeBytes(path, bytes);
  expectError([&] { ev::VideoReader r(path); }, ev::ErrorKind::Input, path,
              "not a video file FFmpeg can read");
  try {
    ev::VideoReader r(path);
  } catch (const ev::Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

// A faststart file cut short keeps its index: decode what is there and end cleanly.
TEST(VideoReader, TruncatedFaststartMp4DecodesWhatItCan) {
  ScratchDir dir;
  const std::string full = dir.file("full.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 128;
  opt.height = 96;
  {
    ev::VideoWriter w(full, opt);
    for (int i = 0; i < 60; ++i) w.write(quadrants(128, 96, {kQuad[0], kQuad[1], kQuad[2], Rgb{i * 4, 0, 0}}));
    w.close();
  }
  auto bytes = readBytes(full);
  ASSERT_LT(findTag(bytes, "moov"), findTag(bytes, "mdat"));
  const size_t mdat = findTag(bytes, "mdat");
  bytes.resize(mdat + (bytes.size() - mdat) / 2);
  const std::string path = dir.file("cut.mp4");
  writeBytes(path, bytes);
  int64_t n = 0;
  try {
    n = countFrames(path);
  } catch (const ev::Error& e) {
    ADD_FAILURE() << "should decode the first half: " << e.what();
  }
  EXPECT_GT(n, 5);
  EXPECT_LE(n, 60);
}

// Garbage in the middle of the data: no crash, no hang; either frames or an Input error.
TEST(VideoReader, CorruptedDataDoesNotCrash) {
  REQUIRE_FFMPEG_CLI();
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> clips = {
      {"c.mp4", "-c:v libx264"}, {"c.avi", "-c:v mpeg4"}, {"c.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8"}};
  for (const auto& [name, codec] : clips) {
    SCOPED_TRACE(name);
    const std::string full = dir.file(name);
    ASSERT_TRUE(ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25 -frames:v 40 " + codec + " '" +
                       full + "'"));
    auto bytes = readBytes(full);
    uint32_t s = 99;
    for (int pass = 0; pass < 3; ++pass) {
      auto damaged = bytes;
      // Overwrite a few stretches after the first 10% with noise.
      for (int k = 0; k < 4 + pass * 4; ++k) {
        s = s * 1664525u + 1013904223u;
        size_t at = damaged.size() / 10 + s % (damaged.size() * 8 / 10);
        for (size_t i = at; i < std::min(damaged.size(), at + 200); ++i) {
          s = s * 1664525u + 1013904223u;
          damaged[i] = static_cast<uint8_t>(s >> 24);
        }
      }
      const std::string path = dir.file("damaged_" + std::to_string(pass) + "_" + name);
      writeBytes(path, damaged);
      try {
        ev::VideoReader r(path);
        ev::Frame f;
        int64_t n = 0;
        while (r.read(f)) {
          ASSERT_EQ(f.rgb.size(), static_cast<size_t>(f.width) * f.height * 3);
          ASSERT_LT(++n, 1000);
        }
      } catch (const ev::Error& e) {
        EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(ev::ErrorKind::Input)) << e.what();
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      }
    }
  }
}

// A file whose container is fine but whose video data is all zeros has no frames.
TEST(VideoReader, NoDecodableFramesThrowsFromRead) {
  ScratchDir dir;
  const std::string full = dir.file("full.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  {
    ev::VideoWriter w(full, opt);
    for (int i = 0; i < 10; ++i) w.write(quadrants(64, 48, kQuad));
    w.close();
  }
  auto bytes = readBytes(full);
  const size_t mdat = findTag(bytes, "mdat");
  ASSERT_NE(mdat, std::string::npos);
  for (size_t i = mdat + 4; i < bytes.size(); ++i) bytes[i] = 0;
  const std::string path = dir.file("zeros.mp4");
  writeBytes(path, bytes);
  ev::VideoReader r(path);  // the container opens
  ev::Frame f;
  expectError([&] { r.read(f); }, ev::ErrorKind::Input, path, "no decodable video frames");
}

// ---------------------------------------------------------------- real clips, when present

TEST(VideoReader, RealClipsFrameCounts) {
  const fs::path dir = fs::path(evtest::sourceDir()) / ".." / "shared" / "real-clips";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " not present";
  struct Clip {
    const char* name;
    int64_t frames;
    int width, height;
  };
  const Clip clips[] = {
      {"pymecavideo_g1_bike.avi", 16, 400, 300},
      {"opencv_cup_hand.mp4", 217, 640, 480},
      {"ucf101_v_ApplyEyeMakeup_g01_c01.avi", 164, 320, 240},
      {"kinetics__unlabeled_pool_cleaning__mmaction2_test.mp4", 300, 340, 256},
      {"mmaction2_demo_kinetics_armwrestling.mp4", 280, 340, 256},
      {"opencv_vtest_first10s_derived.mp4", 100, 768, 576},
      {"unlabeled_basketball__mmaction2_structuralize.mp4", 300, 426, 240},
  };
  int checked = 0;
  for (const auto& c : clips) {
    const fs::path p = dir / c.name;
    if (!fs::exists(p)) continue;
    SCOPED_TRACE(c.name);
    std::vector<double> times;
    EXPECT_EQ(countFrames(p.string(), &times), c.frames);
    for (size_t i = 1; i < times.size(); ++i) EXPECT_GT(times[i], times[i - 1]) << i;
    ev::VideoReader r(p.string());
    EXPECT_EQ(r.info().width, c.width);
    EXPECT_EQ(r.info().height, c.height);
    EXPECT_GT(r.info().fps, 0.0);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no listed clip in " << dir;
}
