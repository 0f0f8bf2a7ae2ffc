#include "io/atomic_output.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "explain_video/error.hpp"

namespace fs = std::filesystem;

namespace ev {
namespace {

std::string parentOf(const std::string& path) {
  const fs::path p = fs::path(path).parent_path();
  return p.empty() ? std::string(".") : p.string();
}

}  // namespace

AtomicOutput::AtomicOutput(const std::string& target, const std::string& suffix) : target_(target) {
  const fs::path t(target);
  std::error_code ec;
  if (fs::is_directory(t, ec)) throw Error(ErrorKind::Output, target + ": is a directory, not a file name");
  const std::string parent = parentOf(target);
  if (!fs::is_directory(parent, ec))
    throw Error(ErrorKind::Output, target + ": output directory '" + parent + "' does not exist");
  std::string tmpl = (fs::path(parent) / ("." + t.filename().string() + ".partial-XXXXXX" + suffix)).string();
  const int fd = mkstemps(tmpl.data(), static_cast<int>(suffix.size()));
  if (fd < 0)
    throw Error(ErrorKind::Output, target + ": cannot write in '" + parent + "' (" + std::strerror(errno) + ")");
  // mkstemps creates 0600; a finished output gets the usual 0666 less the umask.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  ::close(fd);
  temp_ = tmpl;
}

AtomicOutput::~AtomicOutput() {
  if (!committed_ && !temp_.empty()) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicOutput::commit() {
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec) throw Error(ErrorKind::Output, target_ + ": cannot rename the finished file into place (" + ec.message() + ")");
  committed_ = true;
}

AtomicOutputDir::AtomicOutputDir(const std::string& dir) : dir_(dir) {
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
  }
  std::string tmpl = (fs::path(dir) / ".partial-XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    throw Error(ErrorKind::Output, dir + ": cannot write there (" + std::strerror(errno) + ")");
  staging_ = tmpl;
}

AtomicOutputDir::~AtomicOutputDir() {
  std::error_code ec;
  if (!staging_.empty()) fs::remove_all(staging_, ec);
  if (created_ && !committed_) fs::remove(dir_, ec);  // the folder this run made, if still empty
}

std::string AtomicOutputDir::path(const std::string& name) const { return (fs::path(staging_) / name).string(); }

void AtomicOutputDir::commit() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(staging_)) {
    fs::rename(entry.path(), fs::path(dir_) / entry.path().filename(), ec);
    if (ec) throw Error(ErrorKind::Output, dir_ + ": cannot move " + entry.path().filename().string() + " into place");
  }
  committed_ = true;
}

}  // namespace ev
