// Regression tests for what the fuzz targets (tests/fuzz/, scripts/fuzz.sh) found, through the
// normal interfaces (the library's functions, the CLI). The failing inputs themselves are kept in
// tests/fuzz/regressions/TARGET/, which scripts/fuzz.sh re-runs before fuzzing; here each is
// also checked in the ordinary test suite, so the normal and the sanitizer builds keep them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_runner.hpp"
#include "explain_video/error.hpp"
#include "explain_video/npy.hpp"
#include "explain_video/windows.hpp"
#include "scratch_dir.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kRegressions = std::string(evtest::sourceDir()) + "/tests/fuzz/regressions/";

// The error kind readNpy throws for the file; any other exception fails the test.
ev::ErrorKind npyErrorKind(const std::string& path) {
  try {
    ev::readNpy(path);
  } catch (const ev::Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << path << " was read";
  return ev::ErrorKind::Internal;
}

std::string npyWithHeader(const evtest::ScratchDir& dir, const std::string& name, std::string dict,
                          const std::string& data) {
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(dict.size() & 0xff));
  bytes.push_back(static_cast<char>(dict.size() >> 8));
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes << dict << data;
  return path;
}

evtest::CliRun cli(const std::string& args) {
  return evtest::runCli(args, ::testing::TempDir() + "/ev_fuzzreg_stderr_" + std::to_string(::getpid()) + ".txt");
}

}  // namespace

// fuzz_npy: a header without a 'shape' key made readNpy throw std::invalid_argument (from
// std::stoll on the wrong part of the header), not ev::Error.
TEST(FuzzRegression, NpyWithoutShapeKeyIsAnInputError) {
  EXPECT_EQ(npyErrorKind(kRegressions + "fuzz_npy/no_shape_key.npy"), ev::ErrorKind::Input);
}

// Found while fixing the above, the same code: shapes that overflow, are negative or promise more
// values than the file holds are refused before anything is allocated.
TEST(FuzzRegression, NpyShapesThatTheFileCannotHoldAreInputErrors) {
  evtest::ScratchDir dir("ev_fuzzreg_");
  const std::string four(16, '\0');
  for (const char* shape : {"(4,)", "(2, 2)", "(1000000000000, 1000000000000)", "(99999999999999,)", "(-1, 4)",
                            "(2x, 2)", "2, 2"}) {
    const std::string path =
        npyWithHeader(dir, "a.npy", std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }",
                      four);
    if (std::string(shape) == "(4,)" || std::string(shape) == "(2, 2)") {
      EXPECT_EQ(ev::readNpy(path).data.size(), 4u) << shape;
    } else {
      EXPECT_EQ(npyErrorKind(path), ev::ErrorKind::Input) << shape;
    }
  }
  // A header cut short is refused too.
  const std::string path = dir.file("cut.npy");
  std::ofstream(path, std::ios::binary) << std::string("\x93NUMPY\x01\x00\x76\x00{'descr'", 18);
  EXPECT_EQ(npyErrorKind(path), ev::ErrorKind::Input);
}

// fuzz_options: "--scale 1e60/4" passed (the quotient is finite as a double) and became an
// infinite float scale; "1/1e60" became 0. Both are refused with the usual one line, exit 2.
TEST(FuzzRegression, ScaleWhoseQuotientIsNoPositiveFloatIsRefused) {
  for (const char* bad : {"1e60/4", "1/1e60"}) {
    const evtest::CliRun r = cli(std::string("train --model x.pt --data nodata --out never.pt --scale ") + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--scale '" + std::string(bad) + "': expected a positive number"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists("never.pt"));
}

// fuzz_options: the --clip-len limit's message computed the window's MiB in long long, which
// overflowed (undefined behaviour, a UBSan report in the sanitizer build) for a long clip with a
// crop far beyond the side limit: --clip-len 1100011999 --crop 9100211x9029. Still refused, with
// the same message for ordinary sizes.
TEST(FuzzRegression, ClipLenLimitMessageDoesNotOverflow) {
  ev::PreprocessParams pre;
  ev::WindowParams win;
  win.clipLen = 1100011999;
  pre.cropHeight = 9100211, pre.cropWidth = 9029;
  pre.resizeHeight = pre.resizeWidth = 10000000;
  try {
    ev::WindowSampler sampler(pre, win);
    ADD_FAILURE() << "accepted";
  } catch (const ev::Error& e) {
    EXPECT_EQ(e.kind(), ev::ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("--clip-len 1100011999 is more than 1024"), std::string::npos) << e.what();
  }
  win.clipLen = 2000;
  pre = ev::PreprocessParams{};  // 112x112: 3 * 2000 * 112 * 112 * 4 bytes = 287 MiB
  try {
    ev::WindowSampler sampler(pre, win);
    ADD_FAILURE() << "accepted";
  } catch (const ev::Error& e) {
    EXPECT_NE(std::string(e.what()).find("(one window would need 287 MiB)"), std::string::npos) << e.what();
  }
}
