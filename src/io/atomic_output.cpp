#include "io/atomic_output.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>

#include "explain_video/error.hpp"
#include "util/temporaries.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace {

std::string parentOf(const std::string& path) {
  const fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}

// ".partial-" and six characters of mkstemp's alphabet.
bool partialTag(const std::string& s, size_t at) {
  static const std::string tag = ".partial-";
  if (s.compare(at, tag.size(), tag) != 0 || s.size() < at + tag.size() + 6) return false;
  return std::all_of(s.begin() + static_cast<long>(at + tag.size()), s.begin() + static_cast<long>(at + tag.size() + 6),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// `.NAME.partial-XXXXXX[.ext]`, the temporary of an AtomicOutput.
bool isPartialFileName(const std::string& n) {
  if (n.size() < 2 || n[0] != '.') return false;
  for (size_t at = n.find(".partial-", 1); at != std::string::npos; at = n.find(".partial-", at + 1))
    if (partialTag(n, at)) return true;
  return false;
}

// `.partial-XXXXXX`, the staging folder of an AtomicOutputDir.
bool isStagingName(const std::string& n) { return n.size() == 15 && partialTag(n, 0); }

// Takes `fd`'s lock if nobody holds it. EWOULDBLOCK: a live process holds it; another error
// (ENOLCK on a file system without locks): unknown, treated as held.
bool lockIfFree(int fd) { return ::flock(fd, LOCK_EX | LOCK_NB) == 0; }

// Removes the temporaries in `dir` that no live process holds (a run killed outright). Once per
// directory and process: a batch writing thousands of outputs into one folder reads it once.
void sweep(const std::string& dir) {
  std::error_code ec;
  {
    static std::mutex m;
    static std::set<std::string> swept;
    std::lock_guard<std::mutex> lock(m);
    if (!swept.insert(fs::weakly_canonical(dir, ec).string()).second) return;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool file = isPartialFileName(name) && e.is_regular_file(ec);
    const bool staging = !file && isStagingName(name) && e.is_directory(ec);
    if (!file && !staging) continue;
    const int fd = ::open(e.path().c_str(), (staging ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    if (lockIfFree(fd)) {
      std::error_code rec;
      if (staging)
        fs::remove_all(e.path(), rec);
      else
        fs::remove(e.path(), rec);
    }
    ::close(fd);  // releases the lock
  }
}

// Locks a freshly created temporary; false if it is no longer the file at `path` (a sweep by
// another run removed it in the instant before the lock: make a new one).
bool lockOwn(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno != ENOLCK && errno != EOPNOTSUPP) return false;
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

AtomicOutput::AtomicOutput(const std::string& target, const std::string& suffix) : target_(target) {
  const fs::path t(target);
  std::error_code ec;
  if (fs::is_directory(t, ec)) throw Error(ErrorKind::Output, target + ": is a directory, not a file name");
  const std::string parent = parentOf(target);
  if (!fs::is_directory(parent, ec))
    throw Error(ErrorKind::Output, target + ": output directory '" + parent + "' does not exist");
  sweep(parent);
  for (int attempt = 0;; ++attempt) {
    std::string tmpl = (fs::path(parent) / ("." + t.filename().string() + ".partial-XXXXXX" + suffix)).string();
    const int fd = mkstemps(tmpl.data(), static_cast<int>(suffix.size()));
    if (fd < 0)
      throw Error(ErrorKind::Output, target + ": cannot write in '" + parent + "' (" + std::strerror(errno) + ")");
    if (!lockOwn(fd, tmpl) && attempt < 8) {
      ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    // mkstemps creates 0600; a finished output gets the usual 0666 less the umask.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    fd_ = fd;
    temp_ = tmpl;
    slot_ = temporaries::add(temp_);
    return;
  }
}

AtomicOutput::~AtomicOutput() {
  if (!committed_ && !temp_.empty()) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
  temporaries::drop(slot_);
  if (fd_ >= 0) ::close(fd_);
}

void AtomicOutput::commit() {
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec) throw Error(ErrorKind::Output, target_ + ": cannot rename the finished file into place (" + ec.message() + ")");
  committed_ = true;
  temporaries::drop(slot_);
  slot_ = -1;
  ::close(fd_);
  fd_ = -1;
}

std::string AtomicOutput::userMessage(const std::string& message) const { return replaceAll(message, temp_, target_); }

AtomicOutputDir::AtomicOutputDir(const std::string& dir, const std::string& ours) : dir_(dir) {
  if (!ours.empty()) ours_ = std::regex(ours), hasOurs_ = true;
  std::error_code ec;
  fs::path d = fs::path(dir).lexically_normal();
  if (d.filename().empty()) d = d.parent_path();  // "raw/" names the folder "raw"
  const std::string parent = parentOf(d.string());
  if (!fs::exists(dir, ec)) {
    if (!fs::is_directory(parent, ec))
      throw Error(ErrorKind::Output, dir + ": parent directory '" + parent + "' does not exist");
    if (!fs::create_directory(dir, ec) || ec)
      throw Error(ErrorKind::Output, dir + ": cannot create directory (" + ec.message() + ")");
    created_ = true;
  } else if (!fs::is_directory(dir, ec)) {
    throw Error(ErrorKind::Output, dir + ": exists and is not a directory");
  } else {
    sweep(dir);
  }
  for (int attempt = 0;; ++attempt) {
    std::string tmpl = (fs::path(dir) / ".partial-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      const std::string why = std::strerror(errno);
      if (created_) fs::remove(dir_, ec);
      throw Error(ErrorKind::Output, dir + ": cannot write there (" + why + ")");
    }
    const int fd = ::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && !lockOwn(fd, tmpl) && attempt < 8) {
      ::close(fd);
      continue;
    }
    fd_ = fd;
    staging_ = tmpl;
    return;
  }
}

AtomicOutputDir::~AtomicOutputDir() {
  std::error_code ec;
  if (!staging_.empty() && !committed_) fs::remove_all(staging_, ec);
  if (fd_ >= 0) ::close(fd_);
  if (created_ && !committed_) fs::remove(dir_, ec);  // the folder this run made, if still empty
}

std::string AtomicOutputDir::path(const std::string& name) const { return (fs::path(staging_) / name).string(); }

std::string AtomicOutputDir::userMessage(const std::string& message) const {
  return replaceAll(message, staging_, dir_);
}

void AtomicOutputDir::commit() {
  std::error_code ec;
  std::set<std::string> mine;
  for (const auto& entry : fs::directory_iterator(staging_)) mine.insert(entry.path().filename().string());
  if (hasOurs_)
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      const std::string name = entry.path().filename().string();
      if (!mine.count(name) && std::regex_match(name, ours_) && entry.is_regular_file()) fs::remove(entry.path(), ec);
    }
  for (const std::string& name : mine) {
    fs::rename(fs::path(staging_) / name, fs::path(dir_) / name, ec);
    if (ec) throw Error(ErrorKind::Output, dir_ + ": cannot move " + name + " into place (" + ec.message() + ")");
  }
  committed_ = true;
  fs::remove(staging_, ec);
}

CommitLock::CommitLock(const std::vector<std::string>& outputs) {
  // Each receiving directory once (by identity), in the order of its canonical path.
  std::vector<std::pair<std::string, std::pair<dev_t, ino_t>>> dirs;
  for (const std::string& o : outputs) {
    if (o.empty()) continue;
    std::error_code ec;
    const bool isDir = fs::is_directory(o, ec);
    const std::string d = isDir ? o : parentOf(o);
    struct stat st;
    if (::stat(d.c_str(), &st) != 0) continue;
    const auto id = std::make_pair(st.st_dev, st.st_ino);
    if (std::any_of(dirs.begin(), dirs.end(), [&](const auto& x) { return x.second == id; })) continue;
    dirs.push_back({fs::weakly_canonical(d, ec).string(), id});
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    const int fd = ::open(d.first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    fds_.push_back(fd);
  }
}

CommitLock::~CommitLock() {
  for (int fd : fds_) ::close(fd);
}

}  // namespace ev
