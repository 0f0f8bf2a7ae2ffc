#include "train/loss_terms.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "cam/method.hpp"
#include "explain_video/error.hpp"
#include "explain_video/heatmap.hpp"
#include "explain_video/synth.hpp"
#include "model/script_model.hpp"
#include "model/torch_text.hpp"
#include "util/plural.hpp"

namespace ev {
namespace trainimpl {
namespace {

using camimpl::Method;
using modelimpl::ScriptModel;
using modelimpl::torchMessage;

// Cross-entropy of the logits against the clip's class (mean over the batch), with optional
// label smoothing.
class CrossEntropyTerm : public LossTerm {
 public:
  explicit CrossEntropyTerm(double labelSmoothing) : labelSmoothing_(labelSmoothing) {}
  std::string name() const override { return "ce"; }
  at::Tensor compute(const Batch& batch, const Forward& f, torch::jit::Module&) override {
    return at::cross_entropy_loss(f.logits, batch.labels, /*weight=*/{}, at::Reduction::Mean, /*ignore_index=*/-100,
                                  labelSmoothing_);
  }

 private:
  double labelSmoothing_;
};

// A layer's maps by a registered gradient method (src/cam/methods/) for each window's true
// class, N×T×H×W. `activation` must be on the graph of `logits`; createGraph keeps the result
// differentiable.
at::Tensor trueClassMaps(const Method& method, const at::Tensor& logits, const at::Tensor& activation,
                         const at::Tensor& labels, bool createGraph) {
  const at::Tensor score = logits.gather(1, labels.unsqueeze(1)).sum();  // windows are independent
  auto grads = torch::autograd::grad({score}, {activation}, {}, /*retain_graph=*/true, createGraph,
                                     /*allow_unused=*/true);
  camimpl::MethodInputs in;
  in.activation = activation;
  in.gradient = grads.at(0).defined() ? grads[0] : at::zeros_like(activation);
  return method.maps(in, nullptr);
}

// Each clip's map divided by its maximum (all-zero maps stay zero).
at::Tensor normaliseByMax(const at::Tensor& maps) {
  return maps / maps.amax({1, 2, 3}, /*keepdim=*/true).clamp_min(1e-12);
}

// The methods whose map is a differentiable function of the activation and its gradient.
const Method& parseExpMethod(const std::string& name) {
  std::string usable;
  for (const Method* m : camimpl::registry())
    if (m->info().differentiable) usable += (usable.empty() ? "" : ", ") + m->info().name;
  const Method* found = nullptr;
  try {
    found = &camimpl::findMethod(name);
  } catch (const Error& e) {
    throw Error(ErrorKind::Usage, std::string("--exp-method: ") + e.what());
  }
  if (!found->info().differentiable)
    throw Error(ErrorKind::Usage, "--exp-method: '" + name + "' is not a differentiable gradient method; use one of " +
                                      usable);
  return *found;
}

// A model's explained layer (`layer`, or its default, as explain picks, when empty) and where
// its cells sit in the input (empty where unknown); one load of the file.
struct ResolvedLayer {
  std::string name;
  CellCentres centres;
};
ResolvedLayer resolveLayer(ScriptModel& m, const std::string& layer, const std::vector<int64_t>& inputShape) {
  ResolvedLayer r;
  r.name = layer.empty() ? m.defaultLayer(inputShape) : layer;
  m.captureFunction(r.name);  // checks that the layer can be captured
  r.centres = m.cellCentres(r.name, inputShape, nullptr);
  return r;
}

// The teacher: eval mode, run once per batch for every term that needs it.
class Teacher {
 public:
  Teacher(const std::string& path, const std::string& output, const LossContext& ctx)
      : model_(ScriptModel::load(path)), path_(path) {
    model_.setOutput(output);
    module_ = model_.module();
    module_.eval();
    inputShape_ = ctx.inputShape;
  }

  void wantMaps(const Method& method, const std::string& layer) {
    method_ = &method;
    layer_ = resolveLayer(model_, layer, inputShape_);
    forwardWith_ = model_.layerForward(layer_.name);
    // The map needs d(logit)/d(activation); parameters that track gradients keep the
    // activation on the autograd graph (nothing is ever accumulated into them).
    for (at::Tensor p : module_.parameters()) p.requires_grad_(true);
  }
  const ResolvedLayer& layer() const { return layer_; }

  // Logits N×K and (if wanted) the true-class maps, constants for the student.
  const std::pair<at::Tensor, at::Tensor>& run(const Batch& b) {
    if (b.input.data_ptr() == lastInput_ && b.epoch == lastEpoch_ && b.step == lastStep_) return last_;
    if (b.input.scalar_type() != dtype_) {  // tests run in double precision
      module_.to(b.input.scalar_type());
      dtype_ = b.input.scalar_type();
    }
    try {
      if (forwardWith_) {
        at::AutoGradMode grad(true);
        const auto out = (*forwardWith_)({module_._ivalue(), b.input}).toTuple();
        const at::Tensor act = out->elements().at(0).toTensor();
        const at::Tensor logits = model_.logits(out->elements().at(1), b.input.size(0));
        last_ = {logits.detach(), trueClassMaps(*method_, logits, act, b.labels, false).detach()};
      } else {
        at::NoGradGuard noGrad;
        last_ = {model_.forwardLogits(b.input).detach(), at::Tensor()};
      }
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(ErrorKind::Model, path_ + ": the teacher's forward pass failed: " + torchMessage(e));
    }
    lastInput_ = b.input.data_ptr();
    lastEpoch_ = b.epoch;
    lastStep_ = b.step;
    return last_;
  }

 private:
  ScriptModel model_;  // --teacher-output is its output selector
  std::string path_;
  torch::jit::Module module_;
  std::vector<int64_t> inputShape_;
  const Method* method_ = nullptr;
  ResolvedLayer layer_;
  std::shared_ptr<torch::jit::GraphFunction> forwardWith_;
  at::ScalarType dtype_ = at::kFloat;
  const void* lastInput_ = nullptr;
  int lastEpoch_ = -1, lastStep_ = -1;
  std::pair<at::Tensor, at::Tensor> last_;
};

// Hinton's knowledge distillation: T² · KL(p_teacher^T ‖ p_student^T), mean over the batch.
// The T² keeps the gradient scale independent of T.
class DistillationTerm : public LossTerm {
 public:
  DistillationTerm(std::shared_ptr<Teacher> teacher, double temperature)
      : teacher_(std::move(teacher)), t_(temperature) {}
  std::string name() const override { return "kd"; }
  at::Tensor compute(const Batch& batch, const Forward& f, torch::jit::Module&) override {
    const at::Tensor& teacherLogits = teacher_->run(batch).first;
    if (teacherLogits.sizes() != f.logits.sizes())
      throw Error(ErrorKind::Model, "the teacher has " + plural(teacherLogits.size(1), "output") +
                                        ", the student " + std::to_string(f.logits.size(1)));
    const at::Tensor logP = at::log_softmax(f.logits / t_, 1);
    const at::Tensor logQ = at::log_softmax(teacherLogits.to(f.logits.scalar_type()) / t_, 1);
    return (logQ.exp() * (logQ - logP)).sum(1).mean() * (t_ * t_);
  }

 private:
  std::shared_ptr<Teacher> teacher_;
  double t_;
};

// The explanation loss: ‖ L_s − L_t ‖² between the student's and the teacher's maps for the
// true class (Grad-CAM++ paper, Sec. 7.1), each divided by its maximum, the student's map
// evaluated at the teacher's cell centres if the grids differ; mean over cells and clips.
class ExplanationTerm : public LossTerm {
 public:
  ExplanationTerm(std::shared_ptr<Teacher> teacher, const Method& method, std::string studentLayer,
                  CellCentres studentCentres, CellCentres teacherCentres)
      : teacher_(std::move(teacher)), method_(method), layer_(std::move(studentLayer)),
        studentCentres_(std::move(studentCentres)), teacherCentres_(std::move(teacherCentres)) {}
  std::string name() const override { return "exp"; }
  std::string activationLayer() const override { return layer_; }
  at::Tensor compute(const Batch& batch, const Forward& f, torch::jit::Module&) override {
    if (!f.activation.defined())
      throw Error(ErrorKind::Internal, "the explanation loss needs the activation of layer '" + layer_ + "'");
    at::Tensor target = teacher_->run(batch).second;
    at::Tensor maps = trueClassMaps(method_, f.logits, f.activation, batch.labels, /*createGraph=*/true);
    target = target.to(maps.scalar_type());
    if (maps.sizes().slice(1) != target.sizes().slice(1)) maps = toTeacherGrid(maps, target.sizes().slice(1));
    return (normaliseByMax(maps) - normaliseByMax(target)).pow(2).mean();
  }

 private:
  // The student's maps (N×T×H×W) evaluated at the teacher's cell centres, linearly between the
  // student's (both from Model::cellCentres, in input pixels); trilinear with align_corners=False
  // when either geometry is unknown or does not match the maps.
  at::Tensor toTeacherGrid(const at::Tensor& maps, at::IntArrayRef grid) const {
    const CellCentres& s = studentCentres_;
    const CellCentres& t = teacherCentres_;
    auto fits = [](const CellCentres& c, at::IntArrayRef sizes) {
      return static_cast<int64_t>(c.t.size()) == sizes[0] && static_cast<int64_t>(c.h.size()) == sizes[1] &&
             static_cast<int64_t>(c.w.size()) == sizes[2];
    };
    if (!fits(s, maps.sizes().slice(1)) || !fits(t, grid))
      return at::upsample_trilinear3d(maps.unsqueeze(1), grid, /*align_corners=*/false).squeeze(1);
    const auto opts = at::TensorOptions().dtype(maps.scalar_type());
    const at::Tensor mt = interpolationMatrix(s.t, t.t).to(opts), mh = interpolationMatrix(s.h, t.h).to(opts),
                     mw = interpolationMatrix(s.w, t.w).to(opts);
    at::Tensor x = at::matmul(maps, mw.t());                      // N×T×H×W'
    x = at::matmul(mh, x);                                        // N×T×H'×W'
    return at::matmul(x.permute({0, 2, 3, 1}), mt.t()).permute({0, 3, 1, 2}).contiguous();  // N×T'×H'×W'
  }

  std::shared_ptr<Teacher> teacher_;
  const Method& method_;
  std::string layer_;
  CellCentres studentCentres_, teacherCentres_;
};

// Explanation supervision from ground truth ("right for the right reasons"): the model's own map
// for the true class against the acting object's boxes in the window's action frames. The
// target is the box volume in crop pixels (0/1, frames outside the action range empty),
// averaged onto the map's T'×H'×W' cells by nearest cell centre (the layer's real geometry, as
// the heatmaps are drawn); both are divided by their maximum and the loss is the mean squared
// difference, as in "exp". Boxes come from each clip's truth JSON, mapped
// through the same resize and centre crop as the frames.
class BoxTerm : public LossTerm {
 public:
  BoxTerm(const Method& method, std::string layer, PreprocessParams pre, CellCentres centres)
      : method_(method), layer_(std::move(layer)), pre_(pre), centres_(std::move(centres)) {}
  std::string name() const override { return "box"; }
  std::string activationLayer() const override { return layer_; }
  at::Tensor compute(const Batch& batch, const Forward& f, torch::jit::Module&) override {
    if (!f.activation.defined())
      throw Error(ErrorKind::Internal, "the box loss needs the activation of layer '" + layer_ + "'");
    if (!batch.split) throw Error(ErrorKind::Internal, "the box loss needs the batch's split (ground truth)");
    const at::Tensor maps = trueClassMaps(method_, f.logits, f.activation, batch.labels, /*createGraph=*/true);
    const int64_t n = batch.input.size(0), t = batch.input.size(2);
    std::vector<at::Tensor> targets;
    for (int64_t i = 0; i < n; ++i) {
      const ClipBoxes& cb = boxesOf(*batch.split, batch.clips.at(i));
      targets.push_back(boxTarget(cb.boxes, cb.actionStart, cb.actionEnd, batch.starts.at(i), t, batch.input.size(3),
                                  batch.input.size(4), maps.sizes().slice(1), centres_));
    }
    const at::Tensor target = at::stack(targets).to(maps.scalar_type());
    return (normaliseByMax(maps) - normaliseByMax(target)).pow(2).mean();
  }

 private:
  struct ClipBoxes {
    std::vector<Box> boxes;  // per frame, in crop pixels
    int actionStart = 0, actionEnd = 0;
  };
  const ClipBoxes& boxesOf(const SplitData& split, int clip) {
    auto it = cache_.find(clip);
    if (it != cache_.end()) return it->second;
    const ClipRecord& rec = split.clips.at(clip);
    const ClipTruth truth = readClipTruth(rec.truth);
    const CropGeometry g = centreCropGeometry(truth.params.width, truth.params.height, pre_);
    ClipBoxes cb;
    cb.actionStart = truth.actionStart;
    cb.actionEnd = truth.actionEnd;
    for (const Box& box : truth.actorBoxes) cb.boxes.push_back(cropBox(box, g));
    if (cb.boxes.empty()) throw Error(ErrorKind::Input, rec.truth + ": no actor boxes");
    return cache_.emplace(clip, std::move(cb)).first->second;
  }

  const Method& method_;
  std::string layer_;
  PreprocessParams pre_;
  CellCentres centres_;  // where the layer's cells sit in the crop (as the heatmaps are drawn)
  std::map<int, ClipBoxes> cache_;
};

}  // namespace

Box cropBox(const Box& b, const CropGeometry& g) {
  if (b.empty() || g.sourceWidth <= 0 || g.sourceHeight <= 0) return Box{};
  const double sx = static_cast<double>(g.resizeWidth) / g.sourceWidth;
  const double sy = static_cast<double>(g.resizeHeight) / g.sourceHeight;
  // Outward rounding: every crop pixel the resized object touches.
  const int x0 = std::max(0, static_cast<int>(std::floor(b.x * sx)) - g.cropX);
  const int y0 = std::max(0, static_cast<int>(std::floor(b.y * sy)) - g.cropY);
  const int x1 = std::min(g.cropWidth, static_cast<int>(std::ceil((b.x + b.w) * sx)) - g.cropX);
  const int y1 = std::min(g.cropHeight, static_cast<int>(std::ceil((b.y + b.h) * sy)) - g.cropY);
  if (x1 <= x0 || y1 <= y0) return Box{};
  return Box{x0, y0, x1 - x0, y1 - y0};
}

namespace {

// Nearest-centre binning of `length` samples onto the cells centred at `centres` (even tiling
// when they do not match `cells`): a cells×length matrix whose row i averages the samples
// nearest to cell i (ties to the lower cell), the inverse of how the heatmap stage draws them.
at::Tensor binMatrix(int64_t cells, int64_t length, const std::vector<double>& given) {
  const std::vector<double> c = static_cast<int64_t>(given.size()) == cells ? given : evenCellCentres(cells, length);
  at::Tensor m = at::zeros({cells, length}, at::kFloat);
  auto a = m.accessor<float, 2>();
  int64_t k = 0;
  for (int64_t x = 0; x < length; ++x) {
    while (k + 1 < cells && std::abs(c[k + 1] - x) < std::abs(c[k] - x)) ++k;
    a[k][x] = 1.f;
  }
  return m / m.sum(1, /*keepdim=*/true).clamp_min(1.f);
}

}  // namespace

at::Tensor interpolationMatrix(const std::vector<double>& from, const std::vector<double>& to) {
  at::Tensor a = at::zeros({static_cast<int64_t>(to.size()), static_cast<int64_t>(from.size())}, at::kDouble);
  auto acc = a.accessor<double, 2>();
  for (size_t j = 0; j < to.size(); ++j) {
    const LinearTap tap = linearTap(from, to[j]);  // as the heatmap stage interpolates
    acc[j][tap.i0] += 1 - tap.w1;
    acc[j][tap.i1] += tap.w1;
  }
  return a;
}

at::Tensor boxTarget(const std::vector<Box>& boxes, int actionStart, int actionEnd, int64_t start, int64_t clipLen,
                     int64_t height, int64_t width, at::IntArrayRef grid, const CellCentres& centres) {
  at::Tensor volume = at::zeros({clipLen, height, width}, at::kFloat);
  for (int64_t k = 0; k < clipLen && !boxes.empty(); ++k) {
    const int64_t frame = std::min<int64_t>(start + k, static_cast<int64_t>(boxes.size()) - 1);  // padding repeats
    if (frame < actionStart || frame >= actionEnd) continue;
    const Box& b = boxes[frame];
    if (b.empty()) continue;
    volume[k].slice(0, b.y, std::min<int64_t>(height, b.y + b.h)).slice(1, b.x, std::min<int64_t>(width, b.x + b.w)).fill_(1.f);
  }
  // One axis at a time (a single four-operand einsum builds a huge intermediate).
  const at::Tensor w = at::matmul(volume, binMatrix(grid[2], width, centres.w).t());         // T×H×W'
  const at::Tensor h = at::matmul(binMatrix(grid[1], height, centres.h), w);                 // T×H'×W'
  return at::tensordot(binMatrix(grid[0], clipLen, centres.t), h, {1}, {0});                 // T'×H'×W'

}

std::vector<std::string> knownLossTerms() { return {"ce", "kd", "exp", "box"}; }

std::vector<std::unique_ptr<LossTerm>> makeLossTerms(const TrainOptions& o, const LossContext& ctx) {
  std::vector<std::unique_ptr<LossTerm>> terms;
  std::shared_ptr<Teacher> teacher;
  auto needTeacher = [&](const std::string& term) {
    if (o.teacherPath.empty())
      throw Error(ErrorKind::Usage, "--loss " + term + " needs a teacher model (--teacher)");
    if (!teacher) teacher = std::make_shared<Teacher>(o.teacherPath, o.teacherOutput, ctx);
    return teacher;
  };
  for (const LossSpec& spec : o.losses) {
    if (spec.name == "ce") {
      if (!(o.labelSmoothing >= 0.0 && o.labelSmoothing < 1.0))
        throw Error(ErrorKind::Usage, "--label-smoothing must be in [0, 1)");
      terms.push_back(std::make_unique<CrossEntropyTerm>(o.labelSmoothing));
    } else if (spec.name == "kd") {
      if (!(o.kdTemperature > 0 && std::isfinite(o.kdTemperature)))
        throw Error(ErrorKind::Usage, "--kd-temperature must be positive");
      terms.push_back(std::make_unique<DistillationTerm>(needTeacher("kd"), o.kdTemperature));
    } else if (spec.name == "exp") {
      const Method& method = parseExpMethod(o.expMethod);
      auto t = needTeacher("exp");
      t->wantMaps(method, o.teacherLayer);
      const ResolvedLayer student = resolveLayer(*ctx.model, o.expLayer, ctx.inputShape);
      terms.push_back(std::make_unique<ExplanationTerm>(t, method, student.name, student.centres, t->layer().centres));
    } else if (spec.name == "box") {
      const ResolvedLayer layer = resolveLayer(*ctx.model, o.expLayer, ctx.inputShape);
      terms.push_back(std::make_unique<BoxTerm>(parseExpMethod(o.expMethod), layer.name, o.preprocess, layer.centres));
    } else {
      std::string known;
      for (const auto& n : knownLossTerms()) known += (known.empty() ? "" : ", ") + n;
      throw Error(ErrorKind::Usage, "--loss: unknown loss term '" + spec.name + "' (known: " + known + ")");
    }
  }
  return terms;
}

}  // namespace trainimpl
}  // namespace ev
