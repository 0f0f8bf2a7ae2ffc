#include "train/train_records.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "explain_video/error.hpp"
#include "io/atomic_output.hpp"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace ev {
namespace trainimpl {
void writeTextAtomically(const std::string& path, const std::string& text) {
  AtomicOutput out(path, ".json");
  {
    std::ofstream f(out.tempPath(), std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f) throw Error(ErrorKind::Output, path + ": cannot write (" + std::strerror(errno) + ")");
  }
  out.commit();
}

namespace {

ojson optionsJson(const TrainOptions& o) {
  ojson j;
  j["model"] = o.modelPath;
  j["output"] = o.modelOutput;
  j["data"] = o.trainDir;
  j["val"] = o.valDir;
  j["out"] = o.outPath;
  j["checkpoint"] = o.checkpointDir;
  j["resume"] = o.resumeDir;
  const auto& p = o.preprocess;
  j["resize"] = {p.resizeHeight, p.resizeWidth};
  j["crop"] = {p.cropHeight, p.cropWidth};
  j["scale"] = p.scale;
  j["mean"] = {p.mean[0], p.mean[1], p.mean[2]};
  j["std"] = {p.std[0], p.std[1], p.std[2]};
  j["bgr"] = p.bgr;
  j["clip_len"] = o.clipLen;
  j["val_stride"] = o.valStride;
  j["epochs"] = o.epochs;
  j["stop_after_epoch"] = o.stopAfterEpoch;
  j["batch_size"] = o.batchSize;
  j["optimizer"] = o.optimizer;
  j["lr"] = o.lr;
  j["momentum"] = o.momentum;
  j["nesterov"] = o.nesterov;
  j["weight_decay"] = o.weightDecay;
  j["betas"] = {o.beta1, o.beta2};
  j["schedule"] = o.schedule;
  j["warmup_epochs"] = o.warmupEpochs;
  j["min_lr"] = o.minLr;
  j["step_size"] = o.stepSize;
  j["gamma"] = o.gamma;
  ojson losses = ojson::array();
  for (const auto& l : o.losses) losses.push_back({{"name", l.name}, {"weight", l.weight}});
  j["losses"] = losses;
  j["label_smoothing"] = o.labelSmoothing;
  j["teacher"] = o.teacherPath;
  j["kd_temperature"] = o.kdTemperature;
  j["exp_method"] = o.expMethod;
  j["exp_layer"] = o.expLayer;
  j["teacher_layer"] = o.teacherLayer;
  j["teacher_output"] = o.teacherOutput;
  j["grad_clip"] = o.gradClip;
  j["seed"] = o.seed;
  j["threads"] = o.threads;
  j["keep"] = o.keep;
  return j;
}

ojson termsJson(const std::vector<std::string>& names, const std::vector<double>& values) {
  ojson j = ojson::object();
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) j[names[i]] = values[i];
  return j;
}

ojson epochJson(const EpochStats& e, const std::vector<std::string>& names) {
  ojson j;
  j["epoch"] = e.epoch;
  j["train_loss"] = e.trainLoss;
  j["train_terms"] = termsJson(names, e.trainTerms);
  j["train_accuracy"] = e.trainAccuracy;
  j["val_accuracy"] = e.valAccuracy >= 0 ? ojson(e.valAccuracy) : ojson(nullptr);
  j["lr"] = e.lr;
  j["seconds"] = e.seconds;
  return j;
}

ojson stepJson(const TrainStep& s, const std::vector<std::string>& names) {
  ojson j;
  j["epoch"] = s.epoch;
  j["step"] = s.step;
  j["lr"] = s.lr;
  j["loss"] = s.loss;
  j["terms"] = termsJson(names, s.terms);
  j["accuracy"] = s.accuracy;
  j["seconds"] = s.seconds;
  return j;
}

std::vector<double> termsFrom(const nlohmann::json& j, const std::vector<std::string>& names) {
  std::vector<double> v;
  for (const auto& n : names) v.push_back(j.at(n).get<double>());
  return v;
}

// Lines of JSON that stay readable: one line per step and per epoch.
std::string dumpWithArraysPerLine(const ojson& top) {
  std::string s = "{\n";
  bool first = true;
  for (auto it = top.begin(); it != top.end(); ++it) {
    if (!first) s += ",\n";
    first = false;
    s += "  " + ojson(it.key()).dump() + ": ";
    if (it.value().is_array() && !it.value().empty() && it.value().front().is_object()) {
      s += "[";
      for (size_t i = 0; i < it.value().size(); ++i) s += (i ? ",\n    " : "\n    ") + it.value()[i].dump();
      s += "\n  ]";
    } else {
      s += it.value().dump();
    }
  }
  return s + "\n}\n";
}

}  // namespace

void writeCheckpointState(const std::string& path, const CheckpointState& st, const TrainOptions& options) {
  ojson j;
  j["format"] = kCheckpointFormat;
  j["version"] = 1;
  j["epoch"] = st.epoch;
  j["model"] = st.modelFile;
  j["optimizer_state"] = st.optimizerFile;
  j["best_model"] = st.bestFile;
  j["best_epoch"] = st.bestEpoch;
  j["best_val_accuracy"] = st.bestValAccuracy >= 0 ? ojson(st.bestValAccuracy) : ojson(nullptr);
  j["optimizer"] = st.optimizer;
  j["batch_size"] = st.batchSize;
  j["clip_len"] = st.clipLen;
  j["seed"] = st.seed;
  j["train_clips"] = st.trainClips;
  j["term_names"] = st.termNames;
  j["options"] = optionsJson(options);
  ojson epochs = ojson::array();
  for (const auto& e : st.epochs) epochs.push_back(epochJson(e, st.termNames));
  j["epochs"] = epochs;
  ojson steps = ojson::array();
  for (const auto& s : st.steps) steps.push_back(stepJson(s, st.termNames));
  j["steps"] = steps;
  writeTextAtomically(path, dumpWithArraysPerLine(j));
}

CheckpointState readCheckpointState(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorKind::Input, dir + ": no such checkpoint folder");
  const std::string path = (fs::path(dir) / "state.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Input, dir + ": no state.json (not a training checkpoint folder)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception&) {
    throw Error(ErrorKind::Input, path + ": not valid JSON");
  }
  CheckpointState st;
  try {
    if (j.value("format", std::string()) != kCheckpointFormat)
      throw Error(ErrorKind::Input, path + ": not a training checkpoint (format is not \"" + std::string(kCheckpointFormat) + "\")");
    if (j.at("version").get<int>() != 1) throw Error(ErrorKind::Input, path + ": unsupported version " + j.at("version").dump());
    st.epoch = j.at("epoch").get<int>();
    st.modelFile = j.at("model").get<std::string>();
    st.optimizerFile = j.at("optimizer_state").get<std::string>();
    st.bestFile = j.at("best_model").get<std::string>();
    st.bestEpoch = j.at("best_epoch").get<int>();
    st.bestValAccuracy = j.at("best_val_accuracy").is_null() ? -1.0 : j.at("best_val_accuracy").get<double>();
    st.optimizer = j.at("optimizer").get<std::string>();
    st.batchSize = j.at("batch_size").get<int>();
    st.clipLen = j.at("clip_len").get<int>();
    st.seed = j.at("seed").get<uint64_t>();
    st.trainClips = j.at("train_clips").get<int>();
    st.termNames = j.at("term_names").get<std::vector<std::string>>();
    for (const auto& e : j.at("epochs")) {
      EpochStats s;
      s.epoch = e.at("epoch").get<int>();
      s.trainLoss = e.at("train_loss").get<double>();
      s.trainTerms = termsFrom(e.at("train_terms"), st.termNames);
      s.trainAccuracy = e.at("train_accuracy").get<double>();
      s.valAccuracy = e.at("val_accuracy").is_null() ? -1.0 : e.at("val_accuracy").get<double>();
      s.lr = e.at("lr").get<double>();
      s.seconds = e.at("seconds").get<double>();
      st.epochs.push_back(std::move(s));
    }
    for (const auto& e : j.at("steps")) {
      TrainStep s;
      s.epoch = e.at("epoch").get<int>();
      s.step = e.at("step").get<int>();
      s.lr = e.at("lr").get<double>();
      s.loss = e.at("loss").get<double>();
      s.terms = termsFrom(e.at("terms"), st.termNames);
      s.accuracy = e.at("accuracy").get<double>();
      s.seconds = e.value("seconds", 0.0);
      st.steps.push_back(std::move(s));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw Error(ErrorKind::Input, path + ": malformed checkpoint state (" + what + ")");
  }
  return st;
}

void writeTrainLog(const std::string& path, const TrainOptions& options, const TrainResult& r,
                   const std::vector<std::string>& classNames, bool finished) {
  ojson j;
  j["format"] = kLogFormat;
  j["version"] = 1;
  j["finished"] = finished;
  j["options"] = optionsJson(options);
  j["classes"] = classNames;
  j["train_clips"] = r.trainClips;
  j["val_clips"] = r.valClips;
  j["term_names"] = r.termNames;
  j["best_epoch"] = r.bestEpoch;
  j["best_val_accuracy"] = r.bestValAccuracy >= 0 ? ojson(r.bestValAccuracy) : ojson(nullptr);
  j["kept_epoch"] = r.keptEpoch;
  j["saved_model"] = r.savedModel;
  j["checkpoint"] = r.checkpointDir;
  ojson epochs = ojson::array();
  for (const auto& e : r.epochs) epochs.push_back(epochJson(e, r.termNames));
  j["epochs"] = epochs;
  ojson steps = ojson::array();
  for (const auto& s : r.steps) steps.push_back(stepJson(s, r.termNames));
  j["steps"] = steps;
  writeTextAtomically(path, dumpWithArraysPerLine(j));
}

std::string accuracyJson(const AccuracyReport& r) {
  ojson j;
  j["format"] = "explain-video-accuracy";
  j["version"] = 1;
  j["model"] = r.modelPath;
  j["data"] = r.splitDir;
  j["clips"] = static_cast<int>(r.truth.size());
  j["correct"] = r.correct;
  j["top1"] = r.top1;
  j["classes"] = r.classNames;
  ojson per = ojson::array();
  for (size_t c = 0; c < r.classNames.size(); ++c) {
    ojson e;
    e["class_id"] = static_cast<int>(c);
    e["class_name"] = r.classNames[c];
    e["clips"] = r.classTotal[c];
    e["correct"] = r.classCorrect[c];
    e["accuracy"] = r.classTotal[c] ? ojson(static_cast<double>(r.classCorrect[c]) / r.classTotal[c]) : ojson(nullptr);
    per.push_back(e);
  }
  j["per_class"] = per;
  j["confusion"] = r.confusion;  // rows: true class, columns: predicted class
  ojson clips = ojson::array();
  for (size_t i = 0; i < r.truth.size(); ++i) {
    ojson c;
    c["clip"] = r.clips[i];
    c["class_id"] = r.truth[i];
    c["predicted"] = r.predicted[i];
    c["logits"] = r.meanLogits[i];
    clips.push_back(c);
  }
  j["per_clip"] = clips;
  j["seconds"] = r.seconds;
  return dumpWithArraysPerLine(j);
}

}  // namespace trainimpl

void writeAccuracyJson(const AccuracyReport& report, const std::string& path) {
  trainimpl::writeTextAtomically(path, trainimpl::accuracyJson(report));
}

}  // namespace ev
