// Outputs are written under a temporary name beside the target and renamed only when the
// whole run succeeded, so a failed run leaves no partial file behind.
#pragma once
#include <string>

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

 private:
  std::string target_, temp_;
  bool committed_ = false;
};

// A directory of many outputs: files are written into a hidden staging folder inside it and
// moved into place by commit(); the staging folder is removed otherwise.
class AtomicOutputDir {
 public:
  explicit AtomicOutputDir(const std::string& dir);
  ~AtomicOutputDir();
  AtomicOutputDir(const AtomicOutputDir&) = delete;
  AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;
  std::string path(const std::string& name) const;  // where to write `name` now
  void commit();

 private:
  std::string dir_, staging_;
  bool committed_ = false;
  bool created_ = false;
};

}  // namespace ev
