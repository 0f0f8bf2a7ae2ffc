// Training loop, validation, checkpoints and clip-level accuracy on a TorchScript module.
// The only translation unit of src/train that needs the optimiser headers (compile time).
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"
#include "explain_video/train.hpp"
#include "io/atomic_output.hpp"
#include "train/dataset.hpp"
#include "train/loss_terms.hpp"
#include "model/script_model.hpp"
#include "model/torch_text.hpp"
#include "train/train_records.hpp"
#include "util/plural.hpp"

namespace fs = std::filesystem;

namespace ev {
using namespace trainimpl;
using modelimpl::shapeString;
using modelimpl::torchMessage;
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void setThreads(int threads) {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(threads > 0 ? threads : std::max(1, hw));
}

// One dry run in eval mode: the model takes 1×3×T×H×W and has one output per class.
void checkModel(modelimpl::ScriptModel& m, const SplitData& split, int clipLen) {
  const std::string& path = m.path();
  at::Tensor logits;
  {
    c10::InferenceMode guard;
    m.module().eval();
    const at::Tensor x = at::zeros({1, 3, clipLen, split.height, split.width});
    try {
      logits = m.logits(m.module().forward({x.to(m.device())}), 1);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Model, path + ": the model does not accept " + shapeString(x.sizes()) + " input (" +
                                        torchMessage(e) + "); check --clip-len and --crop");
    }
  }
  const int64_t classes = static_cast<int64_t>(split.classNames.size());
  if (logits.size(1) != classes)
    throw Error(ErrorKind::Model, path + ": the model has " + plural(logits.size(1), "output") + " but " +
                                      split.dir + " has " + plural(classes, "class"));
}

// N windows → N×3×T×H×W float, exactly the explain pipeline's window inputs.
at::Tensor makeInput(const SplitData& d, const std::vector<int>& clips, const std::vector<int64_t>& starts, int clipLen,
                     const Normalisation& norm) {
  const int64_t n = static_cast<int64_t>(clips.size());
  at::Tensor x = at::empty({n, 3, clipLen, d.height, d.width}, at::kFloat);
  float* dst = x.data_ptr<float>();
  const size_t per = static_cast<size_t>(3) * clipLen * d.frameBytes() / 3;
  for (int64_t i = 0; i < n; ++i)
    fillWindow(d, clips[static_cast<size_t>(i)], starts[static_cast<size_t>(i)], clipLen, norm, dst + static_cast<size_t>(i) * per);
  return x;
}

// Mean logits over the windows of windowStarts(frames, {clipLen, stride}) of every clip, in
// eval mode under inference mode; windows of consecutive clips share forward passes.
std::vector<std::vector<float>> meanLogits(modelimpl::ScriptModel& m, const SplitData& d,
                                           int clipLen, int stride, int batchSize, const Normalisation& norm,
                                           const std::function<void(int, int)>& progress) {
  c10::InferenceMode guard;
  m.module().eval();
  const std::string& path = m.path();
  std::vector<int> wClip;
  std::vector<int64_t> wStart;
  std::vector<int> lastWindowOf(d.clips.size());
  for (size_t i = 0; i < d.clips.size(); ++i) {
    for (int64_t s : windowStarts(d.clips[i].frames, WindowParams{clipLen, stride})) {
      wClip.push_back(static_cast<int>(i));
      wStart.push_back(s);
    }
    lastWindowOf[i] = static_cast<int>(wClip.size()) - 1;
  }
  const size_t K = d.classNames.size();
  std::vector<std::vector<double>> sum(d.clips.size(), std::vector<double>(K, 0.0));
  std::vector<int> count(d.clips.size(), 0);
  int clipsDone = 0;
  const int total = static_cast<int>(wClip.size());
  for (int b0 = 0; b0 < total; b0 += batchSize) {
    const int b1 = std::min(total, b0 + batchSize);
    std::vector<int> clips(wClip.begin() + b0, wClip.begin() + b1);
    std::vector<int64_t> starts(wStart.begin() + b0, wStart.begin() + b1);
    const at::Tensor logits = m.forwardLogits(makeInput(d, clips, starts, clipLen, norm)).to(at::kFloat).cpu().contiguous();
    if (static_cast<size_t>(logits.size(1)) != K)
      throw Error(ErrorKind::Model, path + ": the model has " + plural(logits.size(1), "output") + " but " + d.dir +
                                        " has " + plural(K, "class"));
    const float* p = logits.data_ptr<float>();
    for (int i = 0; i < b1 - b0; ++i) {
      const size_t c = static_cast<size_t>(clips[static_cast<size_t>(i)]);
      for (size_t k = 0; k < K; ++k) sum[c][k] += p[static_cast<size_t>(i) * K + k];
      ++count[c];
      if (lastWindowOf[c] == b0 + i && progress) progress(++clipsDone, static_cast<int>(d.clips.size()));
    }
  }
  std::vector<std::vector<float>> mean(d.clips.size(), std::vector<float>(K));
  for (size_t c = 0; c < d.clips.size(); ++c)
    for (size_t k = 0; k < K; ++k) mean[c][k] = static_cast<float>(sum[c][k] / std::max(1, count[c]));
  return mean;
}

int argmax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

double clipAccuracy(const SplitData& d, const std::vector<std::vector<float>>& logits) {
  int correct = 0;
  for (size_t i = 0; i < d.clips.size(); ++i) correct += argmax(logits[i]) == d.clips[i].classId;
  return d.clips.empty() ? 0.0 : static_cast<double>(correct) / d.clips.size();
}

void validate(const TrainOptions& o) {
  auto usage = [](const std::string& m) { throw Error(ErrorKind::Usage, m); };
  if (o.trainDir.empty()) usage("--data SPLIT_DIR is required");
  if (o.outPath.empty()) usage("--out FILE is required");
  if (o.modelPath.empty() && o.resumeDir.empty()) usage("--model FILE (or --resume DIR) is required");
  if (o.epochs < 1) usage("--epochs must be at least 1");
  if (o.stopAfterEpoch < 0) usage("--stop-after-epoch must be >= 0");
  if (o.batchSize < 1) usage("--batch-size must be at least 1");
  if (o.clipLen < 1) usage("--clip-len must be at least 1");
  if (o.valStride < 1) usage("--stride must be at least 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) usage("--lr must be positive");
  if (!(o.minLr >= 0 && o.minLr <= o.lr)) usage("--min-lr must be in [0, --lr]");
  if (o.optimizer != "sgd" && o.optimizer != "adam" && o.optimizer != "adamw")
    usage("--optimizer must be sgd, adam or adamw (got '" + o.optimizer + "')");
  if (!(o.momentum >= 0 && o.momentum < 1)) usage("--momentum must be in [0, 1)");
  if (o.nesterov && !(o.momentum > 0)) usage("--nesterov needs --momentum > 0");
  if (!(o.weightDecay >= 0)) usage("--weight-decay must be >= 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)) usage("--betas must be in [0, 1)");
  if (o.schedule != "cosine" && o.schedule != "step" && o.schedule != "constant")
    usage("--schedule must be cosine, step or constant (got '" + o.schedule + "')");
  if (!(o.warmupEpochs >= 0)) usage("--warmup-epochs must be >= 0");
  if (o.stepSize < 1) usage("--step-size must be at least 1");
  if (!(o.gamma > 0)) usage("--gamma must be positive");
  if (!(o.gradClip >= 0)) usage("--grad-clip must be >= 0");
  if (o.keep != "best" && o.keep != "last") usage("--keep must be best or last (got '" + o.keep + "')");
  if (o.losses.empty()) usage("--loss: at least one loss term is needed");
  for (const auto& l : o.losses)
    if (!std::isfinite(l.weight)) usage("--loss: the weight of '" + l.name + "' is not a number");
  WindowSampler probe(o.preprocess, WindowParams{o.clipLen, o.valStride});  // validates preprocessing
  (void)probe;
  std::error_code ec;
  if (fs::is_directory(o.outPath, ec)) throw Error(ErrorKind::Output, o.outPath + ": is a directory, not a file name");
  fs::path parent = fs::path(o.outPath).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec))
    throw Error(ErrorKind::Output, o.outPath + ": output directory '" + parent.string() + "' does not exist");
}

double lrAt(const TrainOptions& o, int64_t step, int64_t stepsPerEpoch) {
  const int64_t total = static_cast<int64_t>(o.epochs) * stepsPerEpoch;
  const int64_t warm = std::llround(o.warmupEpochs * static_cast<double>(stepsPerEpoch));
  if (step < warm) return o.lr * static_cast<double>(step + 1) / static_cast<double>(warm);
  if (o.schedule == "constant") return o.lr;
  if (o.schedule == "step") return o.lr * std::pow(o.gamma, static_cast<double>((step / stepsPerEpoch) / o.stepSize));
  const double p = static_cast<double>(step - warm) / static_cast<double>(std::max<int64_t>(1, total - warm));
  return o.minLr + (o.lr - o.minLr) * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, p)));
}

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainOptions& o, const std::vector<at::Tensor>& params) {
  namespace optim = torch::optim;
  if (o.optimizer == "adam")
    return std::make_unique<optim::Adam>(
        params, optim::AdamOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).weight_decay(o.weightDecay));
  if (o.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(
        params, optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).weight_decay(o.weightDecay));
  return std::make_unique<optim::SGD>(
      params, optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weightDecay));
}

void clipGradients(const std::vector<at::Tensor>& params, double maxNorm) {
  at::NoGradGuard guard;
  double sq = 0.0;
  for (const auto& p : params)
    if (p.grad().defined()) sq += p.grad().to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (norm > maxNorm) {
    const double scale = maxNorm / (norm + 1e-6);
    for (const auto& p : params)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  }
}

void saveModule(torch::jit::Module& m, const std::string& path) {
  const bool wasTraining = m.is_training();
  m.eval();  // users load it ready for inference (dropout off)
  try {
    m.save(path);
  } catch (const std::exception& e) {
    if (wasTraining) m.train(true);
    throw Error(ErrorKind::Output, path + ": cannot save the model (" + torchMessage(e) + ")");
  }
  if (wasTraining) m.train(true);
}

std::string epochName(const char* prefix, int epoch, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%04d%s", prefix, epoch, suffix);
  return buf;
}

// Removes checkpoint files of earlier epochs that state.json no longer names.
void pruneCheckpoint(const std::string& dir, const CheckpointState& st) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool ours = (name.rfind("epoch_", 0) == 0 || name.rfind("best_epoch_", 0) == 0) &&
                      name.size() > 3 && name.compare(name.size() - 3, 3, ".pt") == 0;
    if (ours && name != st.modelFile && name != st.optimizerFile && name != st.bestFile) fs::remove(entry.path(), ec);
  }
}

}  // namespace

TrainResult trainModel(const TrainOptions& o, const TrainCallback& onEvent) {
  validate(o);
  setThreads(o.threads);
  auto emit = [&](TrainEvent& e) {
    if (onEvent) onEvent(e);
  };

  TrainResult result;
  const bool resuming = !o.resumeDir.empty();
  result.checkpointDir = !o.checkpointDir.empty() ? o.checkpointDir : resuming ? o.resumeDir : o.outPath + ".ckpt";

  CheckpointState st;
  std::string modelPath = o.modelPath;
  if (resuming) {
    st = readCheckpointState(o.resumeDir);
    if (st.optimizer != o.optimizer)
      throw Error(ErrorKind::Usage, "--resume " + o.resumeDir + ": the checkpoint was trained with --optimizer " + st.optimizer +
                                        ", not " + o.optimizer);
    if (st.batchSize != o.batchSize)
      throw Error(ErrorKind::Usage, "--resume " + o.resumeDir + ": the checkpoint was trained with --batch-size " +
                                        std::to_string(st.batchSize) + ", not " + std::to_string(o.batchSize));
    modelPath = (fs::path(o.resumeDir) / st.modelFile).string();
  }
  modelimpl::ScriptModel model = modelimpl::ScriptModel::load(modelPath);
  model.setOutput(o.modelOutput);
  torch::jit::Module module = model.module();

  auto loadingProgress = [&](const std::string& which) {
    return [&, which](int done, int total) {
      TrainEvent e;
      e.kind = TrainEvent::Kind::Loading;
      e.split = which;
      e.done = done;
      e.total = total;
      emit(e);
    };
  };
  const SplitData train = loadSplit(o.trainDir, o.preprocess, o.threads, loadingProgress(o.trainDir));
  SplitData val;
  const bool haveVal = !o.valDir.empty();
  if (haveVal) {
    val = loadSplit(o.valDir, o.preprocess, o.threads, loadingProgress(o.valDir));
    if (val.classNames != train.classNames)
      throw Error(ErrorKind::Input, o.valDir + ": its classes (labels.txt) differ from those of " + o.trainDir);
  }
  result.trainClips = static_cast<int>(train.clips.size());
  result.valClips = static_cast<int>(val.clips.size());
  checkModel(model, train, o.clipLen);

  std::vector<at::Tensor> params;
  for (at::Tensor p : module.parameters()) {
    p.requires_grad_(true);
    params.push_back(p);
  }
  if (params.empty()) throw Error(ErrorKind::Model, modelPath + ": the model has no parameters to train");
  std::unique_ptr<torch::optim::Optimizer> optimizer = makeOptimizer(o, params);

  std::vector<std::unique_ptr<LossTerm>> terms =
      makeLossTerms(o, LossContext{&model, {1, 3, o.clipLen, train.height, train.width}});
  std::string activationLayer;  // the one layer the terms need on the autograd graph, if any
  for (const auto& t : terms) {
    result.termNames.push_back(t->name());
    const std::string layer = t->activationLayer();
    if (!layer.empty() && !activationLayer.empty() && layer != activationLayer)
      throw Error(ErrorKind::Usage, "the loss terms need two different layers ('" + activationLayer + "', '" + layer + "')");
    if (!layer.empty()) activationLayer = layer;
  }
  std::shared_ptr<torch::jit::GraphFunction> forwardWith;
  if (!activationLayer.empty()) forwardWith = model.layerForward(activationLayer);

  std::error_code ec;
  fs::create_directories(result.checkpointDir, ec);
  if (!fs::is_directory(result.checkpointDir, ec))
    throw Error(ErrorKind::Output, result.checkpointDir + ": cannot create the checkpoint folder");

  if (resuming) {
    const std::string optPath = (fs::path(o.resumeDir) / st.optimizerFile).string();
    try {
      torch::load(*optimizer, optPath);
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Input, optPath + ": cannot load the optimiser state (" + torchMessage(e) + ")");
    }
    if (st.termNames != result.termNames)
      throw Error(ErrorKind::Usage, "--resume " + o.resumeDir + ": the checkpoint was trained with other loss terms");
    result.epochs = st.epochs;
    result.steps = st.steps;
    result.bestEpoch = st.bestEpoch;
    result.bestValAccuracy = st.bestValAccuracy;
    // Checkpointing somewhere else: the best model so far goes along.
    if (!st.bestFile.empty() && !fs::equivalent(o.resumeDir, result.checkpointDir, ec))
      fs::copy_file(fs::path(o.resumeDir) / st.bestFile, fs::path(result.checkpointDir) / st.bestFile,
                    fs::copy_options::overwrite_existing);
    TrainEvent e;
    e.kind = TrainEvent::Kind::Resumed;
    e.epoch = st.epoch;
    e.epochs = o.epochs;
    emit(e);
  }
  st.optimizer = o.optimizer;
  st.batchSize = o.batchSize;
  st.clipLen = o.clipLen;
  st.seed = o.seed;
  st.trainClips = result.trainClips;
  st.termNames = result.termNames;

  const Normalisation norm = normalisationOf(o.preprocess);
  const int64_t n = static_cast<int64_t>(train.clips.size());
  const int64_t stepsPerEpoch = (n + o.batchSize - 1) / o.batchSize;
  const int firstEpoch = st.epoch;
  const int lastEpoch = o.stopAfterEpoch > 0 ? std::min(o.epochs, o.stopAfterEpoch) : o.epochs;
  const auto runStart = Clock::now();
  int64_t stepsThisRun = 0;
  const int64_t stepsToRun = std::max<int64_t>(0, (lastEpoch - firstEpoch) * stepsPerEpoch);

  for (int epoch = firstEpoch; epoch < lastEpoch; ++epoch) {
    const auto epochStart = Clock::now();
    const EpochPlan plan = planEpoch(train, o.clipLen, o.seed, epoch);
    at::manual_seed(epochTorchSeed(o.seed, epoch));
    module.train(true);
    double lossSum = 0.0;
    std::vector<double> termSums(terms.size(), 0.0);
    int64_t seen = 0, correct = 0;
    double lr = o.lr;
    for (int64_t step = 0; step < stepsPerEpoch; ++step) {
      checkStop("train", step);
      lr = lrAt(o, epoch * stepsPerEpoch + step, stepsPerEpoch);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
      const auto stepStart = Clock::now();
      Batch batch;
      const int64_t b0 = step * o.batchSize, b1 = std::min(n, b0 + o.batchSize);
      batch.clips.assign(plan.order.begin() + b0, plan.order.begin() + b1);
      batch.starts.assign(plan.starts.begin() + b0, plan.starts.begin() + b1);
      std::vector<int64_t> labels;
      for (int c : batch.clips) labels.push_back(train.clips[static_cast<size_t>(c)].classId);
      batch.labels = at::tensor(labels, at::kLong);
      batch.clipLen = o.clipLen;
      batch.split = &train;
      batch.epoch = epoch + 1;
      batch.step = static_cast<int>(step + 1);
      batch.input = makeInput(train, batch.clips, batch.starts, o.clipLen, norm);

      TrainStep rec;
      at::Tensor logits;
      try {
        optimizer->zero_grad();
        Forward f;
        if (forwardWith) {
          const auto out = (*forwardWith)({module._ivalue(), batch.input}).toTuple();
          f.activation = out->elements().at(0).toTensor();
          f.logits = model.logits(out->elements().at(1), batch.input.size(0));
        } else {
          f.logits = model.forwardLogits(batch.input);
        }
        logits = f.logits;
        at::Tensor total;
        for (size_t k = 0; k < terms.size(); ++k) {
          at::Tensor v = terms[k]->compute(batch, f, module);
          if (v.numel() != 1) throw Error(ErrorKind::Internal, "loss term '" + terms[k]->name() + "' is not a scalar");
          v = v.reshape({});
          rec.terms.push_back(v.item<double>());
          const at::Tensor w = v * o.losses[k].weight;
          total = total.defined() ? total + w : w;
        }
        rec.loss = total.item<double>();
        if (!std::isfinite(rec.loss))
          throw Error(ErrorKind::Internal, "the loss is not finite at epoch " + std::to_string(epoch + 1) + " step " +
                                               std::to_string(step + 1) + " (try a lower --lr)");
        total.backward();
        if (o.gradClip > 0) clipGradients(params, o.gradClip);
        optimizer->step();
      } catch (const Error&) {
        throw;
      } catch (const std::exception& e) {
        throw Error(ErrorKind::Internal, "training failed at epoch " + std::to_string(epoch + 1) + " step " +
                                             std::to_string(step + 1) + ": " + torchMessage(e));
      }
      const int64_t bn = b1 - b0;
      const int64_t hits = logits.detach().argmax(1).eq(batch.labels).sum().item<int64_t>();
      rec.epoch = epoch + 1;
      rec.step = static_cast<int>(step + 1);
      rec.lr = lr;
      rec.accuracy = static_cast<double>(hits) / static_cast<double>(bn);
      rec.seconds = since(stepStart);
      result.steps.push_back(rec);
      lossSum += rec.loss * bn;
      for (size_t k = 0; k < terms.size(); ++k) termSums[k] += rec.terms[k] * bn;
      seen += bn;
      correct += hits;
      ++stepsThisRun;

      TrainEvent e;
      e.kind = TrainEvent::Kind::Step;
      e.epoch = epoch + 1;
      e.epochs = o.epochs;
      e.done = step + 1;
      e.total = stepsPerEpoch;
      e.termNames = result.termNames;
      for (double s : termSums) e.terms.push_back(s / seen);
      e.loss = lossSum / seen;
      e.accuracy = static_cast<double>(correct) / seen;
      e.lr = lr;
      e.seconds = since(epochStart);
      e.clipsPerSecond = e.seconds > 0 ? seen / e.seconds : 0.0;
      e.etaSeconds = since(runStart) / stepsThisRun * static_cast<double>(stepsToRun - stepsThisRun);
      emit(e);
    }

    EpochStats es;
    es.epoch = epoch + 1;
    es.trainLoss = lossSum / std::max<int64_t>(1, seen);
    for (double s : termSums) es.trainTerms.push_back(s / std::max<int64_t>(1, seen));
    es.trainAccuracy = static_cast<double>(correct) / std::max<int64_t>(1, seen);
    es.lr = lr;
    if (haveVal) {
      const auto valStart = Clock::now();
      const auto logits = meanLogits(model, val, o.clipLen, o.valStride, o.batchSize, norm, [&](int done, int total) {
        TrainEvent e;
        e.kind = TrainEvent::Kind::Validating;
        e.epoch = epoch + 1;
        e.epochs = o.epochs;
        e.done = done;
        e.total = total;
        e.seconds = since(valStart);
        emit(e);
      });
      es.valAccuracy = clipAccuracy(val, logits);
      module.train(true);
    }
    es.seconds = since(epochStart);
    result.epochs.push_back(es);

    // Checkpoint: the files of this epoch first, state.json (the authority) last.
    st.epoch = epoch + 1;
    st.modelFile = epochName("epoch_", epoch + 1, ".pt");
    st.optimizerFile = epochName("epoch_", epoch + 1, ".optim.pt");
    const fs::path dir(result.checkpointDir);
    {
      AtomicOutput out((dir / st.modelFile).string(), ".pt");
      saveModule(module, out.tempPath());
      out.commit();
    }
    {
      AtomicOutput out((dir / st.optimizerFile).string(), ".pt");
      try {
        torch::save(*optimizer, out.tempPath());
      } catch (const std::exception& e) {
        throw Error(ErrorKind::Output, out.target() + ": cannot save the optimiser state (" + torchMessage(e) + ")");
      }
      out.commit();
    }
    if (haveVal && es.valAccuracy >= result.bestValAccuracy) {  // ties: the later epoch
      result.bestValAccuracy = es.valAccuracy;
      result.bestEpoch = epoch + 1;
      st.bestFile = epochName("best_epoch_", epoch + 1, ".pt");
      AtomicOutput out((dir / st.bestFile).string(), ".pt");
      saveModule(module, out.tempPath());
      out.commit();
    }
    st.bestEpoch = result.bestEpoch;
    st.bestValAccuracy = result.bestValAccuracy;
    st.epochs = result.epochs;
    st.steps = result.steps;
    writeCheckpointState((dir / "state.json").string(), st, o);
    pruneCheckpoint(result.checkpointDir, st);

    TrainEvent e;
    e.kind = TrainEvent::Kind::EpochEnd;
    e.epoch = epoch + 1;
    e.epochs = o.epochs;
    e.termNames = result.termNames;
    e.epochStats = &result.epochs.back();
    e.etaSeconds = stepsThisRun > 0 ? since(runStart) / stepsThisRun * static_cast<double>(stepsToRun - stepsThisRun) : 0.0;
    emit(e);
    if (!o.logPath.empty()) writeTrainLog(o.logPath, o, result, train.classNames, false);
  }

  const int done = st.epoch;
  if (done >= o.epochs) {
    AtomicOutput out(o.outPath, ".pt");
    if (o.keep == "best" && result.bestEpoch > 0 && !st.bestFile.empty()) {
      fs::copy_file(fs::path(result.checkpointDir) / st.bestFile, out.tempPath(), fs::copy_options::overwrite_existing, ec);
      if (ec) throw Error(ErrorKind::Output, o.outPath + ": cannot copy the best model (" + ec.message() + ")");
      result.keptEpoch = result.bestEpoch;
    } else {
      saveModule(module, out.tempPath());
      result.keptEpoch = done;
    }
    out.commit();
    result.savedModel = o.outPath;
  }
  module.eval();
  if (!o.logPath.empty()) writeTrainLog(o.logPath, o, result, train.classNames, done >= o.epochs);
  return result;
}

AccuracyReport evaluateAccuracy(const std::string& modelPath, const std::string& splitDir, const EvalOptions& o,
                                const std::function<void(int, int)>& progress) {
  if (o.batchSize < 1) throw Error(ErrorKind::Usage, "--batch-size must be at least 1");
  WindowSampler probe(o.preprocess, WindowParams{o.clipLen, o.stride});  // validates the options
  (void)probe;
  const auto t0 = Clock::now();
  setThreads(o.threads);
  modelimpl::ScriptModel model = modelimpl::ScriptModel::load(modelPath);
  model.setOutput(o.modelOutput);
  model.setDevice(o.device);
  const SplitData data = loadSplit(splitDir, o.preprocess, o.threads);
  checkModel(model, data, o.clipLen);
  const Normalisation norm = normalisationOf(o.preprocess);
  const auto logits = meanLogits(model, data, o.clipLen, o.stride, o.batchSize, norm, progress);

  AccuracyReport r;
  r.modelPath = modelPath;
  r.splitDir = splitDir;
  r.classNames = data.classNames;
  const size_t K = data.classNames.size();
  r.classTotal.assign(K, 0);
  r.classCorrect.assign(K, 0);
  r.confusion.assign(K, std::vector<int>(K, 0));
  for (size_t i = 0; i < data.clips.size(); ++i) {
    const int truth = data.clips[i].classId, pred = argmax(logits[i]);
    r.clips.push_back(data.clips[i].stem);
    r.truth.push_back(truth);
    r.predicted.push_back(pred);
    r.meanLogits.push_back(logits[i]);
    ++r.classTotal[static_cast<size_t>(truth)];
    ++r.confusion[static_cast<size_t>(truth)][static_cast<size_t>(pred)];
    if (pred == truth) {
      ++r.correct;
      ++r.classCorrect[static_cast<size_t>(truth)];
    }
  }
  r.top1 = data.clips.empty() ? 0.0 : static_cast<double>(r.correct) / data.clips.size();
  r.seconds = since(t0);
  return r;
}

}  // namespace ev
