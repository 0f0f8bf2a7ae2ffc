// The batch index: one CSV row per input, written atomically; shard indexes merged in input order.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "batch/csv.hpp"
#include "explain_video/batch.hpp"
#include "explain_video/error.hpp"
#include "io/atomic_output.hpp"
#include "util/plural.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace {

const char* kHeader = "position,input,status,class_id,class_name,score,frames,windows,seconds,error,shard";

std::string number(double v, int digits) {
  std::ostringstream s;
  s.precision(digits);
  s << v;
  return s.str();
}

}  // namespace

void writeBatchIndex(const std::vector<BatchRow>& rows, const std::string& path) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.tempPath(), std::ios::binary);
    f << kHeader << "\n";
    for (const BatchRow& r : rows)
      f << r.position << "," << csvField(r.input) << "," << r.status << ","
        << (r.classId >= 0 ? std::to_string(r.classId) : "") << "," << csvField(r.className) << ","
        << (r.status == "failed" ? "" : number(r.score, 6)) << "," << r.frames << "," << r.windows << ","
        << number(r.seconds, 4) << "," << csvField(r.error) << "," << r.shard << "\n";
    f.flush();
    if (!f) throw Error(ErrorKind::Output, path + ": cannot write the index");
  }
  out.commit();
}

std::vector<BatchRow> readBatchIndex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Input, path + ": cannot read the index");
  std::string line;
  if (!std::getline(in, line) || line.rfind("position,input,status", 0) != 0)
    throw Error(ErrorKind::Input, path + ": not a batch index (header " + kHeader + ")");
  std::vector<BatchRow> rows;
  std::vector<std::string> c;
  size_t lineNo = 1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty()) continue;
    if (!parseCsvLine(line, c) || c.size() < 11)
      throw Error(ErrorKind::Input, path + ":" + std::to_string(lineNo) + ": malformed index row");
    try {
      BatchRow r;
      r.position = static_cast<size_t>(std::stoull(c[0]));
      r.input = c[1];
      r.status = c[2];
      r.classId = c[3].empty() ? -1 : std::stoi(c[3]);
      r.className = c[4];
      r.score = c[5].empty() ? 0 : std::stod(c[5]);
      r.frames = std::stoll(c[6]);
      r.windows = std::stoll(c[7]);
      r.seconds = std::stod(c[8]);
      r.error = c[9];
      r.shard = c[10];
      rows.push_back(r);
    } catch (const std::exception&) {
      throw Error(ErrorKind::Input, path + ":" + std::to_string(lineNo) + ": malformed index row");
    }
  }
  return rows;
}

std::vector<BatchRow> mergeBatchIndex(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorKind::Input, dir + ": not a folder");
  const std::regex name(R"(index\.shard-(\d+)-of-(\d+)\.csv)");
  std::map<int, std::string> shards;
  int count = -1;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string f = e.path().filename().string();
    if (!std::regex_match(f, m, name)) continue;
    const int k = std::stoi(m[1]), n = std::stoi(m[2]);
    if (count >= 0 && n != count)
      throw Error(ErrorKind::Input, dir + ": shard indexes of different runs (of " + std::to_string(count) + " and of " +
                                        std::to_string(n) + " shards); remove the stale ones");
    count = n;
    shards[k] = e.path().string();
  }
  if (count < 0) throw Error(ErrorKind::Input, dir + ": no shard index (index.shard-K-of-N.csv) to merge");
  std::string missing;
  int nMissing = 0;
  for (int k = 0; k < count; ++k)
    if (!shards.count(k)) missing += (nMissing++ ? ", " : "") + std::to_string(k);
  if (!missing.empty())
    throw Error(ErrorKind::Input, dir + ": " + pluralNoun(nMissing, "shard") + " " + missing + " of " +
                                      std::to_string(count) + (nMissing == 1 ? " has" : " have") +
                                      " no index yet (still running, or failed: rerun them)");
  std::vector<BatchRow> rows;
  for (const auto& [k, path] : shards) {
    std::vector<BatchRow> r = readBatchIndex(path);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  std::sort(rows.begin(), rows.end(), [](const BatchRow& a, const BatchRow& b) { return a.position < b.position; });
  for (size_t i = 1; i < rows.size(); ++i)
    if (rows[i].position == rows[i - 1].position)
      throw Error(ErrorKind::Input, dir + ": input " + std::to_string(rows[i].position) + " (" + rows[i].input +
                                        ") appears in two shard indexes");
  writeBatchIndex(rows, (fs::path(dir) / "index.csv").string());
  return rows;
}

}  // namespace ev
