// What the training tests share: one scratch folder per test process (CTest runs tests in
// parallel processes; the folder is removed when the process ends) and the tiny synthetic
// split they train on (8 classes × 2 clips, 64×48, 16 frames, half with a partial action).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "explain_video/synth.hpp"
#include "explain_video/train.hpp"

namespace evtest {

// <temp>/ev_tests_<pid>, created on first use and removed at exit (one per process: the tests
// of a process share it).
inline const std::string& processDir() {
  struct Dir {
    std::string path;
    explicit Dir(const std::string& p) : path(p) {
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir(::testing::TempDir() + "/ev_tests_" + std::to_string(::getpid()));
  return dir.path;
}

// The split folder (written once per process under processDir()).
inline const std::string& tinyTrainSplit() {
  static const std::string split = [] {
    const std::string& dir = processDir();
    ev::SynthParams p;
    p.width = 64;
    p.height = 48;
    p.frames = 16;
    ev::writeSynthSplit(dir + "/data", "train", 2, 7, p);
    return dir + "/data/train";
  }();
  return split;
}

// The tiny split's input geometry: 64×48 frames resized to 36×48, centre crop 32×32.
inline ev::PreprocessParams tinyPreprocess() {
  ev::PreprocessParams p;
  p.resizeHeight = 36;
  p.resizeWidth = 48;
  p.cropHeight = 32;
  p.cropWidth = 32;
  return p;
}

// What the training tests start from: `modelFile` trained on the tiny split with 8-frame
// windows, batch 4, Adam at 0.003 without weight decay, one thread; output files `name`.pt and
// `name`.ckpt in processDir().
inline ev::TrainOptions tinyTrainOptions(const std::string& modelFile, const std::string& name) {
  ev::TrainOptions o;
  o.modelPath = modelFile;
  o.trainDir = tinyTrainSplit();
  o.outPath = processDir() + "/" + name + ".pt";
  o.checkpointDir = processDir() + "/" + name + ".ckpt";
  o.preprocess = tinyPreprocess();
  o.clipLen = 8;
  o.batchSize = 4;
  o.optimizer = "adam";
  o.lr = 0.003;
  o.weightDecay = 0.0;
  o.threads = 1;
  return o;
}

}  // namespace evtest
