#include "pipeline/window_explainer.hpp"

#include <algorithm>
#include <cmath>

#include "cam/method.hpp"
#include "explain_video/error.hpp"
#include "model/script_model.hpp"
#include "util/plural.hpp"

namespace ev {

struct WindowExplainer::Impl {
  modelimpl::ScriptModel* sm = nullptr;
  std::string layer;
  std::vector<std::string> names;
  std::vector<const camimpl::Method*> methods;
  bool gradient = false;
  modelimpl::ClassifierHead head;  // for methods that need the classifier's weights
  std::vector<std::string> skipped;
  WindowExplainerOptions options;
  std::function<void(int64_t)> tick;
};

void WindowExplainer::onPasses(std::function<void(int64_t)> tick) { impl_->tick = std::move(tick); }

WindowExplainer::WindowExplainer(Model& model, const std::string& layer, const std::vector<std::string>& methods,
                                 bool skipUnavailable, WindowExplainerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->sm = &modelimpl::scriptModelOf(model);
  impl_->layer = layer;
  impl_->options = std::move(options);
  if (impl_->options.batch < 1) impl_->options.batch = 1;
  for (const std::string& name : methods) {
    const camimpl::Method& m = camimpl::findMethod(name);
    if (m.info().has(kNeedClassifierWeights) && !impl_->head.weight.defined()) {
      impl_->head = impl_->sm->classifierHead(layer);
      if (!impl_->head.weight.defined()) {
        if (!skipUnavailable) impl_->sm->fail(impl_->head.why);
        impl_->skipped.push_back(m.info().name + " skipped: " + impl_->head.why);
        continue;
      }
      impl_->head.weight = impl_->head.weight.to(at::kDouble);
      if (impl_->head.bias.defined()) impl_->head.bias = impl_->head.bias.to(at::kDouble);
    }
    impl_->names.push_back(m.info().name);
    impl_->methods.push_back(&m);
    impl_->gradient = impl_->gradient || m.info().has(kNeedGradient);
  }
  if (impl_->methods.empty())
    impl_->sm->fail("no requested method can run on layer '" + layer + "': " + impl_->skipped.front());
}

WindowExplainer::~WindowExplainer() = default;

const std::vector<std::string>& WindowExplainer::methods() const { return impl_->names; }
const std::vector<std::string>& WindowExplainer::skipped() const { return impl_->skipped; }
bool WindowExplainer::needsGradient() const { return impl_->gradient; }

WindowMaps WindowExplainer::explain(const Volume& input, const ClassChooser& classesFor) {
  return std::move(explain(std::vector<const Volume*>{&input}, classesFor).front());
}

std::vector<WindowMaps> WindowExplainer::explain(const std::vector<const Volume*>& inputs,
                                                 const ClassChooser& classesFor, const std::vector<int64_t>& windowIds) {
  Impl& d = *impl_;
  const int64_t N = static_cast<int64_t>(inputs.size());
  std::vector<WindowMaps> out(inputs.size());
  if (N == 0) return out;
  // One N×3×T×H×W batch: one forward pass for the windows of the batch.
  const Volume& first = *inputs.front();
  if (first.shape.size() != 5 || first.shape[0] != 1) d.sm->fail("input must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W");
  std::vector<int64_t> shape = first.shape;
  shape[0] = N;
  at::Tensor x = at::empty(shape, at::kFloat);
  const size_t per = first.size();
  for (int64_t i = 0; i < N; ++i) {
    const Volume& v = *inputs[static_cast<size_t>(i)];
    if (v.shape != first.shape) d.sm->fail("the windows of a batch differ in shape");
    std::copy(v.data.begin(), v.data.end(), x.data_ptr<float>() + static_cast<size_t>(i) * per);
  }
  auto cap = d.sm->capture(d.layer, x);

  const at::Tensor logitsCpu = cap.logits.detach().to(at::kFloat).cpu().contiguous();
  const int64_t classes = logitsCpu.size(1);
  std::vector<std::vector<int>> chosen(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    WindowMaps& w = out[static_cast<size_t>(i)];
    const float* l = logitsCpu.data_ptr<float>() + i * classes;
    w.logits.assign(l, l + classes);
    w.cellShape.assign(cap.activation.sizes().begin() + 2, cap.activation.sizes().end());
    w.classIds = classesFor(w.logits);
    for (int c : w.classIds)
      if (c < 0 || c >= classes)
        throw Error(ErrorKind::Model,
                    "class id " + std::to_string(c) + " out of range: model has " + plural(classes, "class"));
    if (w.classIds.size() != out.front().classIds.size())
      throw Error(ErrorKind::Internal, "windows of a batch with different numbers of candidate classes");
    chosen[static_cast<size_t>(i)] = w.classIds;
  }
  const int64_t K = static_cast<int64_t>(out.front().classIds.size());
  if (K == 0) return out;

  // Every method runs in double precision on the same activation (and gradients). Item n·K + k
  // of a method's batch is window n for its k-th class.
  const at::Tensor a = cap.activation.detach().to(at::kDouble);  // N×C×T×H×W
  const int64_t C = a.size(1);
  const std::vector<int64_t> cells(a.sizes().begin() + 2, a.sizes().end());
  std::vector<int64_t> flat{N * K, C};
  flat.insert(flat.end(), cells.begin(), cells.end());
  camimpl::MethodInputs batch;
  batch.activation = a.unsqueeze(1).expand({N, K, C, cells[0], cells[1], cells[2]}).reshape(flat);
  if (d.gradient) batch.gradient = d.sm->batchGradients(cap, d.layer, chosen).to(at::kDouble).reshape(flat);
  if (d.head.weight.defined()) {
    const at::Tensor& w = d.head.weight;
    if (w.size(1) != C || w.size(0) != classes)
      d.sm->fail("cam: the linear layer '" + d.head.linear + "' is " + std::to_string(w.size(0)) + "x" +
                 std::to_string(w.size(1)) + ", but layer '" + d.layer + "' has " + plural(C, "channel") +
                 " and the model " + plural(classes, "class"));
    // The graph walk cannot see which output --output selects: check logits = W·mean(A) + b.
    at::Tensor expect = at::matmul(a.mean({2, 3, 4}), w.t());  // N×K'
    if (d.head.bias.defined()) expect = expect + d.head.bias;
    const at::Tensor got = cap.logits.detach().to(at::kDouble);
    const double diff = (expect - got).abs().max().item<double>();
    const double scale = 1 + got.abs().max().item<double>();
    if (!(diff <= 1e-3 * scale))
      d.sm->fail("cam: the logits are not the linear layer '" + d.head.linear + "' applied to the pooled layer '" +
                 d.layer + "' (they differ by " + std::to_string(diff) + "); is --output the classifier's output?");
    std::vector<int64_t> ids;
    for (const auto& cs : chosen) ids.insert(ids.end(), cs.begin(), cs.end());
    batch.classWeights = w.index_select(0, at::tensor(ids, at::TensorOptions().dtype(at::kLong).device(w.device())));
  }

  for (auto& w : out) {
    w.maps.reserve(d.methods.size() * static_cast<size_t>(K));
    w.notes.reserve(d.methods.size() * static_cast<size_t>(K));
    w.capturePasses = 1 + (d.gradient ? static_cast<double>(K) : 0.0);
    w.methodPasses.assign(d.methods.size(), 0.0);
  }
  // The perturbation methods' model passes, in batches of options.batch inputs; `passes` counts them.
  int64_t passes = 0;
  const int B = d.options.batch;
  const int64_t capturePasses = N * (1 + (d.gradient ? K : 0));
  auto tick = [&] {
    if (d.tick) d.tick(capturePasses + passes);
  };
  tick();
  auto chunked = [&](const at::Tensor& x, const std::function<at::Tensor(const at::Tensor&)>& f) {
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < x.size(0); i += B) {
      const int64_t e = std::min<int64_t>(x.size(0), i + B);
      parts.push_back(f(x.slice(0, i, e)));
      passes += e - i;
      tick();
    }
    return at::cat(parts);
  };
  camimpl::MethodInputs& pert = batch;
  pert.input = x.to(d.sm->device()).unsqueeze(1).expand({N, K, shape[1], shape[2], shape[3], shape[4]})
                   .reshape({N * K, shape[1], shape[2], shape[3], shape[4]});
  for (const auto& cs : chosen) pert.classes.insert(pert.classes.end(), cs.begin(), cs.end());
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < K; ++k)
      pert.windows.push_back(windowIds.empty() ? i : windowIds[static_cast<size_t>(i)]);
  pert.logitsOf = [&](const at::Tensor& in) {
    return chunked(in, [&](const at::Tensor& c) {
      c10::InferenceMode guard;
      return d.sm->forwardLogits(c).detach();
    });
  };
  pert.gradientsAt = [&](const at::Tensor& in, const std::vector<std::vector<int>>& classes) {
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < in.size(0); i += B) {
      const int64_t e = std::min<int64_t>(in.size(0), i + B);
      auto c = d.sm->capture(d.layer, in.slice(0, i, e));
      const std::vector<std::vector<int>> cls(classes.begin() + i, classes.begin() + e);
      parts.push_back(d.sm->batchGradients(c, d.layer, cls));
      passes += (e - i) * (1 + static_cast<int64_t>(cls.front().size()));
      tick();
    }
    return at::cat(parts);
  };
  pert.logitsFromLayer = [&](const at::Tensor& acts) {
    return chunked(acts, [&](const at::Tensor& c) {
      c10::InferenceMode guard;
      return d.sm->logitsFromLayer(d.layer, c).detach();
    });
  };
  pert.black = d.options.black;
  pert.centres = d.options.centres;
  pert.params = d.options.perturbation;
  pert.batch = B;

  for (size_t mi = 0; mi < d.methods.size(); ++mi) {
    const camimpl::Method* m = d.methods[mi];
    at::Tensor maps;  // (N·K)×T×H×W
    camimpl::MethodNotes notes;
    const int64_t before = passes;
    if (m->info().classIndependent()) {
      // One map per window serves every class (eigencam).
      camimpl::MethodInputs one;
      one.activation = a;
      const at::Tensor one1 = m->maps(one, &notes);  // N×T×H×W
      maps = one1.unsqueeze(1).expand({N, K, one1.size(1), one1.size(2), one1.size(3)})
                 .reshape({N * K, one1.size(1), one1.size(2), one1.size(3)});
      std::vector<int64_t> per(static_cast<size_t>(N * K), 0);
      for (int64_t i = 0; i < N * K; ++i)
        if (i / K < static_cast<int64_t>(notes.clampedAlphaCells.size())) per[static_cast<size_t>(i)] = notes.clampedAlphaCells[static_cast<size_t>(i / K)];
      notes.clampedAlphaCells = per;
    } else {
      maps = m->maps(batch, &notes);
    }
    for (auto& w : out) w.methodPasses[mi] = static_cast<double>(passes - before) / static_cast<double>(N);
    maps = maps.to(at::kFloat).cpu().contiguous();
    const std::vector<EmptyReason> empty =
        camimpl::emptyReasons(maps, batch.activation, m->info().has(kNeedGradient) ? batch.gradient : at::Tensor());
    for (int64_t i = 0; i < N * K; ++i) {
      WindowMaps& w = out[static_cast<size_t>(i / K)];
      w.empty.push_back(empty[static_cast<size_t>(i)]);
      w.maps.push_back(modelimpl::toVolume(maps[i], /*dropBatch=*/false));
      w.notes.push_back(i < static_cast<int64_t>(notes.clampedAlphaCells.size()) ? notes.clampedAlphaCells[static_cast<size_t>(i)] : 0);
    }
  }
  return out;
}

}  // namespace ev
