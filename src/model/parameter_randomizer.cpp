#include "model/parameter_randomizer.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include "explain_video/error.hpp"

namespace ev {
namespace modelimpl {
namespace {

// FNV-1a of the name mixed into the seed (splitmix64 finaliser): independent streams per
// parameter, stable across runs and platforms.
uint64_t streamSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (h | 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

ParameterRandomizer::ParameterRandomizer(jit::Module module, const std::string& path) : module_(std::move(module)) {
  for (const auto& m : module_.named_modules()) {
    std::vector<std::string> own;
    for (const auto& p : m.value.named_parameters(/*recurse=*/false)) {
      const std::string full = m.name.empty() ? p.name : m.name + "." + p.name;
      own.push_back(full);
      live_[full] = p.value;
      saved_[full] = p.value.detach().clone();
    }
    if (own.empty()) continue;
    const std::string layer = m.name.empty() ? "(top level)" : m.name;
    layers_.push_back(layer);
    params_[layer] = own;
  }
  if (layers_.empty())
    throw Error(ErrorKind::Model, path + ": the model has no parameters (a frozen TorchScript model keeps its weights as "
                                         "constants): the randomisation checks need them; export it without freezing");
}

ParameterRandomizer::~ParameterRandomizer() {
  try {
    restore();
  } catch (...) {
  }
}

int ParameterRandomizer::randomize(const std::string& layer, uint64_t seed) {
  const auto it = params_.find(layer);
  if (it == params_.end()) {
    std::string all;
    for (const std::string& l : layers_) all += (all.empty() ? "" : ", ") + l;
    throw Error(ErrorKind::Usage, "no layer '" + layer + "' with parameters; the model's are " + all);
  }
  at::NoGradGuard noGrad;
  int changed = 0;
  for (const std::string& name : it->second) {
    at::Tensor& p = live_.at(name);
    const at::Tensor orig = saved_.at(name).to(at::kDouble).cpu();
    const double s = orig.numel() > 1 ? orig.std().item<double>() : 0.0;
    if (!(s > 0)) continue;  // all values equal: no spread to draw from
    const double mean = orig.mean().item<double>();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(streamSeed(seed, name));
    const at::Tensor draw = at::normal(mean, s, orig.sizes(), gen, at::TensorOptions().dtype(at::kDouble));
    p.copy_(draw.to(p.scalar_type()).to(p.device()));
    ++changed;
  }
  return changed;
}

void ParameterRandomizer::restore() {
  at::NoGradGuard noGrad;
  for (auto& [name, p] : live_) p.copy_(saved_.at(name));
}

}  // namespace modelimpl
}  // namespace ev
