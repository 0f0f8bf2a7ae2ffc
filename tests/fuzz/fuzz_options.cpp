// libFuzzer target: the option value parsers, string -> value, of the CLI and the library:
// --mean/--std (cli::parseTriple), --scale (parseScale), --resize/--crop (parseSize), then the
// window and size checks they feed (ev::WindowSampler), --normalize, --spatial, --preset,
// --class (ev::parseClassChoice, with a labels file), --shard (ev::parseShard) and the batch
// index's CSV lines (ev::parseCsvLine). Built by scripts/fuzz.sh only.
// The first byte picks the parser, the rest is the text. Each parser must either refuse with
// ev::Error or return a value that keeps its documented promises (checked below).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "batch/csv.hpp"
#include "cli/cli_common.hpp"
#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "explain_video/explain.hpp"
#include "explain_video/windows.hpp"
#include "pipeline/class_choice.hpp"
#include "pipeline/labels.hpp"

namespace {

[[noreturn]] void broken(const char* what, const std::string& text) {
  std::fprintf(stderr, "fuzz_options: %s (input '%s')\n", what, text.c_str());
  std::abort();
}

// The text's pieces between separators (up to `max`, the last keeps the rest).
std::vector<std::string> split(const std::string& s, char sep, size_t max) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() + 1 < max) {
    const size_t at = s.find(sep, start);
    if (at == std::string::npos) break;
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
  out.push_back(s.substr(start));
  return out;
}

// An int option as Boost gives it (decimal, in range), or a default.
int intOr(const std::string& s, int fallback) {
  if (s.empty() || s.size() > 10) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  return *end == '\0' && v >= INT32_MIN && v <= INT32_MAX ? static_cast<int>(v) : fallback;
}

void windows(const std::string& text) {
  // "RESIZE CROP CLIPLEN STRIDE FRAMESTEP SPATIAL", any piece may be missing.
  const auto f = split(text, ' ', 6);
  ev::PreprocessParams pre;
  ev::WindowParams win;
  if (f.size() > 0 && !f[0].empty()) cli::parseSize("--resize", f[0], pre.resizeHeight, pre.resizeWidth);
  if (f.size() > 1 && !f[1].empty()) cli::parseSize("--crop", f[1], pre.cropHeight, pre.cropWidth);
  if (f.size() > 2) win.clipLen = intOr(f[2], win.clipLen);
  if (f.size() > 3) win.stride = intOr(f[3], win.stride);
  if (f.size() > 4) win.frameStep = intOr(f[4], win.frameStep);
  if (f.size() > 5) pre.spatial = ev::parseSpatial(f[5]);
  ev::WindowSampler sampler(pre, win);  // the checks every command runs before any work
  if (win.clipLen < 1 || win.clipLen > ev::kMaxClipLen) broken("clip length out of bounds accepted", text);
  for (int side : {pre.resizeHeight, pre.resizeWidth, pre.cropHeight, pre.cropWidth})
    if (side < 1 || side > ev::kMaxFrameSide) broken("frame side out of bounds accepted", text);
  const auto crops = ev::cropGeometries(320, 240, pre);
  if (crops.empty()) broken("no crop", text);
  for (const ev::CropGeometry& g : crops)
    if (g.cropX < 0 || g.cropY < 0 || g.cropX + g.cropWidth > g.resizeWidth || g.cropY + g.cropHeight > g.resizeHeight)
      broken("crop outside the resized frame", text);
  if (win.stride > win.span()) return;  // refused before any work by ev::explainVideo (explainer.cpp)
  for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{1000}}) {
    const auto starts = ev::windowStarts(n, win);
    if (starts.empty()) broken("no window", text);
    int64_t covered = 0;
    for (size_t i = 0; i < starts.size(); ++i) {
      if (starts[i] < 0 || (i > 0 && starts[i] <= starts[i - 1])) broken("window starts not increasing", text);
      if (starts[i] > covered) broken("frames left without a window", text);
      covered = std::max(covered, starts[i] + win.span());
    }
    if (covered < n) broken("the last frames have no window", text);
  }
}

void classes(const std::string& text) {
  // "SPEC\0LABELS FILE"
  const auto f = split(text, '\0', 2);
  std::vector<std::string> labels;
  if (f.size() > 1 && !f[1].empty()) {
    try {
      labels = ev::parseLabels(f[1], "labels.txt");
    } catch (const ev::Error&) {
    }
  }
  const ev::ClassChoice c = ev::parseClassChoice(f[0], labels, "labels.txt");
  if (c.isFixed()) {
    for (size_t i = 0; i < c.fixed.size(); ++i) {
      if (c.fixed[i] < 0) broken("negative class id", text);
      for (size_t j = 0; j < i; ++j)
        if (c.fixed[j] == c.fixed[i]) broken("a class twice", text);
    }
  } else if (c.topK < 1 || c.topK > 100000) {
    broken("topK out of bounds", text);
  }
  for (size_t n : {size_t{3}, size_t{12}}) {
    std::vector<float> logits(n);
    for (size_t i = 0; i < n; ++i) logits[i] = static_cast<float>((i * 7) % 5);
    bool clipped = false;
    const auto chosen = c.resolve(logits, &clipped);
    if (!c.isFixed()) {
      if (chosen.size() != std::min(n, static_cast<size_t>(c.topK))) broken("topK gave the wrong count", text);
      for (int k : chosen)
        if (k < 0 || static_cast<size_t>(k) >= n) broken("topK gave a class the model has not", text);
      for (int k : c.candidates(logits))
        if (k < 0 || static_cast<size_t>(k) >= n) broken("a candidate the model has not", text);
    }
  }
}

void parse(uint8_t which, const std::string& text) {
  switch (which % 10) {
    case 0:
    case 1: {
      const bool isStd = which % 2;
      const auto v = cli::parseTriple(isStd ? "--std" : "--mean", text, isStd);
      for (float x : v) {
        if (!std::isfinite(x)) broken("a non-finite mean/std accepted", text);
        if (isStd && !(x > 0)) broken("a std that is not positive accepted", text);
      }
      break;
    }
    case 2: {
      const float s = cli::parseScale("--scale", text);
      if (!(s > 0) || !std::isfinite(s)) broken("a scale that is not positive and finite accepted", text);
      break;
    }
    case 3: {
      int h = 0, w = 0;
      cli::parseSize("--resize", text, h, w);
      if (h <= 0 || w <= 0) broken("a size that is not positive accepted", text);
      int h2 = 0, w2 = 0;
      cli::parseSize("--resize", std::to_string(h) + "x" + std::to_string(w), h2, w2);
      if (h2 != h || w2 != w) broken("size does not read back", text);
      break;
    }
    case 4:
      if (ev::normalizeName(ev::parseNormalize(text)) != text) broken("normalize name does not round-trip", text);
      break;
    case 5:
      if (ev::spatialName(ev::parseSpatial(text)) != text) broken("spatial name does not round-trip", text);
      break;
    case 6: {
      ev::preprocessPreset(text);
      bool known = false;
      for (const std::string& n : ev::preprocessPresetNames()) known = known || n == text;
      if (!known) broken("an unknown preset accepted", text);
      break;
    }
    case 7: {
      const ev::ShardSpec s = ev::parseShard(text);
      if (s.count < 1 || s.index < 0 || s.index >= s.count) broken("a shard outside 0 <= K < N accepted", text);
      if (ev::parseShard(s.name()).name() != s.name()) broken("shard does not round-trip", text);
      break;
    }
    case 8: {
      std::vector<std::string> cells, again;
      if (!ev::parseCsvLine(text, cells)) break;  // an unterminated quote: refused
      bool plain = cells.size() > 1 || (cells.size() == 1 && !cells[0].empty());
      for (const std::string& c : cells) plain = plain && c.find_first_of("\r\n") == std::string::npos;
      if (!plain) break;  // csvField writes line breaks as spaces; a lone empty cell writes nothing
      std::string line;
      for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + ev::csvField(cells[i]);
      if (!ev::parseCsvLine(line, again) || again != cells) broken("CSV cells do not round-trip", text);
      break;
    }
    case 9:
      if (which & 0x10)
        classes(text);
      else
        windows(text);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    parse(data[0], text);
  } catch (const ev::Error& e) {
    const bool classProblem = e.kind() == ev::ErrorKind::Model && data[0] % 10 == 9 && (data[0] & 0x10);
    if (e.kind() != ev::ErrorKind::Usage && !classProblem) broken("error of an unexpected kind", text);
  }
  return 0;
}
