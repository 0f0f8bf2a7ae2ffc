#include "pipeline/window_store.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "explain_video/error.hpp"
#include "util/temp_file.hpp"

namespace ev {
namespace {

void put(std::FILE* f, const void* p, size_t bytes) {
  if (bytes && std::fwrite(p, 1, bytes, f) != bytes)
    throw Error(ErrorKind::Output, "the windows' maps, kept in a temporary file in " + tempDir() + ": write failed (" +
                                       std::strerror(errno) + "; set TMPDIR to keep them elsewhere)");
}
void get(std::FILE* f, void* p, size_t bytes) {
  if (bytes && std::fread(p, 1, bytes, f) != bytes) throw Error(ErrorKind::Internal, "temporary window store: short read");
}
template <class T>
void putVec(std::FILE* f, const std::vector<T>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  put(f, &n, sizeof n);
  put(f, v.data(), v.size() * sizeof(T));
}
template <class T>
void getVec(std::FILE* f, std::vector<T>& v) {
  int64_t n = 0;
  get(f, &n, sizeof n);
  v.resize(static_cast<size_t>(n));
  get(f, v.data(), v.size() * sizeof(T));
}

}  // namespace

int64_t WindowRecord::find(size_t slot, int classId) const {
  for (size_t k = 0; k < classIds.size(); ++k)
    if (classIds[k] == classId) return static_cast<int64_t>(slot * classIds.size() + k);
  return -1;
}

WindowStore::WindowStore() {
  // Unnamed, in $TMPDIR (std::tmpfile would ignore TMPDIR: a cluster node's small /tmp).
  const int fd = anonymousTempFile(tempDir());
  file_ = fd >= 0 ? ::fdopen(fd, "w+b") : nullptr;
  if (!file_) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw Error(ErrorKind::Output, "cannot create a temporary file in " + tempDir() + " (" + why + "; set TMPDIR to choose where)");
  }
}

WindowStore::~WindowStore() { std::fclose(file_); }

void WindowStore::append(const WindowRecord& r) {
  std::fseek(file_, 0, SEEK_END);
  put(file_, &r.index, sizeof r.index);
  putVec(file_, r.frames);
  put(file_, &r.geometry, sizeof r.geometry);
  putVec(file_, r.logits);
  putVec(file_, r.classIds);
  putVec(file_, r.notes);
  putVec(file_, r.empty);
  putVec(file_, r.scores);
  const int64_t n = static_cast<int64_t>(r.maps.size());
  put(file_, &n, sizeof n);
  for (const Volume& v : r.maps) {
    putVec(file_, v.shape);
    putVec(file_, v.data);
  }
  ++count_;
}

void WindowStore::rewind() {
  std::fflush(file_);
  std::fseek(file_, 0, SEEK_SET);
}

bool WindowStore::next(WindowRecord& r) {
  if (std::fread(&r.index, sizeof r.index, 1, file_) != 1) return false;
  getVec(file_, r.frames);
  get(file_, &r.geometry, sizeof r.geometry);
  getVec(file_, r.logits);
  getVec(file_, r.classIds);
  getVec(file_, r.notes);
  getVec(file_, r.empty);
  getVec(file_, r.scores);
  int64_t n = 0;
  get(file_, &n, sizeof n);
  r.maps.resize(static_cast<size_t>(n));
  for (Volume& v : r.maps) {
    getVec(file_, v.shape);
    getVec(file_, v.data);
  }
  return true;
}

}  // namespace ev
