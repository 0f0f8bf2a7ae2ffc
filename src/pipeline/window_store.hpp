// Per-window results spilled to an anonymous temporary file, so memory does not grow with the
// video's length: the CAM volumes are kept until the class is known and the video is rendered.
#pragma once
#include <cstdio>
#include <vector>

#include "explain_video/volume.hpp"
#include "explain_video/windows.hpp"

namespace ev {

struct WindowRecord {
  int64_t index = 0;
  std::vector<int64_t> frames;  // source frame per temporal position
  CropGeometry geometry;
  std::vector<float> logits;
  std::vector<int> classIds;    // classes whose CAM was computed
  std::vector<Volume> cams;     // T'×H'×W' per class in classIds

  const Volume* camFor(int classId) const;
};

class WindowStore {
 public:
  WindowStore();
  ~WindowStore();
  WindowStore(const WindowStore&) = delete;
  WindowStore& operator=(const WindowStore&) = delete;

  void append(const WindowRecord& r);
  void rewind();               // start reading from the first record
  bool next(WindowRecord& r);  // false after the last record
  int64_t size() const { return count_; }

 private:
  std::FILE* file_;
  int64_t count_ = 0;
};

}  // namespace ev
