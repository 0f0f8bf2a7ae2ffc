// The method registry: one line per method. The CLI's --method, --help's method table, the
// README table and the registry-wide tests all enumerate this list.
#include <algorithm>
#include <set>
#include <sstream>

#include "cam/method.hpp"
#include "explain_video/error.hpp"

namespace ev {
namespace camimpl {

#define EV_CAM_METHODS(X) \
  X(gradCamPlusPlus)      \
  X(gradCam)              \
  X(gradCamPerTime)       \
  X(xGradCam)             \
  X(layerCam)             \
  X(hiResCam)             \
  X(eigenCam)             \
  X(classActivationMap)   \
  X(scoreCam)             \
  X(ablationCam)          \
  X(smoothGradCamPlusPlus) \
  X(rise)

#define EV_DECLARE(f) const Method& f();
EV_CAM_METHODS(EV_DECLARE)
#undef EV_DECLARE

namespace {
std::vector<const Method*>& mutableRegistry() {
#define EV_ENTRY(f) &f(),
  static std::vector<const Method*> r = {EV_CAM_METHODS(EV_ENTRY)};
#undef EV_ENTRY
  return r;
}
std::vector<CamMethodInfo>& infoTable() {
  static std::vector<CamMethodInfo> infos = [] {
    std::vector<CamMethodInfo> v;
    for (const Method* m : mutableRegistry()) v.push_back(m->info());
    return v;
  }();
  return infos;
}
}  // namespace

const std::vector<const Method*>& registry() { return mutableRegistry(); }

void addMethodForTesting(const Method& m) {
  infoTable();  // built from the shipped methods first
  mutableRegistry().push_back(&m);
  infoTable().push_back(m.info());
}

const Method& findMethod(const std::string& name) {
  for (const Method* m : registry())
    if (m->info().name == name) return *m;
  if (name == "gradcampp") return findMethod("gradcam++");  // an alias without the '+' signs
  std::string all;
  for (const Method* m : registry()) all += (all.empty() ? "" : ", ") + m->info().name;
  throw Error(ErrorKind::Usage, "unknown method '" + name + "': registered methods are " + all);
}

void checkInputs(const CamMethodInfo& info, const MethodInputs& in) {
  auto fail = [&](const std::string& what) {
    throw Error(ErrorKind::Internal, "method " + info.name + ": " + what);
  };
  if (!in.activation.defined() || in.activation.dim() != 5) fail("needs an N×C×T×H×W activation");
  if (info.has(kNeedGradient) && (!in.gradient.defined() || !in.gradient.sizes().equals(in.activation.sizes())))
    fail("needs a gradient of the activation's shape");
  if (info.has(kNeedClassifierWeights) &&
      (!in.classWeights.defined() || in.classWeights.dim() != 2 || in.classWeights.size(0) != in.activation.size(0) ||
       in.classWeights.size(1) != in.activation.size(1)))
    fail("needs classifier weights N×C for the activation's N×C");
  if (info.has(kNeedModelScores) && (!in.input.defined() || !in.logitsOf)) fail("needs the input and a scorer");
  if (info.has(kNeedPerturbedGradients) && (!in.input.defined() || !in.gradientsAt)) fail("needs gradients at perturbed inputs");
  if (info.has(kNeedLayerScores) && !in.logitsFromLayer) fail("needs the network from the layer on");
  if (info.perturbation() && static_cast<int64_t>(in.classes.size()) != in.activation.size(0)) fail("needs a class per item");
}

}  // namespace camimpl

const std::vector<CamMethodInfo>& camMethods() { return camimpl::infoTable(); }

std::vector<std::string> camMethodNames() {
  std::vector<std::string> names;
  for (const CamMethodInfo& i : camMethods()) names.push_back(i.name);
  return names;
}

const CamMethodInfo& camMethod(const std::string& name) { return camimpl::findMethod(name).info(); }

std::vector<std::string> parseCamMethods(const std::string& spec, const std::string& flag, bool* all) {
  std::vector<std::string> out;
  if (all) *all = false;
  std::istringstream in(spec);
  for (std::string s; std::getline(in, s, ',');) {
    s.erase(0, s.find_first_not_of(" \t"));
    s.erase(s.find_last_not_of(" \t") + 1);
    if (s.empty()) continue;
    if (s == "all") {
      if (all) *all = true;
      for (const CamMethodInfo& i : camMethods())
        if (!i.perturbation() && std::find(out.begin(), out.end(), i.name) == out.end()) out.push_back(i.name);
      continue;
    }
    std::string name;
    try {
      name = camMethod(s).name;
    } catch (const Error& e) {
      throw Error(ErrorKind::Usage, flag + ": " + e.what());
    }
    if (std::find(out.begin(), out.end(), name) != out.end())
      throw Error(ErrorKind::Usage, flag + " lists " + name + " twice");
    out.push_back(name);
  }
  if (out.empty()) throw Error(ErrorKind::Usage, flag + " names no method");
  return out;
}

std::string camMethodTable(size_t indent) {
  size_t w = 0;
  for (const CamMethodInfo& i : camMethods()) w = std::max(w, i.name.size());
  std::ostringstream s;
  for (const CamMethodInfo& i : camMethods()) {
    s << std::string(indent, ' ') << i.name << std::string(w + 2 - i.name.size(), ' ') << i.summary << "\n"
      << std::string(indent + w + 2, ' ') << "[" << i.reference << "; " << i.cost << "]\n";
  }
  return s.str();
}

int64_t methodPassesPerWindow(const CamMethodInfo& m, int64_t channels, int64_t classes, const PerturbationParams& p) {
  const int64_t k = p.scoreChannels > 0 ? std::min<int64_t>(p.scoreChannels, channels) : channels;
  if (m.name == "scorecam" || m.name == "ablationcam") return k + 1;
  if (m.name == "smoothgradcam++") return static_cast<int64_t>(p.smoothSamples) * (1 + classes);
  if (m.name == "rise") return p.riseMasks;
  return 0;
}

std::string emptyReasonCode(EmptyReason r) {
  switch (r) {
    case EmptyReason::None: return "";
    case EmptyReason::ZeroActivation: return "zero_activation";
    case EmptyReason::ZeroGradient: return "zero_gradient";
    case EmptyReason::NoPositiveGradient: return "no_positive_gradient";
    case EmptyReason::NegativeEvidence: return "negative_evidence";
  }
  return "";
}

std::string emptyReasonText(EmptyReason r) {
  switch (r) {
    case EmptyReason::None: return "";
    case EmptyReason::ZeroActivation: return "the layer's activation is zero";
    case EmptyReason::ZeroGradient: return "the class score's gradient at the layer is zero";
    case EmptyReason::NoPositiveGradient: return "no positive gradient";
    case EmptyReason::NegativeEvidence: return "the weighted channel sum is <= 0 at every cell (evidence against the class)";
  }
  return "";
}

namespace camimpl {

std::vector<EmptyReason> emptyReasons(const at::Tensor& maps, const at::Tensor& activation, const at::Tensor& gradient) {
  const int64_t N = maps.size(0);
  std::vector<EmptyReason> out(static_cast<size_t>(N), EmptyReason::None);
  const at::Tensor heat = maps.detach().reshape({N, -1}).gt(0).any(1).cpu();
  for (int64_t n = 0; n < N; ++n) {
    if (heat[n].item<bool>()) continue;
    // Items of one window share an activation; a class-independent method's batch is per window.
    const at::Tensor a = activation[activation.size(0) == N ? n : 0].detach();
    EmptyReason r = EmptyReason::NegativeEvidence;
    if (!a.ne(0).any().item<bool>()) {
      r = EmptyReason::ZeroActivation;
    } else if (gradient.defined()) {
      const at::Tensor g = gradient[n].detach();
      if (!g.ne(0).any().item<bool>()) r = EmptyReason::ZeroGradient;
      else if (!g.gt(0).any().item<bool>()) r = EmptyReason::NoPositiveGradient;
    }
    out[static_cast<size_t>(n)] = r;
  }
  return out;
}

}  // namespace camimpl

Volume computeCam(const std::string& method, const CamInputs& in, CamNotes* notes) {
  const camimpl::Method& m = camimpl::findMethod(method);
  const CamMethodInfo& info = m.info();
  auto tensorOf = [&](const Volume* v, const char* what) {
    if (!v || v->shape.empty() || Volume::numel(v->shape) != v->data.size())
      throw Error(ErrorKind::Internal, "method " + info.name + ": " + what + " is missing or malformed");
    std::vector<int64_t> shape = v->shape;
    shape.insert(shape.begin(), 1);
    return at::from_blob(const_cast<float*>(v->data.data()), shape, at::kFloat).to(at::kDouble);
  };
  camimpl::MethodInputs mi;
  mi.activation = tensorOf(in.activation, "the activation");
  if (info.has(kNeedGradient)) mi.gradient = tensorOf(in.gradient, "the gradient");
  if (info.has(kNeedClassifierWeights)) {
    if (!in.classWeights) throw Error(ErrorKind::Internal, "method " + info.name + ": classifier weights are missing");
    mi.classWeights = at::from_blob(const_cast<float*>(in.classWeights->data()),
                                    {1, static_cast<int64_t>(in.classWeights->size())}, at::kFloat)
                          .to(at::kDouble);
  }
  if (info.perturbation())
    throw Error(ErrorKind::Usage, "method " + info.name + " needs model passes: run it through the explain pipeline");
  camimpl::MethodNotes mn;
  const at::Tensor map = m.maps(mi, notes ? &mn : nullptr).squeeze(0).to(at::kFloat).contiguous();
  if (notes) {
    notes->clampedAlphaCells = mn.clampedAlphaCells.empty() ? 0 : mn.clampedAlphaCells[0];
    notes->empty = camimpl::emptyReasons(map.unsqueeze(0), mi.activation, mi.gradient).front();
  }
  Volume out(std::vector<int64_t>(map.sizes().begin(), map.sizes().end()));
  std::copy(map.data_ptr<float>(), map.data_ptr<float>() + map.numel(), out.data.begin());
  return out;
}

}  // namespace ev
