// JSON records of training: the checkpoint's state.json and the training log. No torch here.
#pragma once
#include <string>
#include <vector>

#include "explain_video/train.hpp"

namespace ev {
namespace trainimpl {

constexpr const char* kCheckpointFormat = "explain-video-train-checkpoint";
constexpr const char* kLogFormat = "explain-video-train-log";

// state.json of a checkpoint folder (docs/training.md, "Checkpoints").
struct CheckpointState {
  int epoch = 0;                 // epochs completed
  std::string modelFile;         // "epoch_0003.pt": TorchScript, eval mode, weights after `epoch`
  std::string optimizerFile;     // "epoch_0003.optim.pt": torch::save of the optimiser
  std::string bestFile;          // "best_epoch_0002.pt" or empty without validation
  int bestEpoch = 0;
  double bestValAccuracy = -1.0;
  std::string optimizer;         // the options that must not change on resume
  int batchSize = 0;
  int clipLen = 0;
  uint64_t seed = 0;
  int trainClips = 0;
  std::vector<std::string> termNames;
  std::vector<EpochStats> epochs;
  std::vector<TrainStep> steps;
};

// Writes `state` (and the options, for the record) to path (atomically: temp + rename).
void writeCheckpointState(const std::string& path, const CheckpointState& state, const TrainOptions& options);
// Reads <dir>/state.json. Errors: Input "<dir>: ...".
CheckpointState readCheckpointState(const std::string& dir);

// The --log file: options, data, per-epoch stats and per-step losses (atomically rewritten).
void writeTrainLog(const std::string& path, const TrainOptions& options, const TrainResult& result,
                   const std::vector<std::string>& classNames, bool finished);

// Writes text to path under a temporary name, then renames. Errors: Output.
void writeTextAtomically(const std::string& path, const std::string& text);

// An AccuracyReport as JSON text.
std::string accuracyJson(const AccuracyReport& report);

}  // namespace trainimpl
}  // namespace ev
