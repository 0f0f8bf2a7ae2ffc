// Outputs are written under a temporary name beside the target and renamed only when the
// whole run succeeded, so a failed or interrupted run leaves no partial file behind.
//
// Temporaries are named `.NAME.partial-XXXXXX[.ext]` (files) and `.partial-XXXXXX` (staging
// folders inside an output folder). Each is locked (flock) by the process writing it for as long
// as it exists. A process killed outright (SIGKILL, a power cut) cannot remove its own, so
// every new output sweeps its directory first: a temporary of this naming that no live process
// holds is removed. File systems without working locks (some NFS setups) are never swept.
#pragma once
#include <regex>
#include <string>
#include <vector>

namespace ev {

class AtomicOutput {
 public:
  // Creates the temporary file at once, so an unwritable destination fails before any work.
  // `suffix` keeps the extension on the temporary name (muxers pick the format by it).
  explicit AtomicOutput(const std::string& target, const std::string& suffix = "");
  ~AtomicOutput();  // removes the temporary file unless committed
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& tempPath() const { return temp_; }
  const std::string& target() const { return target_; }
  void commit();  // rename the temporary file onto the target
  // `message` with the temporary's name replaced by the target's: errors name the user's file.
  std::string userMessage(const std::string& message) const;

 private:
  std::string target_, temp_;
  int fd_ = -1;    // holds the lock
  int slot_ = -1;  // in the signal handler's list of temporaries
  bool committed_ = false;
};

// A directory of many outputs: files are written into a hidden staging folder inside it and
// moved into place by commit(); the staging folder is removed otherwise. `ours` names the files
// this kind of output writes: at commit, such files already in the folder that this run did not
// write are removed (a re-run with fewer windows leaves no stale window_NNNN files); other
// files in the folder are never touched.
class AtomicOutputDir {
 public:
  explicit AtomicOutputDir(const std::string& dir, const std::string& ours = "");
  ~AtomicOutputDir();
  AtomicOutputDir(const AtomicOutputDir&) = delete;
  AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;
  std::string path(const std::string& name) const;  // where to write `name` now
  const std::string& dir() const { return dir_; }
  void commit();
  std::string userMessage(const std::string& message) const;  // staging folder -> the folder

 private:
  std::string dir_, staging_;
  std::regex ours_;
  bool hasOurs_ = false;
  int fd_ = -1;
  bool committed_ = false;
  bool created_ = false;
};

// Held while a run moves its outputs into place: an exclusive lock on each directory that
// receives one, taken in a fixed order. Two runs writing the same outputs then replace them
// one after the other, each run's files together (the last to finish wins, consistently).
class CommitLock {
 public:
  explicit CommitLock(const std::vector<std::string>& outputs);
  ~CommitLock();
  CommitLock(const CommitLock&) = delete;
  CommitLock& operator=(const CommitLock&) = delete;

 private:
  std::vector<int> fds_;
};

}  // namespace ev
