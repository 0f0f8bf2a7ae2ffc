// Training data: a synth split decoded and preprocessed once, cached compactly in memory as
// uint8 crops (model channel order), plus the seeded sampling of data order and window starts.
// No torch types here (the torch-using translation units build tensors from these bytes).
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "explain_video/windows.hpp"

namespace ev {
namespace trainimpl {

struct ClipRecord {
  std::string stem;            // "clip_000012"
  std::string video, truth;    // absolute-ish paths (split folder / file name)
  int classId = 0;
  int actionStart = 0, actionEnd = 0;  // [start, end) in frames
  int frames = 0;              // decoded frame count
  std::vector<uint8_t> pixels; // frames × 3 × H × W, resized + centre-cropped, model channel order
};

struct SplitData {
  std::string dir;
  std::vector<std::string> classNames;
  std::vector<ClipRecord> clips;
  int height = 0, width = 0;   // crop size
  size_t frameBytes() const { return static_cast<size_t>(3) * height * width; }
  // The cached crop of frame t (clamped to the last frame: short clips repeat it, as the
  // explain pipeline pads).
  const uint8_t* frame(const ClipRecord& c, int64_t t) const {
    if (t >= c.frames) t = c.frames - 1;
    return c.pixels.data() + static_cast<size_t>(t) * frameBytes();
  }
  size_t bytes() const;
};

// Reads <dir>/index.json (and labels.txt when present), decodes every clip with VideoReader and
// preprocesses every frame with WindowSampler::preprocess (resize, centre crop, channel order of
// `pre`; no scaling/normalisation: those are applied per batch). `threads` decoders in parallel.
// Errors: Input "<dir>: ..." / "<clip>: ...".
SplitData loadSplit(const std::string& dir, const PreprocessParams& pre, int threads,
                    const std::function<void(int done, int total)>& progress = nullptr);

// Per-channel affine map of cached byte values to the model input, exactly as
// WindowSampler::preprocess computes it: value × a[c] + b[c].
struct Normalisation {
  float a[3], b[3];
};
Normalisation normalisationOf(const PreprocessParams& pre);

// Writes the model input of one window, 3×clipLen×H×W floats (channel-major, as the model's
// N×3×T×H×W input), of clip `clip` starting at frame `start`: byte × a[c] + b[c], bit-identical
// to the explain pipeline's window. Frames past the clip's end repeat its last frame.
void fillWindow(const SplitData& data, int clip, int64_t start, int clipLen, const Normalisation& norm, float* out);

// Training window starts for a clip: every start in [0, frames-clipLen] whose window overlaps
// the action [actionStart, actionEnd) by at least min(clipLen, actionEnd-actionStart, 8)
// frames; {0} for clips of at most clipLen frames; all starts if none qualifies.
std::vector<int64_t> trainingStarts(int64_t frames, int clipLen, int actionStart, int actionEnd);

uint64_t splitmix64(uint64_t x);

// std::mt19937_64 (its sequence is fixed by the standard) with our own mapping to a range:
// std::*_distribution and std::shuffle are implementation-defined.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  uint64_t below(uint64_t n) { return n ? gen_() % n : 0; }  // in [0, n)

 private:
  std::mt19937_64 gen_;
};

// The seeds of epoch `epoch` (0-based) of a run with `seed`: data order/window starts, and the
// torch generator (dropout). Pure functions: the same seed gives the same data in every run.
uint64_t epochDataSeed(uint64_t seed, int epoch);
uint64_t epochTorchSeed(uint64_t seed, int epoch);

// The epoch's sample plan: clip order and, per position, the window start.
struct EpochPlan {
  std::vector<int> order;
  std::vector<int64_t> starts;
};
EpochPlan planEpoch(const SplitData& data, int clipLen, uint64_t seed, int epoch);

}  // namespace trainimpl
}  // namespace ev
