#include "video/input_file.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"
#include "util/temp_file.hpp"

namespace ev {

InputFile::InputFile(const std::string& name) : path_(name), name_(displayName(name)) {
  if (isStdin(name)) {
    struct stat st;
    if (::fstat(STDIN_FILENO, &st) != 0) throw Error(ErrorKind::Input, name_ + ": not open");
    if (S_ISREG(st.st_mode)) {  // `< clip.mp4`: a file, readable again and again
      path_ = "/proc/self/fd/0";
      return;
    }
    spool(STDIN_FILENO);
    return;
  }
  struct stat st;
  if (::stat(name.c_str(), &st) != 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
    return;  // the reader reports what is wrong with it
  // A FIFO opened without O_NONBLOCK would block in open() until a writer appears, deaf to
  // Ctrl-C; non-blocking, poll() waits for the first writer and the stop request is polled.
  const int from = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (from < 0) throw Error(ErrorKind::Input, name_ + ": cannot open (" + std::strerror(errno) + ")");
  try {
    spool(from);
  } catch (...) {
    ::close(from);
    throw;
  }
  ::close(from);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::spool(int from) {
  const std::string dir = tempDir();
  fd_ = anonymousTempFile(dir);
  if (fd_ < 0)
    throw Error(ErrorKind::Input, name_ + ": cannot make a temporary copy in " + dir + " (" + std::strerror(errno) +
                                      "; a stream is read once and copied, set TMPDIR to choose where)");
  std::vector<char> buf(1 << 20);
  for (int64_t polls = 0;; ++polls) {
    checkStop("spool", polls);
    pollfd p{from, POLLIN, 0};
    const int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) throw Error(ErrorKind::Input, name_ + ": " + std::strerror(errno));
    if (ready <= 0) continue;
    const ssize_t n = ::read(from, buf.data(), buf.size());
    if (n == 0) break;  // the writer closed: the end
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throw Error(ErrorKind::Input, name_ + ": read failed (" + std::strerror(errno) + ")");
    }
    if (bytes_ + n > kMaxSpoolBytes)
      throw Error(ErrorKind::Input, name_ + ": more than 64 GiB; a stream that large is not copied (give a file)");
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(fd_, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0)
        throw Error(ErrorKind::Input, name_ + ": cannot copy it into " + dir + " (" + std::strerror(errno) +
                                          "; set TMPDIR to choose where)");
      done += w;
    }
    bytes_ += n;
  }
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

}  // namespace ev
