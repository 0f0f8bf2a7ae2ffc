#include "pipeline/window_explainer.hpp"

#include <algorithm>
#include <cmath>

#include "cam/method.hpp"
#include "explain_video/error.hpp"
#include "model/script_model.hpp"

namespace ev {

struct WindowExplainer::Impl {
  modelimpl::ScriptModel* sm = nullptr;
  std::string layer;
  std::vector<std::string> names;
  std::vector<const camimpl::Method*> methods;
  bool gradient = false;
  modelimpl::ClassifierHead head;  // for methods that need the classifier's weights
  std::vector<std::string> skipped;
};

WindowExplainer::WindowExplainer(Model& model, const std::string& layer, const std::vector<std::string>& methods,
                                 bool skipUnavailable)
    : impl_(std::make_unique<Impl>()) {
  impl_->sm = &modelimpl::scriptModelOf(model);
  impl_->layer = layer;
  for (const std::string& name : methods) {
    const camimpl::Method& m = camimpl::findMethod(name);
    if (m.info().has(kNeedModelScores))
      throw Error(ErrorKind::Usage, "method " + m.info().name + " needs perturbation passes, which are not built yet");
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
  Impl& d = *impl_;
  if (input.shape.size() != 5 || input.shape[0] != 1)
    d.sm->fail("input must be 1\xC3\x97" "C\xC3\x97T\xC3\x97H\xC3\x97W");
  const at::Tensor x = modelimpl::toTensor(input);
  auto cap = d.sm->capture(d.layer, x);

  WindowMaps out;
  {
    const at::Tensor l = cap.logits.detach().reshape({-1}).to(at::kFloat).contiguous();
    out.logits.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
  }
  out.cellShape.assign(cap.activation.sizes().begin() + 2, cap.activation.sizes().end());
  out.classIds = classesFor(out.logits);
  const int64_t K = static_cast<int64_t>(out.classIds.size());
  const int64_t classes = static_cast<int64_t>(out.logits.size());
  for (int c : out.classIds)
    if (c < 0 || c >= classes)
      throw Error(ErrorKind::Model,
                  "class id " + std::to_string(c) + " out of range: model has " + std::to_string(classes) + " classes");

  // Every method runs in double precision on the same activation (and gradients).
  const at::Tensor a = cap.activation.detach().to(at::kDouble);
  camimpl::MethodInputs batch;  // item k: class classIds[k]
  batch.activation = a.expand({K, a.size(1), a.size(2), a.size(3), a.size(4)});
  if (d.gradient && K > 0)
    batch.gradient = d.sm->gradients(cap, d.layer, out.classIds, /*retain=*/false).to(at::kDouble);
  if (d.head.weight.defined() && K > 0) {
    const at::Tensor& w = d.head.weight;
    if (w.size(1) != a.size(1) || w.size(0) != classes)
      d.sm->fail("cam: the linear layer '" + d.head.linear + "' is " + std::to_string(w.size(0)) + "x" +
                 std::to_string(w.size(1)) + ", but layer '" + d.layer + "' has " + std::to_string(a.size(1)) +
                 " channels and the model " + std::to_string(classes) + " classes");
    // The graph walk cannot see which output --output selects: check logits = W·mean(A) + b.
    at::Tensor expect = at::matmul(w, a[0].mean({1, 2, 3}));
    if (d.head.bias.defined()) expect = expect + d.head.bias;
    const at::Tensor got = cap.logits.detach()[0].to(at::kDouble);
    const double diff = (expect - got).abs().max().item<double>();
    const double scale = 1 + got.abs().max().item<double>();
    if (!(diff <= 1e-3 * scale))
      d.sm->fail("cam: the logits are not the linear layer '" + d.head.linear + "' applied to the pooled layer '" +
                 d.layer + "' (they differ by " + std::to_string(diff) + "); is --output the classifier's output?");
    std::vector<int64_t> ids(out.classIds.begin(), out.classIds.end());
    batch.classWeights = w.index_select(0, at::tensor(ids, at::kLong));
  }

  out.maps.reserve(d.methods.size() * static_cast<size_t>(K));
  for (const camimpl::Method* m : d.methods) {
    at::Tensor maps;
    camimpl::MethodNotes notes;
    if (K == 0) continue;
    if (m->info().classIndependent()) {
      // One map serves every class (eigencam).
      camimpl::MethodInputs one;
      one.activation = a;
      maps = m->maps(one, &notes).expand({K, a.size(2), a.size(3), a.size(4)});
      notes.clampedAlphaCells.assign(static_cast<size_t>(K), notes.clampedAlphaCells.empty() ? 0 : notes.clampedAlphaCells[0]);
    } else {
      maps = m->maps(batch, &notes);
    }
    maps = maps.to(at::kFloat).contiguous();
    for (int64_t k = 0; k < K; ++k) {
      out.maps.push_back(modelimpl::toVolume(maps[k], /*dropBatch=*/false));
      out.notes.push_back(k < static_cast<int64_t>(notes.clampedAlphaCells.size()) ? notes.clampedAlphaCells[k] : 0);
    }
  }
  return out;
}

}  // namespace ev
