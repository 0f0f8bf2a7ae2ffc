// ev::Model: the public, torch-free face of ScriptModel (script_model.hpp), with Volume inputs
// and outputs. The graph work lives in graph_surgery.cpp, script_model.cpp, layer_geometry.cpp
// and classifier_head.cpp.
#include "explain_video/model.hpp"
#include "util/resources.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "explain_video/error.hpp"
#include "model/script_model.hpp"
#include "model/torch_text.hpp"

namespace ev {

struct Model::Impl {
  explicit Impl(modelimpl::ScriptModel m) : sm(std::move(m)) {}
  modelimpl::ScriptModel sm;
  std::string target;

  at::Tensor inputTensor(const Volume& input) const {
    if (input.shape.size() != 5 || input.shape[0] != 1)
      sm.fail("input must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W, got " + modelimpl::shapeString(input.shape));
    return modelimpl::toTensor(input);
  }
  void needTarget() const {
    if (target.empty()) sm.fail("no target layer set; call setTargetLayer() first");
  }
};

namespace modelimpl {
ScriptModel& scriptModelOf(Model& model) { return model.impl_->sm; }
}  // namespace modelimpl

Model::Model(const std::string& path, int threads, const std::string& device)
    : impl_(std::make_unique<Impl>(modelimpl::ScriptModel::load(path))) {
  impl_->sm.module().eval();
  impl_->sm.setDevice(device);
  int n = threads > 0 ? threads : usableCpus();  // the affinity mask: a Slurm job's CPUs, not the node's
  at::set_num_threads(std::max(1, n));
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const std::string& Model::path() const { return impl_->sm.path(); }

std::vector<LayerInfo> Model::listLayers(const std::vector<int64_t>& inputShape) {
  return impl_->sm.listLayers(inputShape);
}

std::string Model::defaultLayer(const std::vector<int64_t>& inputShape) { return impl_->sm.defaultLayer(inputShape); }

void Model::setTargetLayer(const std::string& dottedPath) {
  impl_->sm.captureFunction(dottedPath);  // builds and caches it, or throws
  impl_->target = dottedPath;
}

const std::string& Model::targetLayer() const { return impl_->target; }

CellCentres Model::cellCentres(const std::vector<int64_t>& inputShape, std::string* why) {
  impl_->needTarget();
  return impl_->sm.cellCentres(impl_->target, inputShape, why);
}

void Model::setOutput(const std::string& selector) { impl_->sm.setOutput(selector); }
const std::string& Model::output() const { return impl_->sm.output(); }

std::vector<float> Model::predict(const Volume& input) {
  at::Tensor x = impl_->inputTensor(input);
  at::Tensor logits;
  {
    c10::InferenceMode guard;
    logits = impl_->sm.forwardLogits(x);
  }
  logits = logits.reshape({-1}).to(torch::kFloat32).cpu().contiguous();
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

std::vector<std::vector<float>> Model::predict(const std::vector<const Volume*>& inputs) {
  std::vector<std::vector<float>> out;
  if (inputs.empty()) return out;
  const Volume& first = *inputs.front();
  if (first.shape.size() != 5 || first.shape[0] != 1)
    impl_->sm.fail("input must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W, got " + modelimpl::shapeString(first.shape));
  std::vector<int64_t> shape = first.shape;
  shape[0] = static_cast<int64_t>(inputs.size());
  at::Tensor x = at::empty(shape, at::kFloat);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->shape != first.shape) impl_->sm.fail("the inputs of a batch differ in shape");
    std::copy(inputs[i]->data.begin(), inputs[i]->data.end(), x.data_ptr<float>() + i * first.size());
  }
  at::Tensor logits;
  {
    c10::InferenceMode guard;
    logits = impl_->sm.forwardLogits(x);
  }
  logits = logits.to(torch::kFloat32).cpu().contiguous();
  const int64_t k = logits.size(1);
  for (size_t i = 0; i < inputs.size(); ++i)
    out.emplace_back(logits.data_ptr<float>() + i * k, logits.data_ptr<float>() + (i + 1) * k);
  return out;
}

LayerCapture Model::capture(const Volume& input,
                            const std::function<std::vector<int>(const std::vector<float>&)>& chooseClasses) {
  impl_->needTarget();
  const at::Tensor x = impl_->inputTensor(input);
  auto cap = impl_->sm.capture(impl_->target, x);
  LayerCapture out;
  {
    at::Tensor l = cap.logits.detach().reshape({-1}).to(torch::kFloat32).cpu().contiguous();
    out.logits.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
  }
  out.activation = modelimpl::toVolume(cap.activation, /*dropBatch=*/true);
  out.classIds = chooseClasses(out.logits);
  const at::Tensor g = impl_->sm.gradients(cap, impl_->target, out.classIds, /*retain=*/false);
  for (int64_t i = 0; i < g.size(0); ++i) out.gradients.push_back(modelimpl::toVolume(g[i], /*dropBatch=*/false));
  return out;
}

}  // namespace ev
