// Preprocessing presets: the resize, crop, channel order, scale, mean and std a model family
// expects. Every number is what the weights were trained with (or, for a port, what its
// author's own inference script feeds); where each comes from is noted beside it.
#include <utility>

#include "explain_video/error.hpp"
#include "explain_video/windows.hpp"

namespace ev {
namespace {

struct Preset {
  const char* name;
  PreprocessParams params;
};

std::vector<Preset> presets() {
  std::vector<Preset> all;
  {
    // torchvision 0.14 (torchvision/models/video/resnet.py): the KINETICS400_V1 weights of
    // r3d_18, mc3_18 and r2plus1d_18 declare transforms=VideoClassification(crop_size=(112, 112),
    // resize_size=(128, 171)); VideoClassification (torchvision/transforms/_presets.py) scales
    // uint8 RGB to [0, 1] and normalises with mean (0.43216, 0.394666, 0.37645) and std
    // (0.22803, 0.22145, 0.216989). Clips of 16 frames (the weights' documented clip_len).
    PreprocessParams p;
    p.resizeHeight = 128, p.resizeWidth = 171;
    p.cropHeight = 112, p.cropWidth = 112;
    p.scale = 1.0f / 255.0f;
    p.mean = {0.43216f, 0.394666f, 0.37645f};
    p.std = {0.22803f, 0.22145f, 0.216989f};
    p.bgr = false;
    all.push_back({"kinetics", p});
  }
  {
    // c3d-pytorch (github.com/DavideA/c3d-pytorch, predict.py, get_sport_clip): frames read
    // with skimage.io.imread (RGB), resized to 112×200 (height×width) with
    // preserve_range=True (values stay 0..255), columns 44..155 kept (the centre 112×112),
    // fed as float32 without mean subtraction or scaling. 16 frames (C3D's fc6 expects
    // 512×1×4×4 after pool5). The original Caffe C3D subtracted a per-pixel mean cube at
    // 128×171 in BGR instead; the port's author fed the converted weights as above.
    PreprocessParams p;
    p.resizeHeight = 112, p.resizeWidth = 200;
    p.cropHeight = 112, p.cropWidth = 112;
    p.scale = 1.0f;
    p.mean = {0.0f, 0.0f, 0.0f};
    p.std = {1.0f, 1.0f, 1.0f};
    p.bgr = false;
    all.push_back({"c3d-sports1m", p});
  }
  return all;
}

}  // namespace

std::vector<std::string> preprocessPresetNames() {
  std::vector<std::string> names;
  for (const auto& p : presets()) names.push_back(p.name);
  return names;
}

PreprocessParams preprocessPreset(const std::string& name) {
  std::string known;
  for (const auto& p : presets()) {
    if (name == p.name) return p.params;
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  }
  throw Error(ErrorKind::Usage, "--preset '" + name + "': unknown preset; known presets: " + known);
}

}  // namespace ev
