// ev::MemoryVideoReader (src/video/memory_reader.hpp): the decoder on bytes in memory, the way
// the decoder fuzz target (tests/fuzz/fuzz_video.cpp) drives it. The same bytes must decode as
// they do from a file, and bad bytes must end in ev::Error(Input), never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "explain_video/error.hpp"
#include "explain_video/video.hpp"
#include "scratch_dir.hpp"
#include "video/memory_reader.hpp"

namespace {

std::vector<uint8_t> fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A 24-frame 64×48 H.264 MP4 whose frames differ (a moving bright column).
std::string writeClip(const evtest::ScratchDir& dir) {
  const std::string path = dir.file("clip.mp4");
  ev::VideoWriterOptions opt;
  opt.width = 64;
  opt.height = 48;
  ev::VideoWriter w(path, opt);
  for (int i = 0; i < 24; ++i) {
    ev::Frame f;
    f.width = 64;
    f.height = 48;
    f.rgb.assign(64 * 48 * 3, 40);
    for (int y = 0; y < 48; ++y)
      for (int c = 0; c < 3; ++c) f.rgb[(y * 64 + (i * 2) % 64) * 3 + c] = 230;
    w.write(f);
  }
  w.close();
  return path;
}

// Every frame the reader gives; an ev::Error from open or read propagates.
std::vector<ev::Frame> decodeAll(ev::VideoReader& r) {
  std::vector<ev::Frame> frames;
  ev::Frame f;
  while (r.read(f)) frames.push_back(f);
  return frames;
}

ev::ErrorKind errorKindOf(const std::vector<uint8_t>& bytes) {
  try {
    auto r = ev::MemoryVideoReader::open(bytes.data(), bytes.size(), "mem");
    decodeAll(*r);
  } catch (const ev::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("mem: ", 0), 0u) << e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no error";
  return ev::ErrorKind::Internal;
}

}  // namespace

TEST(VideoMemoryReader, SameInfoAndFramesAsTheFile) {
  evtest::ScratchDir dir("ev_vmem_");
  const std::string path = writeClip(dir);
  const std::vector<uint8_t> bytes = fileBytes(path);
  ASSERT_GT(bytes.size(), 100u);

  ev::VideoReader fromFile(path);
  auto fromMemory = ev::MemoryVideoReader::open(bytes.data(), bytes.size(), "clip in memory");
  const ev::VideoInfo &a = fromFile.info(), &b = fromMemory->info();
  EXPECT_EQ(b.path, "clip in memory");
  EXPECT_EQ(b.width, a.width);
  EXPECT_EQ(b.height, a.height);
  EXPECT_EQ(b.fpsNum, a.fpsNum);
  EXPECT_EQ(b.fpsDen, a.fpsDen);
  EXPECT_EQ(b.frameCountHint, a.frameCountHint);
  EXPECT_EQ(b.codec, a.codec);
  EXPECT_EQ(b.container, a.container);
  const auto fa = decodeAll(fromFile), fb = decodeAll(*fromMemory);
  ASSERT_EQ(fa.size(), 24u);
  ASSERT_EQ(fb.size(), fa.size());
  for (size_t i = 0; i < fa.size(); ++i) {
    EXPECT_EQ(fb[i].index, fa[i].index);
    EXPECT_DOUBLE_EQ(fb[i].time, fa[i].time);
    EXPECT_TRUE(fb[i].rgb == fa[i].rgb) << "frame " << i;
  }
}

TEST(VideoMemoryReader, EmptyAndRandomBytesAreInputErrors) {
  EXPECT_EQ(errorKindOf({}), ev::ErrorKind::Input);
  std::vector<uint8_t> noise(4096);
  uint32_t x = 12345;
  for (uint8_t& b : noise) b = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  EXPECT_EQ(errorKindOf(noise), ev::ErrorKind::Input);
}

TEST(VideoMemoryReader, TruncatedBytesDecodeAPrefixOrFailAsInput) {
  evtest::ScratchDir dir("ev_vmem_");
  const std::vector<uint8_t> bytes = fileBytes(writeClip(dir));
  for (size_t keep : {bytes.size() / 10, bytes.size() / 2, bytes.size() - 1}) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(keep));
    try {
      auto r = ev::MemoryVideoReader::open(cut.data(), cut.size(), "mem");
      EXPECT_LE(decodeAll(*r).size(), 24u) << keep;
    } catch (const ev::Error& e) {
      EXPECT_EQ(e.kind(), ev::ErrorKind::Input) << keep << ": " << e.what();
    }
  }
}

// Bytes in memory name no other file: a playlist that points at a real clip must not open it.
TEST(VideoMemoryReader, APlaylistCannotOpenOtherFiles) {
  evtest::ScratchDir dir("ev_vmem_");
  const std::string clip = writeClip(dir);
  const std::string m3u8 = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.0,\n" + clip + "\n#EXT-X-ENDLIST\n";
  const std::string concat = "ffconcat version 1.0\nfile '" + clip + "'\n";
  for (const std::string& text : {m3u8, concat}) {
    const std::vector<uint8_t> bytes(text.begin(), text.end());
    EXPECT_EQ(errorKindOf(bytes), ev::ErrorKind::Input) << text;
  }
}
