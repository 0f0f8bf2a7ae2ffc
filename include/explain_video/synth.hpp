// A synthetic action benchmark with frame-level ground truth: short clips in which one object
// (the actor) performs one of eight motions, among distractors that do not, on a textured,
// noisy, slightly shaking background. Every clip is a pure function of (class id, seed,
// params): the same inputs give the same frames, the same JSON and (on the same machine and
// FFmpeg build) the same MP4 bytes. docs/benchmark.md describes the classes, the choices and the
// ground-truth JSON field by field.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "explain_video/video.hpp"

namespace ev {

struct SynthParams {
  int width = 160;            // frame size in pixels, 64..4096 x 48..4096
  int height = 120;
  int frames = 24;            // frames per clip, 8..1000
  int fpsNum = 25;            // frame rate (frames per second), 1..1000
  double partialShare = 0.5;  // share of clips whose action covers only a sub-range of frames
  int maxStatic = 3;          // static distractors: 1..maxStatic per clip (0: none), 0..8
  bool distractorMover = true;// a second object that jitters in place (never performs an action)
  double noise = 6.0;         // per-pixel noise, standard deviation in 8-bit levels, 0..64
  int jitter = 1;             // camera shake: whole-frame shift of up to ±jitter px per axis, 0..8
  int instancesMin = 1;       // actors performing the class's action: a number drawn per clip in
  int instancesMax = 1;       // instancesMin..instancesMax, 1..kMaxSynthInstances (--instances N or A-B)
};

constexpr int kMaxSynthInstances = 4;

// A pixel rectangle [x, x+w) × [y, y+h); w == 0 means "nothing drawn".
struct Box {
  int x = 0, y = 0, w = 0, h = 0;
  bool empty() const { return w <= 0 || h <= 0; }
  bool operator==(const Box& o) const { return x == o.x && y == o.y && w == o.w && h == o.h; }
  bool operator!=(const Box& o) const { return !(*this == o); }
};

struct SynthDistractor {
  std::string kind;          // "static" or "jitter"
  std::string shape, colour;
  std::vector<Box> boxes;    // per frame, tight, in frame coordinates (after camera shake)
};

// One of several actors (SynthParams::instancesMax > 1): the same class's action with its own
// appearance, action range, size and position.
struct SynthInstance {
  std::string shape, colour;
  uint8_t rgb[3] = {0, 0, 0};
  int actionStart = 0, actionEnd = 0;     // frames [actionStart, actionEnd) in which it acts
  std::map<std::string, double> motion;
  std::vector<Box> boxes;                 // per frame, tight
  std::vector<std::vector<uint8_t>> masks;  // per frame, height*width bytes, 1 = this instance
};

struct ClipTruth {
  int classId = -1;
  std::string className;
  uint64_t seed = 0;
  SynthParams params;        // size, frames, fps...: with classId and seed, reproduces the clip
  int actionStart = 0;       // the action changes the actor in frames [actionStart, actionEnd)
  int actionEnd = 0;
  bool partial = false;      // the action does not span the whole clip
  std::string shape, colour; // the actor's
  uint8_t rgb[3] = {0, 0, 0};// the actor's colour as drawn (before noise and compression)
  std::string background;    // "smooth", "stripes" or "gradient"
  std::map<std::string, double> motion;  // the class's motion parameters (docs/benchmark.md)
  std::vector<Box> actorBoxes;           // per frame, tight around the drawn actor
  std::vector<std::vector<uint8_t>> actorMasks;  // per frame, height*width bytes, 1 = actor
  std::vector<std::pair<int, int>> camera;       // per frame (dx, dy): the whole-frame shift
  std::vector<SynthDistractor> distractors;
  // With SynthParams::instancesMax > 1: every actor (the first is the one shape, colour and
  // motion above describe); actorBoxes and actorMasks are then the union of theirs, and
  // actionStart..actionEnd the union of their action ranges. Empty for single-actor clips.
  std::vector<SynthInstance> instances;
};

struct SynthClip {
  std::vector<Frame> frames;  // RGB24, width*height*3 each, index and time set
  ClipTruth truth;
};

// The class names in class-id order: move_left, move_right, move_up, move_down, grow, shrink,
// rotate, bounce.
const std::vector<std::string>& synthClassNames();

// Throws ev::Error(Usage) naming the option ("--width", "--partial-share", ...) if a value is
// out of range.
void validateSynthParams(const SynthParams& params);

// Renders one clip in memory. classId in 0..7.
SynthClip renderSynthClip(int classId, uint64_t seed, const SynthParams& params = {});

// Writes the clip as H.264 MP4 (crf 18, preset veryfast) and its ground truth as JSON. Each file
// is written under a temporary name and renamed when complete. Errors: Output.
void writeSynthClip(const SynthClip& clip, const std::string& mp4Path, const std::string& jsonPath);

// Reads a ground-truth JSON written by writeSynthClip (masks are decoded to full frames).
// Errors: Input "<path>: <problem>".
ClipTruth readClipTruth(const std::string& jsonPath);

// The clips of a split: clip i has class i % 8 and seed synthClipSeed(splitSeed, i).
struct SynthClipSpec {
  int index = 0;
  int classId = 0;
  uint64_t seed = 0;
  std::string stem;  // "clip_000123"
};
// splitSeed = splitmix64(baseSeed ^ fnv1a64(split)) (docs/benchmark.md).
uint64_t synthSplitSeed(uint64_t baseSeed, const std::string& split);
uint64_t synthClipSeed(uint64_t splitSeed, int index);
// Usage errors for a bad split name (letters, digits, '_', '-', '.'; not starting with '.') or
// clipsPerClass < 1.
std::vector<SynthClipSpec> synthSplitPlan(const std::string& split, int clipsPerClass, uint64_t baseSeed);

// Writes <dir>/<split>/clip_NNNNNN.mp4 + .json for every clip of synthSplitPlan, then
// <dir>/<split>/labels.txt and, last, <dir>/<split>/index.json. <dir> and <dir>/<split> are
// created if missing (the parent of <dir> must exist). progress(done, total) is called after
// each clip. Returns the number of clips written.
using SynthProgress = std::function<void(int done, int total)>;
int writeSynthSplit(const std::string& dir, const std::string& split, int clipsPerClass,
                    uint64_t baseSeed, const SynthParams& params = {},
                    const SynthProgress& progress = nullptr);

}  // namespace ev
