#include "util/resources.hpp"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace ev {
namespace {

int64_t readNumber(const std::string& path) {  // -1: absent or "max"
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s == "max") return -1;
  try {
    return std::stoll(s);
  } catch (...) {
    return -1;
  }
}

// The cgroup v2 (or v1) memory limit of this process minus what it uses; -1 if none.
int64_t cgroupHeadroom() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (!path.empty()) {
    const std::string d = "/sys/fs/cgroup" + path;
    const int64_t max = readNumber(d + "/memory.max"), cur = readNumber(d + "/memory.current");
    if (max > 0) return std::max<int64_t>(0, max - std::max<int64_t>(cur, 0));
  }
  const int64_t v1 = readNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  const int64_t v1used = readNumber("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  if (v1 > 0 && v1 < (int64_t(1) << 60)) return std::max<int64_t>(0, v1 - std::max<int64_t>(v1used, 0));
  return -1;
}

}  // namespace

int usableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

int64_t availableMemoryBytes() {
  int64_t avail = -1;
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (f >> key >> kb) {
    std::getline(f, unit);
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      break;
    }
  }
  const int64_t cg = cgroupHeadroom();
  if (cg >= 0 && (avail < 0 || cg < avail)) avail = cg;
  return std::max<int64_t>(avail, 0);
}

}  // namespace ev
