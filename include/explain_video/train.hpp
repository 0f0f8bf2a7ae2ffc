// Training a TorchScript video classifier in C++ (LibTorch) on a split of the synthetic
// benchmark, and measuring a model's clip-level accuracy on a split. docs/training.md describes
// the options, the sampling, the checkpoint format and how to add a loss term.
//
// Data: a split folder written by `explain-video synth` (index.json, labels.txt, clip MP4s).
// Every frame goes through exactly the explain pipeline's preprocessing
// (WindowSampler::preprocess); crops are cached as uint8 and normalised per batch.
// Training draws, per clip and epoch, one window of clipLen frames that overlaps the clip's
// action; evaluation averages the logits over the windows of windowStarts(frames, {clipLen,
// stride}) and takes the argmax, as the explain command picks its class.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "explain_video/windows.hpp"

namespace ev {

// One weighted term of the training loss. The loss is the sum of weight × term. Built in:
//   "ce"  cross-entropy on the logits, with TrainOptions::labelSmoothing;
//   "kd"  knowledge distillation (Hinton et al. 2015): T² · KL(softmax(teacher/T) ‖
//         softmax(student/T)), T = kdTemperature, averaged over the batch;
//   "exp" the explanation loss of the Grad-CAM++ paper (Sec. 7.1): the squared distance between
//         the student's and the teacher's maps (expMethod) for the true class, both brought to
//         the teacher layer's T×H×W and divided by their maximum; mean over cells and clips.
//         The student's map is differentiable with respect to its weights (docs/distill.md).
struct LossSpec {
  std::string name = "ce";
  double weight = 1.0;
};

struct TrainOptions {
  // Inputs and outputs.
  std::string modelPath;      // initial TorchScript model (optional with resumeDir)
  std::string trainDir;       // split folder: index.json, labels.txt, clips
  std::string valDir;         // optional split folder, evaluated after every epoch
  std::string outPath;        // the final model (TorchScript, eval mode)
  std::string checkpointDir;  // default: outPath + ".ckpt"
  std::string resumeDir;      // continue from this checkpoint folder
  std::string logPath;        // optional JSON training log, rewritten after every epoch
  std::string modelOutput;    // which part of forward()'s output holds the logits, as explain's
                              // --output ("": the first tensor; "1", "logits", "0.scores")

  // Input geometry, as in the explain command.
  PreprocessParams preprocess;
  int clipLen = 16;           // frames per window
  int valStride = 8;          // window stride for validation (clip prediction = mean logits)

  // Schedule.
  int epochs = 30;
  int stopAfterEpoch = 0;     // > 0: stop this run once that many epochs are done (resume later)
  int batchSize = 8;

  // Optimiser: "sgd" (momentum, optional Nesterov), "adam" or "adamw".
  std::string optimizer = "sgd";
  double lr = 0.01;
  double momentum = 0.9;
  bool nesterov = false;
  double weightDecay = 5e-4;
  double beta1 = 0.9, beta2 = 0.999;  // adam/adamw

  // Learning rate: linear warm-up over warmupEpochs (fractions allowed), then "cosine" (to
  // minLr at the end of the last epoch), "step" (× gamma every stepSize epochs) or "constant".
  std::string schedule = "cosine";
  double warmupEpochs = 1.0;
  double minLr = 0.0;
  int stepSize = 10;
  double gamma = 0.1;

  std::vector<LossSpec> losses{LossSpec{}};
  double labelSmoothing = 0.0;  // for "ce"

  // Teacher for "kd" and "exp": a TorchScript classifier with the same classes and input.
  std::string teacherPath;
  double kdTemperature = 4.0;         // "kd"
  std::string expMethod = "gradcam++";// "exp": gradcam++ or gradcam
  std::string expLayer;               // "exp": student layer ("": its default layer)
  std::string teacherLayer;           // "exp": teacher layer ("": its default layer)
  std::string teacherOutput;          // the teacher's logits in its forward() output (as modelOutput)
  double gradClip = 0.0;        // > 0: clip the global gradient norm to this

  uint64_t seed = 1;            // data order, window starts and dropout of every epoch
  int threads = 0;              // LibTorch threads (and clip decoding); <= 0: every core
  std::string keep = "best";    // final model: "best" validation accuracy (needs valDir) or "last"
};

// One optimiser step.
struct TrainStep {
  int epoch = 0;               // 1-based
  int step = 0;                // 1-based within the epoch
  double lr = 0.0;
  double loss = 0.0;           // weighted sum of the terms
  std::vector<double> terms;   // unweighted value of each term (TrainResult::termNames order)
  double accuracy = 0.0;       // top-1 of the training windows of this batch (train mode)
  double seconds = 0.0;        // wall time of the step (batch assembly, forward, backward, update)
};

struct EpochStats {
  int epoch = 0;               // 1-based
  double trainLoss = 0.0;      // clip-weighted mean over the epoch
  std::vector<double> trainTerms;
  double trainAccuracy = 0.0;  // top-1 over the epoch's training windows (train mode)
  double valAccuracy = -1.0;   // clip-level top-1 on valDir; -1 without validation
  double lr = 0.0;             // at the epoch's last step
  double seconds = 0.0;        // training + validation
};

struct TrainEvent {
  enum class Kind {
    Loading,     // decoding a split: done/total clips, `split` names it
    Step,        // after an optimiser step: done/total steps of the epoch
    Validating,  // evaluating: done/total clips
    EpochEnd,    // `epochStats` is set
    Resumed,     // a checkpoint was loaded; epoch = epochs already done
  };
  Kind kind = Kind::Step;
  std::string split;
  int epoch = 0, epochs = 0;
  long long done = 0, total = 0;
  std::vector<std::string> termNames;
  std::vector<double> terms;   // running means over the epoch so far
  double loss = 0.0;           // running mean
  double accuracy = 0.0;       // running training accuracy
  double lr = 0.0;
  double clipsPerSecond = 0.0;
  double etaSeconds = 0.0;     // whole run
  double seconds = 0.0;        // since the phase started
  const EpochStats* epochStats = nullptr;
};
using TrainCallback = std::function<void(const TrainEvent&)>;

struct TrainResult {
  std::vector<std::string> termNames;
  std::vector<TrainStep> steps;       // every step so far, resumed epochs included
  std::vector<EpochStats> epochs;     // every epoch so far, resumed ones included
  int bestEpoch = 0;                  // 0: no validation
  double bestValAccuracy = -1.0;
  int keptEpoch = 0;                  // the epoch whose weights went to outPath
  std::string savedModel;             // outPath; empty if the run stopped early (stopAfterEpoch)
  std::string checkpointDir;
  int trainClips = 0, valClips = 0;
};

// Runs (or resumes) training. Errors: Usage for bad options, Input for a missing/corrupt split
// or clip, Model for a file that is not TorchScript or whose outputs do not match the split's
// classes, Output for unwritable outputs.
TrainResult trainModel(const TrainOptions& options, const TrainCallback& onEvent = nullptr);

struct EvalOptions {
  std::string modelOutput;  // the logits in forward()'s output (TrainOptions::modelOutput)
  PreprocessParams preprocess;
  int clipLen = 16;
  int stride = 8;
  int batchSize = 8;  // windows per forward pass
  int threads = 0;
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
};

struct AccuracyReport {
  std::string modelPath, splitDir;
  std::vector<std::string> classNames;
  std::vector<std::string> clips;               // clip stems in index order
  std::vector<int> truth, predicted;            // per clip
  std::vector<std::vector<float>> meanLogits;   // per clip
  int correct = 0;
  double top1 = 0.0;
  std::vector<int> classTotal, classCorrect;    // per true class
  std::vector<std::vector<int>> confusion;      // [true][predicted]
  double seconds = 0.0;
};

// Clip-level top-1 accuracy of a TorchScript model on a split (eval mode, inference mode).
// progress(done, total) is called per clip.
AccuracyReport evaluateAccuracy(const std::string& modelPath, const std::string& splitDir,
                                const EvalOptions& options,
                                const std::function<void(int done, int total)>& progress = nullptr);

// The report as JSON (format "explain-video-accuracy": top1, per_class, confusion[true][pred],
// per_clip logits), written to a temporary name and renamed. Errors: Output.
void writeAccuracyJson(const AccuracyReport& report, const std::string& path);

}  // namespace ev
