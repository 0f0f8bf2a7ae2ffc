// CAM (Zhou et al., CVPR 2016): for a layer followed by global average pooling and a linear
// classifier, map = relu(Σ_k W[c,k]·A^k) with W the classifier's weight (read from the graph,
// model/classifier_head.cpp). There g = W[c,k] / (T'·H'·W') in every cell, so this map is the
// Grad-CAM map multiplied by T'·H'·W'.
#include "cam/method.hpp"

namespace ev {
namespace camimpl {
namespace {

class ClassActivationMap : public Method {
 public:
  const CamMethodInfo& info() const override {
    static const CamMethodInfo i{"cam",
                                 "relu(sum_k W[c,k] A^k), W the linear classifier after global average pooling",
                                 "Zhou et al., CVPR 2016", kNeedActivation | kNeedClassifierWeights, "no backward",
                                 false};
    return i;
  }
  at::Tensor maps(const MethodInputs& in, MethodNotes*) const override {
    checkInputs(info(), in);
    return weightedMap(in.classWeights, in.activation);
  }
};

}  // namespace

const Method& classActivationMap() {
  static const ClassActivationMap m;
  return m;
}

}  // namespace camimpl
}  // namespace ev
