// Model-parameter randomisation for the sanity checks (Adebayo et al., NeurIPS 2018): the
// parameters of chosen layers of a loaded TorchScript model are replaced, in memory, by seeded
// random values, and put back afterwards. The user's file is never touched.
//
// Private header: includes torch.
#pragma once
#include <torch/script.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ev {
namespace modelimpl {

namespace jit = torch::jit;

class ParameterRandomizer {
 public:
  // Keeps a copy of every parameter of `module` (a handle: the randomisation changes the very
  // module the caller runs). Errors: Model (the model has no parameters, e.g. a frozen model).
  ParameterRandomizer(jit::Module module, const std::string& path);
  ~ParameterRandomizer();  // restores every parameter

  // The layers: submodules holding parameters of their own, in the order the model defines them
  // (named_modules(); "(top level)" for the root module's own parameters).
  const std::vector<std::string>& layers() const { return layers_; }

  // Replaces each parameter tensor P of `layer` by draws from N(m, s²), m and s = P's own mean
  // and standard deviation (new values from the distribution of the trained ones), from a
  // generator seeded by `seed` and the parameter's full name alone, so a layer gets the same
  // values in the cascade and in the independent test. A tensor whose values are all equal (an
  // all-zero bias, a single scalar) has no spread to draw from and stays. Returns the number of
  // tensors replaced (0: the layer is unchanged). Errors: Usage (no such layer).
  int randomize(const std::string& layer, uint64_t seed);
  // Every parameter back to the values the model was loaded with.
  void restore();

 private:
  jit::Module module_;
  std::vector<std::string> layers_;
  std::map<std::string, std::vector<std::string>> params_;  // layer -> full parameter names
  std::map<std::string, at::Tensor> saved_;                 // full name -> original values
  std::map<std::string, at::Tensor> live_;                  // full name -> the module's tensor
};

}  // namespace modelimpl
}  // namespace ev
