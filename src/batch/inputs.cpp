// The list of videos a batch (or eval) run covers: files, folders, manifests; output names that
// cannot collide.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "batch/csv.hpp"
#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool isVideoPath(const fs::path& p) {
  const std::string e = lower(p.extension().string());
  const auto& ex = videoExtensions();
  return std::find(ex.begin(), ex.end(), e) != ex.end() && p.filename().string().find(".explained.") == std::string::npos;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct Item {
  std::string path, classSpec;
};

void addFolder(const std::string& dir, std::vector<Item>& out) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Our own per-video raw folders hold no videos; skip them quickly.
    if (it->is_directory(ec) && it->path().extension() == ".raw") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && isVideoPath(it->path())) found.push_back(it->path().string());
  }
  if (ec) throw Error(ErrorKind::Input, dir + ": cannot list the folder (" + ec.message() + ")");
  std::sort(found.begin(), found.end());
  if (found.empty()) throw Error(ErrorKind::Input, dir + ": folder has no video files (" + std::to_string(videoExtensions().size()) + " extensions tried, e.g. .mp4 .avi .mkv)");
  for (auto& f : found) out.push_back({f, ""});
}

std::string resolveAgainst(const fs::path& base, const std::string& p) {
  const fs::path q(p);
  return (q.is_absolute() ? q : base / q).lexically_normal().string();
}

void addManifest(const std::string& file, std::vector<Item>& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorKind::Input, file + ": cannot read the manifest");
  const fs::path base = fs::path(file).parent_path();
  const bool csv = lower(fs::path(file).extension().string()) == ".csv";
  std::string line;
  size_t lineNo = 0;
  size_t pathCol = 0, classCol = std::string::npos;
  bool header = csv;
  size_t bytes = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    bytes += line.size() + 1;
    if (bytes > (256u << 20)) throw Error(ErrorKind::Input, file + ": manifest larger than 256 MB");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!csv) {
      if (line[0] == '#') continue;
      out.push_back({resolveAgainst(base, line), ""});
      continue;
    }
    std::vector<std::string> cells;
    if (!parseCsvLine(line, cells))
      throw Error(ErrorKind::Input, file + ":" + std::to_string(lineNo) + ": unbalanced quotes");
    if (header) {
      header = false;
      pathCol = std::string::npos;
      for (size_t i = 0; i < cells.size(); ++i) {
        const std::string c = lower(cells[i]);
        if (c == "path") pathCol = i;
        if (c == "class") classCol = i;
      }
      if (pathCol == std::string::npos)
        throw Error(ErrorKind::Input, file + ": a manifest needs a header line with a 'path' column (and optionally 'class')");
      continue;
    }
    if (pathCol >= cells.size() || cells[pathCol].empty())
      throw Error(ErrorKind::Input, file + ":" + std::to_string(lineNo) + ": no path");
    out.push_back({resolveAgainst(base, cells[pathCol]), classCol < cells.size() ? cells[classCol] : ""});
  }
}

}  // namespace

const std::vector<std::string>& videoExtensions() {
  static const std::vector<std::string> e = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg",  ".mpeg", ".flv",
                                             ".wmv", ".3gp", ".ts",  ".mts", ".m2ts", ".ogv", ".vob", ".asf",  ".y4m"};
  return e;
}

std::vector<BatchInput> listBatchInputs(const std::vector<std::string>& inputs) {
  std::vector<Item> items;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      addFolder(in, items);
      continue;
    }
    const std::string ext = lower(fs::path(in).extension().string());
    if (ext == ".csv" || ext == ".txt") {
      if (!fs::exists(in, ec)) throw Error(ErrorKind::Input, in + ": manifest does not exist");
      addManifest(in, items);
      continue;
    }
    items.push_back({in, ""});  // a missing or broken video is that video's failure, not the run's
  }
  std::vector<BatchInput> out;
  std::set<std::string> seen;
  std::map<std::string, int> stems;
  for (const Item& it : items) {
    if (!seen.insert(it.path).second) continue;
    BatchInput b;
    b.position = out.size();
    b.path = it.path;
    b.classSpec = it.classSpec;
    b.name = fs::path(it.path).stem().string();
    if (b.name.empty()) b.name = "video";
    ++stems[b.name];
    out.push_back(b);
  }
  for (BatchInput& b : out)
    if (stems[b.name] > 1) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(b.path)));
      b.name += std::string("-") + std::string(hex).substr(0, 8);
    }
  return out;
}

}  // namespace ev
