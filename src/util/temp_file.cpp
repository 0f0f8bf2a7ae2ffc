#include "util/temp_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace ev {

std::string tempDir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

int anonymousTempFile(const std::string& dir) {
#ifdef O_TMPFILE
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
#endif
  std::string tmpl = dir + "/.explain-video-scratch-XXXXXX";
  const int f = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (f >= 0) ::unlink(tmpl.c_str());
  return f;
}

}  // namespace ev
