// Small pieces of the main job's interface: names, labels, default paths (torch-free: the
// fuzz targets build it alone; the layer table is in list_layers.cpp).
#include "explain_video/explain.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "explain_video/error.hpp"
#include "pipeline/labels.hpp"

namespace fs = std::filesystem;

namespace ev {

Normalize parseNormalize(const std::string& name) {
  for (const Normalize n : {Normalize::Video, Normalize::VideoMax, Normalize::Window, Normalize::Frame})
    if (name == normalizeName(n)) return n;
  throw Error(ErrorKind::Usage, "unknown --normalize '" + name + "': choose video, video-max, window or frame");
}

std::string normalizeName(Normalize n) {
  switch (n) {
    case Normalize::Video: return "video";
    case Normalize::VideoMax: return "video-max";
    case Normalize::Window: return "window";
    case Normalize::Frame: return "frame";
  }
  return "video";
}

std::vector<std::string> normalizeNames() { return {"video", "video-max", "window", "frame"}; }

std::string defaultOutputPath(const std::string& input) {
  const fs::path in(input);
  return (in.parent_path() / (in.stem().string() + ".explained.mp4")).string();
}

std::string taggedPath(const std::string& path, const std::string& tag) {
  const fs::path p(path);
  const std::string ext = p.extension().string();
  return (p.parent_path() / (p.stem().string() + "." + tag + ext)).string();
}

std::vector<std::string> readLabels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Usage, path + ": cannot read labels file");
  // Read with a bound: a labels file is small, /dev/zero or a video given by mistake is not.
  // In chunks, so a small file costs its size, not the bound.
  constexpr size_t kMaxBytes = 16u << 20;
  std::string text;
  std::array<char, 1 << 16> chunk;
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxBytes) throw Error(ErrorKind::Usage, path + ": labels file larger than 16 MiB");
  }
  if (in.bad()) throw Error(ErrorKind::Usage, path + ": cannot read labels file");
  return parseLabels(text, path);
}

std::vector<std::string> parseLabels(const std::string& text, const std::string& path) {
  std::istringstream lines(text);
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(lines, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.empty()) throw Error(ErrorKind::Usage, path + ": labels file is empty");
  return labels;
}

}  // namespace ev
