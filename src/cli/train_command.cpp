// `explain-video train` (LibTorch training of a TorchScript classifier on a synth split) and
// `explain-video accuracy` (clip-level top-1, per-class accuracy, confusion matrix).
// docs/training.md describes both.
#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/cli_common.hpp"
#include "explain_video/cam.hpp"
#include "explain_video/error.hpp"
#include "explain_video/train.hpp"

namespace po = boost::program_options;

namespace cli {
namespace {

// The registry's methods that the explanation losses can train through.
std::string differentiableMethods() {
  std::string s;
  for (const ev::CamMethodInfo& m : ev::camMethods())
    if (m.differentiable) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

// "ce" or "ce:1,distill:0.5" → weighted loss terms.
std::vector<ev::LossSpec> parseLosses(const std::string& text) {
  std::vector<ev::LossSpec> out;
  std::istringstream in(text);
  for (std::string tok; std::getline(in, tok, ',');) {
    if (tok.empty()) continue;
    ev::LossSpec s;
    const auto colon = tok.find(':');
    s.name = tok.substr(0, colon);
    if (colon != std::string::npos) {
      try {
        size_t used = 0;
        const std::string w = tok.substr(colon + 1);
        s.weight = std::stod(w, &used);
        if (used != w.size()) throw std::invalid_argument(w);
      } catch (const std::exception&) {
        throw ev::Error(ev::ErrorKind::Usage, "--loss '" + text + "': expected NAME[:WEIGHT],... e.g. ce:1");
      }
    }
    out.push_back(s);
  }
  if (out.empty()) throw ev::Error(ev::ErrorKind::Usage, "--loss '" + text + "': no loss term");
  return out;
}

// One progress line on stderr, redrawn in place (at most 4 times a second), plus permanent lines.
class Printer {
 public:
  explicit Printer(bool quiet) : quiet_(quiet) {}
  ~Printer() { end(); }
  void progress(const std::string& text, bool force) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && open_ && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    std::string padded = text;
    if (padded.size() < width_) padded.append(width_ - padded.size(), ' ');
    width_ = text.size();
    std::fprintf(stderr, "\r%s", padded.c_str());
    std::fflush(stderr);
    open_ = true;
  }
  void line(const std::string& text) {
    if (quiet_) return;
    end();
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  void end() {
    if (open_) std::fputc('\n', stderr);
    open_ = false;
    width_ = 0;
  }

 private:
  bool quiet_;
  bool open_ = false;
  size_t width_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

std::string termsText(const std::vector<std::string>& names, const std::vector<double>& values) {
  std::string s;
  char buf[64];
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%s %.4f", i ? ", " : "", names[i].c_str(), values[i]);
    s += buf;
  }
  return s;
}

}  // namespace

namespace {

// train and distill share everything; distill needs a teacher and defaults to ce + exp.
int runTraining(int argc, char** argv, bool distill) {
  const char* command = distill ? "distill" : "train";
  ev::TrainOptions o;
  PreprocessArgs pre(o.preprocess, o.clipLen, o.valStride);
  std::string losses = distill ? "ce,exp" : "ce", betas = "0.9,0.999";
  bool quiet = false;
  po::options_description io("Data and files");
  io.add_options()
      ("help,h", "show this help and exit")
      ("model,m", value(&o.modelPath, "FILE"), "initial TorchScript model, input N×3×T×H×W (e.g. scripts/export_c3d.py --arch c3d-small)")
      ("output", value(&o.modelOutput, "KEY"),
       "for a model whose forward() returns a tuple, list or dict: the element holding the logits, as an index or key, "
       "dotted when nested (default: the first tensor)")
      ("data,d", value(&o.trainDir, "DIR"), "training split folder written by explain-video synth (required)")
      ("val", value(&o.valDir, "DIR"), "validation split folder, evaluated after every epoch")
      ("out,o", value(&o.outPath, "FILE"), "the trained model (TorchScript, eval mode) (required)")
      ("checkpoint", value(&o.checkpointDir, "DIR"), "checkpoint folder, written after every epoch (default: OUT.ckpt, or the --resume folder)")
      ("resume", value(&o.resumeDir, "DIR"), "continue the training saved in this checkpoint folder")
      ("log", value(&o.logPath, "FILE"), "JSON training log: options, per-epoch stats, per-step losses")
      ("keep", valueOr(&o.keep, "WHICH"), "final model: best (validation accuracy; needs --val) or last");
  po::options_description optim("Optimisation");
  optim.add_options()
      ("epochs", valueOr(&o.epochs, "N"), "epochs (one window per training clip each)")
      ("stop-after-epoch", value(&o.stopAfterEpoch, "N")->default_value(0),
       "stop this run after that many epochs in total (continue later with --resume); 0: run all")
      ("batch-size", valueOr(&o.batchSize, "N"), "clips per step")
      ("optimizer", valueOr(&o.optimizer, "NAME"), "sgd, adam or adamw")
      ("lr", valueOr(&o.lr, "X"), "peak learning rate")
      ("momentum", valueOr(&o.momentum, "X"), "SGD momentum")
      ("nesterov", po::bool_switch(&o.nesterov), "SGD with Nesterov momentum")
      ("weight-decay", valueOr(&o.weightDecay, "X"), "weight decay (L2 for sgd/adam, decoupled for adamw)")
      ("betas", valueOr(&betas, "B1,B2"), "Adam beta1,beta2")
      ("schedule", valueOr(&o.schedule, "NAME"), "cosine, step or constant (after the warm-up)")
      ("warmup-epochs", valueOr(&o.warmupEpochs, "X"), "linear warm-up length in epochs (fractions allowed)")
      ("min-lr", valueOr(&o.minLr, "X"), "cosine: learning rate at the end")
      ("step-size", valueOr(&o.stepSize, "N"), "step: multiply the rate by --gamma every this many epochs")
      ("gamma", valueOr(&o.gamma, "X"), "step: factor")
      ("loss", valueOr(&losses, "LIST"),
       "weighted loss terms NAME[:WEIGHT],...: ce (cross-entropy), kd (distillation from --teacher), exp (explanation loss "
       "against --teacher's maps), box (the model's own map against the actor's ground-truth boxes)")
      ("label-smoothing", valueOr(&o.labelSmoothing, "X"), "ce: label smoothing")
      ("grad-clip", valueOr(&o.gradClip, "X"), "clip the global gradient norm (0: off)")
      ("seed", valueOr(&o.seed, "N"), "seed of data order, window starts and dropout")
      ("threads", threadsValue(&o.threads), "LibTorch (and decoding) threads (0: every CPU; more are capped there)")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr");
  po::options_description teacher("Teacher and explanation maps (losses kd, exp, box)");
  teacher.add_options()
      ("teacher", value(&o.teacherPath, "FILE"), distill ? "teacher TorchScript model, same classes and input (required)"
                                                     : "teacher TorchScript model, same classes and input")
      ("kd-temperature", valueOr(&o.kdTemperature, "T"), "kd: softmax temperature T (the term is T²·KL)")
      ("exp-method", valueOr(&o.expMethod, "NAME"),
       ("exp, box: the maps' method, a differentiable one of the registry: " + differentiableMethods()).c_str())
      ("exp-layer", value(&o.expLayer, "PATH"), "exp, box: the student's layer (default: its last 5D block, as explain picks)")
      ("teacher-layer", value(&o.teacherLayer, "PATH"), "exp: the teacher's layer (default: its last 5D block)")
      ("teacher-output", value(&o.teacherOutput, "KEY"), "the teacher's logits in its forward() output, as --output");
  po::options_description input("Model input (as in the explain command)");
  pre.add(input, "frames between validation window starts (a clip's class = argmax of the mean logits)");
  po::options_description all(distill ? "explain-video distill: train a student video classifier from a teacher on a synth split"
                                      : "explain-video train: train a TorchScript video classifier on a synth split");
  all.add(io).add(optim).add(teacher).add(input);
  const po::variables_map vm = parseOptions(command, argc, argv, all);
  if (vm.count("help")) {
    if (distill)
      std::cout << "Usage: explain-video distill --teacher TEACHER.pt --model STUDENT_INIT.pt --data DIR/train [--val DIR/val] "
                   "--out MODEL.pt [--loss ce,kd,exp] [options]\n\n";
    else
      std::cout << "Usage: explain-video train --model INIT.pt --data DIR/train [--val DIR/val] --out MODEL.pt [options]\n\n";
    std::cout << all << "\nPrints the path of the trained model on stdout. See "
              << (distill ? "docs/distill.md" : "docs/training.md") << ".\n";
    if (distill)
      std::cout << examplesSection({
          "# A c3d-tiny student from the shipped teacher, with the Grad-CAM++ explanation loss",
          "/usr/bin/python3 scripts/export_c3d.py --arch c3d-tiny --norm --out student_init.pt",
          "explain-video synth --out data --split train,test --clips-per-class 1",
          "explain-video distill --teacher models/c3d_small_synth.pt --model student_init.pt --data data/train \\",
          "    --out student.pt --loss ce,kd,exp:10 --optimizer adam --lr 2e-3 --epochs 1",
          "explain-video accuracy --model student.pt --data data/test",
      });
    else
      std::cout << examplesSection({
          "# A small C3D on a small benchmark, keeping the epoch of the best validation accuracy",
          "/usr/bin/python3 scripts/export_c3d.py --arch c3d-small --norm --out init.pt",
          "explain-video synth --out data --clips-per-class 1",
          "explain-video train --model init.pt --data data/train --val data/val --out trained.pt --epochs 2",
          "# Stop after one epoch of two, then continue from the checkpoint",
          "explain-video train --model init.pt --data data/train --out part.pt --epochs 2 --stop-after-epoch 1",
          "explain-video train --model init.pt --data data/train --out part.pt --epochs 2 --resume part.pt.ckpt",
          "explain-video accuracy --model trained.pt --data data/test",
      });
    return kOk;
  }
  if (distill && o.teacherPath.empty()) throw ev::Error(ev::ErrorKind::Usage, "distill: --teacher is required");
  pre.apply();
  o.losses = parseLosses(losses);
  {
    const auto comma = betas.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument(betas);
      size_t u1 = 0, u2 = 0;
      o.beta1 = std::stod(betas.substr(0, comma), &u1);
      o.beta2 = std::stod(betas.substr(comma + 1), &u2);
      if (u1 != comma || u2 != betas.size() - comma - 1) throw std::invalid_argument(betas);
    } catch (const std::exception&) {
      throw ev::Error(ev::ErrorKind::Usage, "--betas '" + betas + "': expected two comma-separated numbers, e.g. 0.9,0.999");
    }
  }

  Printer printer(quiet);
  try {
    const ev::TrainResult r = ev::trainModel(o, [&](const ev::TrainEvent& e) {
      char buf[512];
      using K = ev::TrainEvent::Kind;
      switch (e.kind) {
        case K::Loading:
          std::snprintf(buf, sizeof buf, "loading %s  %lld/%lld %s", e.split.c_str(), e.done, e.total,
                        ev::pluralNoun(e.total, "clip").c_str());
          printer.progress(buf, e.done == e.total);
          if (e.done == e.total) printer.end();
          break;
        case K::Resumed:
          std::snprintf(buf, sizeof buf, "resumed from %s after epoch %d of %d", o.resumeDir.c_str(), e.epoch, e.epochs);
          printer.line(buf);
          break;
        case K::Step:
          std::snprintf(buf, sizeof buf, "epoch %d/%d  step %lld/%lld  loss %.4f (%s)  acc %.3f  lr %.3g  %.1f clips/s  ETA %s",
                        e.epoch, e.epochs, e.done, e.total, e.loss, termsText(e.termNames, e.terms).c_str(), e.accuracy,
                        e.lr, e.clipsPerSecond, formatDuration(e.etaSeconds).c_str());
          printer.progress(buf, e.done == e.total);
          break;
        case K::Validating:
          std::snprintf(buf, sizeof buf, "epoch %d/%d  validating %lld/%lld %s", e.epoch, e.epochs, e.done, e.total,
                        ev::pluralNoun(e.total, "clip").c_str());
          printer.progress(buf, false);
          break;
        case K::EpochEnd: {
          const ev::EpochStats& s = *e.epochStats;
          char val[32] = "";
          if (s.valAccuracy >= 0) std::snprintf(val, sizeof val, "  val acc %.3f", s.valAccuracy);
          std::snprintf(buf, sizeof buf, "epoch %d/%d  train loss %.4f (%s)  train acc %.3f%s  lr %.3g  time %s  ETA %s",
                        s.epoch, e.epochs, s.trainLoss, termsText(e.termNames, s.trainTerms).c_str(), s.trainAccuracy, val,
                        s.lr, formatDuration(s.seconds).c_str(), formatDuration(e.etaSeconds).c_str());
          printer.line(buf);
          break;
        }
      }
    });
    printer.end();
    if (r.savedModel.empty()) {
      if (!quiet)
        std::fprintf(stderr, "stopped after epoch %d of %d; continue with --resume %s\n",
                     r.epochs.empty() ? 0 : r.epochs.back().epoch, o.epochs, r.checkpointDir.c_str());
      return kOk;
    }
    if (!quiet) {
      if (r.bestEpoch > 0 && r.keptEpoch == r.bestEpoch)
        std::fprintf(stderr, "%s: epoch %d, best validation accuracy %.3f\n", r.savedModel.c_str(), r.keptEpoch,
                     r.bestValAccuracy);
      else
        std::fprintf(stderr, "%s: weights after epoch %d\n", r.savedModel.c_str(), r.keptEpoch);
    }
    std::cout << r.savedModel << "\n";
  } catch (...) {
    printer.end();
    throw;
  }
  return kOk;
}

}  // namespace

int runTrain(int argc, char** argv) { return runTraining(argc, argv, false); }
int runDistill(int argc, char** argv) { return runTraining(argc, argv, true); }

int runAccuracy(int argc, char** argv) {
  std::string model, data, json;
  ev::EvalOptions eo;
  PreprocessArgs pre(eo.preprocess, eo.clipLen, eo.stride);
  bool quiet = false;
  po::options_description opts("explain-video accuracy: clip-level accuracy of a model on a synth split");
  opts.add_options()
      ("help,h", "show this help and exit")
      ("model,m", value(&model, "FILE"), "TorchScript model (required)")
      ("output", value(&eo.modelOutput, "KEY"),
       "for a model whose forward() returns a tuple, list or dict: the element holding the logits, as an index or key, "
       "dotted when nested (default: the first tensor)")
      ("data,d", value(&data, "DIR"), "split folder written by explain-video synth (required)")
      ("json", value(&json, "FILE"), "also write the report as JSON (per class, confusion matrix, per-clip logits)")
      ("batch-size", valueOr(&eo.batchSize, "N"), "windows per forward pass")
      ("device", valueOr(&eo.device, "DEVICE"), "cpu, cuda or cuda:N (a LibTorch built with CUDA)")
      ("threads", threadsValue(&eo.threads), "LibTorch (and decoding) threads (0: every CPU; more are capped there)")
      ("quiet,q", po::bool_switch(&quiet), "no progress on stderr");
  pre.add(opts, "frames between window starts (a clip's class = argmax of the mean logits)");
  const po::variables_map vm = parseOptions("accuracy", argc, argv, opts);
  if (vm.count("help")) {
    std::cout << "Usage: explain-video accuracy --model MODEL.pt --data DIR/test [--json FILE] [options]\n\n" << opts
              << "\nA clip's prediction is the argmax of its mean logits over windows of --clip-len frames every\n"
                 "--stride frames, as the explain command picks its class. See docs/training.md.\n"
              << examplesSection({
                     "explain-video synth --out data --split test --clips-per-class 2",
                     "explain-video accuracy --model models/c3d_small_synth.pt --data data/test --json accuracy.json",
                 });
    return kOk;
  }
  if (model.empty()) throw ev::Error(ev::ErrorKind::Usage, "accuracy: --model FILE is required");
  if (data.empty()) throw ev::Error(ev::ErrorKind::Usage, "accuracy: --data SPLIT_DIR is required");
  pre.apply();

  Printer printer(quiet);
  ev::AccuracyReport r;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    r = ev::evaluateAccuracy(model, data, eo, [&](int done, int total) {
      char buf[128];
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::snprintf(buf, sizeof buf, "accuracy  %d/%d %s  %.1f clips/s", done, total, ev::pluralNoun(total, "clip").c_str(),
                    s > 0 ? done / s : 0.0);
      printer.progress(buf, done == total);
    });
    printer.end();
  } catch (...) {
    printer.end();
    throw;
  }
  if (!json.empty()) ev::writeAccuracyJson(r, json);

  size_t nameWidth = 5;
  for (const auto& n : r.classNames) nameWidth = std::max(nameWidth, n.size());
  std::printf("accuracy %.4f (%d/%zu %s)  model %s  data %s\n", r.top1, r.correct, r.truth.size(),
              ev::pluralNoun(r.truth.size(), "clip").c_str(), model.c_str(), data.c_str());
  std::printf("per class:\n");
  for (size_t c = 0; c < r.classNames.size(); ++c) {
    if (r.classTotal[c])
      std::printf("  %2zu %-*s  %.3f (%d/%d)\n", c, static_cast<int>(nameWidth), r.classNames[c].c_str(),
                  static_cast<double>(r.classCorrect[c]) / r.classTotal[c], r.classCorrect[c], r.classTotal[c]);
    else
      std::printf("  %2zu %-*s  -     (0/0)\n", c, static_cast<int>(nameWidth), r.classNames[c].c_str());
  }
  std::printf("confusion matrix (rows: true class, columns: predicted class id):\n");
  std::printf("  %2s %-*s", "", static_cast<int>(nameWidth), "");
  for (size_t c = 0; c < r.classNames.size(); ++c) std::printf(" %4zu", c);
  std::printf("\n");
  for (size_t t = 0; t < r.classNames.size(); ++t) {
    std::printf("  %2zu %-*s", t, static_cast<int>(nameWidth), r.classNames[t].c_str());
    for (size_t p = 0; p < r.classNames.size(); ++p) std::printf(" %4d", r.confusion[t][p]);
    std::printf("\n");
  }
  return kOk;
}

}  // namespace cli
