// Objective evaluation of the explanations (the Grad-CAM++ paper's Section 6 on videos, plus
// deletion/insertion and, with ground truth, localisation in space and time). docs/eval.md
// defines every number exactly.
//
// Two layers: pure metric functions on plain data (testable without a model), and the driver
// that runs the main command's pipeline on each clip and feeds the metrics.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "explain_video/cam.hpp"
#include "explain_video/volume.hpp"
#include "explain_video/windows.hpp"

namespace ev {

// ---------------------------------------------------------------- pure metric functions

// Softmax of `logits` at class c (computed in double, max-subtracted).
double softmaxScore(const std::vector<float>& logits, int c);

// A window's relative drop max(0, Y − O) / Y; 0 when Y <= 0.
double relativeDrop(double Y, double O);
// O / Y; 1 when Y <= 0.
double relativeConfidence(double Y, double O);

// 100/N · Σ max(0, Y−O)/Y. Y and O have one entry per window. 0 for N = 0.
double averageDrop(const std::vector<double>& Y, const std::vector<double>& O);
// 100/N · Σ 1[Y < O]. 0 for N = 0.
double increaseInConfidence(const std::vector<double>& Y, const std::vector<double>& O);
// 100/N · Σ (1[dropA < dropB] + ½·1[dropA == dropB]): Win(A,B) + Win(B,A) = 100. 0 for N = 0.
// Drops within `tieTolerance` of each other are equal: two methods whose maps agree up to float
// rounding (e.g. a one-channel layer, where Grad-CAM and Grad-CAM++ coincide) tie instead of
// one winning every window on noise.
constexpr double kWinTieTolerance = 1e-6;
double winPercent(const std::vector<double>& dropA, const std::vector<double>& dropB,
                  double tieTolerance = kWinTieTolerance);

// The explanation map of a window: the CAM volume (T'×H'×W') upsampled trilinearly to T×H×W
// between the layer's cell centres (as the explain command draws it; empty: even tiling) and
// divided by its maximum (an all-zero map stays zero).
Volume explanationMap(const Volume& cam, int64_t T, int64_t H, int64_t W, const CellCentres& centres = {});

// The q-quantile (q in [0,1]) of all values of `v`, linear interpolation between the sorted
// values at position q·(n−1) (NumPy's default; q = 0.5: the median). 0 for no values.
double quantile(const Volume& v, double q);
double quantile(std::vector<double> values, double q);

// The map with values below its θ-quantile set to 0 (values at or above it kept unchanged).
Volume thresholdMap(const Volume& map, double theta);

// Applies a [0,1] map (T×H×W) to a normalised model input (1×3×T×H×W) in pixel space:
// E = (L·v·scale − mean_c)/std_c for pixel value v, computed as L·I + (L − 1)·mean_c/std_c from
// the normalised input I (exactly I where L = 1; black, −mean_c/std_c, where L = 0).
Volume maskInput(const Volume& normalisedInput, const Volume& map01, const PreprocessParams& pre);

// Baselines for deletion and insertion (same shape as the input, 1×3×T×H×W, normalised units).
// Deletion: the per-channel mean colour, i.e. 0 after normalisation.
Volume meanColourBaseline(const Volume& normalisedInput);
// Insertion: every frame and channel box-blurred with a kernel×kernel window (replicated
// borders). kernel <= 0 picks the default: 2·⌊min(H, W)/8⌋ + 1 (29 for 112×112, about ¼ of it).
Volume blurBaseline(const Volume& normalisedInput, int kernel = 0);
int defaultBlurKernel(int64_t H, int64_t W);

// The T×H×W voxel indices (row-major) ordered by map value, largest first, ties by index.
std::vector<int64_t> saliencyOrder(const Volume& map);

// Deletion: start from the input; at step k = 1..steps the voxels of saliency rank
// [⌊(k−1)·N/steps⌋, ⌊k·N/steps⌋) get the baseline's values (all 3 channels). Insertion: start
// from the baseline and put the original back in the same order. Returns steps+1 scores
// (after 0, 1, …, steps steps). `map` is T×H×W, input and baseline 1×3×T×H×W.
using ScoreFn = std::function<double(const Volume&)>;
std::vector<double> deletionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                  const ScoreFn& score);
std::vector<double> insertionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                   const ScoreFn& score);

// The same curves scoring `batch` inputs per call (one forward pass each), without scoring the
// unperturbed input again: deletion starts, and insertion ends, at `inputScore` (Y).
using BatchScoreFn = std::function<std::vector<double>(const std::vector<const Volume*>&)>;
std::vector<double> deletionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                  const BatchScoreFn& score, int batch, double inputScore);
std::vector<double> insertionCurve(const Volume& input, const Volume& map, int steps, const Volume& baseline,
                                   const BatchScoreFn& score, int batch, double inputScore);

// Trapezoid area under equally spaced samples over [0,1] (curve.size() − 1 intervals).
// 0 for fewer than 2 samples.
double auc(const std::vector<double>& curve);

// θ values of the threshold curve: steps values equally spaced over [0,1] (steps >= 2), or {0}
// for steps == 1.
std::vector<double> curveThetas(int steps);

// ---------------------------------------------------------------- the driver

struct EvalParams {
  std::vector<std::string> inputs;  // video files and/or folders (index.json, or every video)
  std::string model;
  std::string layer;                // empty: the model's last 5D submodule
  std::string modelOutput;          // which output holds the logits ("": the first tensor)
  std::vector<std::string> methods{"gradcam++", "gradcam"};  // registered names (camMethods())
  bool skipUnavailable = false;     // drop (with a warning) methods the model cannot run: --methods all
  PerturbationParams perturbation;  // seed and sample counts of the perturbation methods
  std::string classSpec;            // empty: top-1 of the mean logits (as the main command)
  std::string labelsFile;
  bool classFromTruth = false;      // use the ground-truth class when the clip has one
  PreprocessParams preprocess;
  WindowParams windows;
  int curveSteps = 11;              // threshold-curve θ values; 0: no curve
  int delSteps = 16;                // deletion/insertion steps; 0: none
  int blurKernel = 0;               // insertion baseline; 0: defaultBlurKernel
  double pointingTolerance = 0.1;   // dilation of the actor box, share of frame width/height
  double iouThreshold = 0.5;        // share of the frame's maximum
  // Several instances (ground truth with 2+ instances): an instance is found in a frame when its
  // box, grown by instanceTolerance x the frame's width/height, holds a local maximum of the map of
  // at least instancePeak x the frame's maximum (docs/eval.md).
  double instanceTolerance = 0.025;
  double instancePeak = 0.5;
  int threads = 0;
  int batchSize = 0;                // inputs per forward pass (windows, and masked inputs); 0: kDefaultBatchSize
  std::string device = "cpu";
  // Evaluate only the clips of this shard (clip i of listEvalClips goes to shard i mod N); the
  // shards' JSON outputs join with mergeEvalShards. Unsharded by default.
  int shardIndex = 0, shardCount = 1;
  std::string shardSource;          // how the shard was chosen ("--shard", "SLURM_ARRAY_TASK_ID", ...)
};

// The list of clips the inputs name: files as given, folders expanded (index.json order, else
// every .mp4/.avi/.mkv/.mov/.webm/.m4v sorted by name), manifests (.csv with a path column, .txt
// one path a line; as batch reads them). Errors: Input (missing path, empty folder).
std::vector<std::string> listEvalClips(const std::vector<std::string>& inputs);

struct WindowEval {
  std::string clip;
  int64_t window = 0, firstFrame = 0, lastFrame = 0;
  int classId = -1;
  double Y = 0, O = 0, drop = 0;
  std::vector<double> thresholdConf;  // O_θ/Y per θ
  std::vector<double> deletion, insertion;
  double deletionAuc = 0, insertionAuc = 0;
};

struct ClipLocalization {
  bool valid = false;          // the clip had ground truth
  int actionFrames = 0;        // frames in [actionStart, actionEnd) with an actor box
  int pointingHits = 0;
  double heatInBoxSum = 0, iouSum = 0;  // sums over those frames
  double heatInRange = 0;      // Σ heat in the action range / Σ heat
  bool partial = false;
  // Several instances (truth listing 2 or more; docs/eval.md), over the clip's frames:
  int instances = 0;                   // in the truth (0: a single-actor clip)
  int instancePairs = 0;               // (frame, acting instance) pairs
  int instancesFound = 0;              // of those, found (InstanceScores::found)
  int instanceFrames = 0;              // frames with 2+ acting instances and heat in their boxes
  std::vector<double> shareByRankSum;  // per rank k (strongest first): Σ over frames of the share
  std::vector<int> shareByRankFrames;  // frames with a k-th instance
  double giniSum = 0;                  // Σ over instanceFrames of the Gini of the instances' heat
};

struct ClipEval {
  std::string clip;
  size_t position = 0;         // in listEvalClips (over all shards)
  int classId = -1;            // the explained class
  int truthClass = -1;         // -1 without ground truth
  int frames = 0, windows = 0;
  double seconds = 0;
  std::map<std::string, ClipLocalization> localization;  // by method name
};

struct MethodEval {
  std::string method;
  std::vector<WindowEval> windows;
  double averageDrop = 0, increaseInConfidence = 0;
  std::map<std::string, double> win;      // vs every other method
  std::vector<double> thresholdCurve;     // mean O/Y per θ
  // Median O/Y per θ: robust where a few windows with a tiny Y (the class absent) give O/Y
  // ratios in the thousands that swamp the mean.
  std::vector<double> thresholdCurveMedian;
  std::vector<double> deletionCurve, insertionCurve;  // mean per step
  double deletionAuc = 0, insertionAuc = 0;           // mean of the windows' AUCs
  // Localisation (clips with ground truth), pooled over action frames; heat in range averaged
  // over clips. Negative: no ground truth.
  int locClips = 0, locFrames = 0, locPartialClips = 0;
  double pointing = -1, heatInBox = -1, iou = -1, heatInRange = -1, heatInRangePartial = -1;
  // Several instances, pooled over clips whose truth lists 2+ (negative: none). Recall and the
  // shares in percent; shareByRank[k]: mean share of the heat in the instances' boxes on the
  // (k+1)-th strongest instance.
  int instanceClips = 0, instancePairs = 0, instanceFrames = 0;
  double instanceRecall = -1, instanceGini = -1;
  std::vector<double> instanceShareByRank;
};

struct EvalResult {
  EvalParams params;
  std::string layer;
  std::vector<double> thetas;  // the threshold curve's x axis
  std::vector<ClipEval> clips;
  std::vector<MethodEval> methods;
  std::vector<std::string> warnings;  // e.g. methods left out of --methods all
  int64_t totalWindows() const;
  double secondsTotal = 0;
  int64_t forwardPasses = 0;  // inputs scored by the metrics (each window's Y included)
};

struct EvalProgress {
  std::string stage;  // "eval passes"
  int64_t done = 0, total = 0;  // forward passes done, and estimated in all
  double seconds = 0;
  std::string note;   // "clip 3/10"
};
using EvalProgressFn = std::function<void(const EvalProgress&)>;

// Runs everything. Errors: Usage (bad parameters), Input (missing or unreadable clip, ground
// truth of another size), Model.
EvalResult runEvaluation(const EvalParams& params, const EvalProgressFn& progress = {});

// Fills the aggregates of result.methods from their windows and result.clips (called by
// runEvaluation; exposed for tests).
void aggregateEval(EvalResult& result);

// Joins the `--json` outputs of the shards of one eval run (all shards of one N, the same
// model, layer, methods and options) into the result one unsharded run gives: clips and windows
// in the unsharded order, every aggregate recomputed from the per-window records. Errors: Input
// (unreadable file, not an eval JSON, missing or repeated shards, shards of different runs).
EvalResult mergeEvalShards(const std::vector<std::string>& jsonFiles);

// Outputs. Each is written under a temporary name and moved into place when complete.
std::string formatEvalTable(const EvalResult& r);
void writeEvalJson(const EvalResult& r, const std::string& path);
// windows.csv, clips.csv, summary.csv, threshold_curve.csv, deletion.csv, insertion.csv
void writeEvalCsv(const EvalResult& r, const std::string& dir);
// threshold_curve.png, deletion.png, insertion.png
void writeEvalPlots(const EvalResult& r, const std::string& dir);

// A line plot (PNG) with axes, ticks, axis titles and a legend; one colour per series.
struct PlotSeries {
  std::string name;
  std::vector<double> y;
};
// xTickLabels: one name per x value, written vertically under its tick (instead of numbers).
// The y axis spans [min(yMin, the data), max(1, the data)].
void writeLinePlot(const std::string& path, const std::string& title, const std::string& xTitle,
                   const std::string& yTitle, const std::vector<double>& x, const std::vector<PlotSeries>& series,
                   const std::vector<std::string>& xTickLabels = {}, double yMin = 0);

}  // namespace ev
