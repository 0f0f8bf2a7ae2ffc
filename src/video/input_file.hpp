// The input video as every decoding pass opens it. An explain run opens its input more than
// once (the model pass, a re-explain pass, the render pass), so an input that can be read only
// once (standard input "-", a FIFO, a character device, a socket) is first copied into an
// unlinked temporary file in $TMPDIR (default /tmp). The copy has no name, so nothing is left
// behind even by SIGKILL; the passes open it as /proc/self/fd/N. A regular file (or block
// device) is opened by its own name.
#pragma once
#include <cstdint>
#include <string>

namespace ev {

class InputFile {
 public:
  static constexpr int64_t kMaxSpoolBytes = int64_t(64) << 30;  // 64 GiB: more is refused

  explicit InputFile(const std::string& name);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }  // what to open
  const std::string& name() const { return name_; }  // what messages say
  bool spooled() const { return fd_ >= 0; }
  int64_t spooledBytes() const { return bytes_; }

  static bool isStdin(const std::string& name) { return name == "-"; }
  static std::string displayName(const std::string& name) { return isStdin(name) ? "standard input" : name; }

 private:
  void spool(int from);
  std::string path_, name_;
  int fd_ = -1;
  int64_t bytes_ = 0;
};

}  // namespace ev
