// Per-window results spilled to an anonymous temporary file, so memory does not grow with the
// video's length: the maps are kept until the class is known and the video is rendered.
#pragma once
#include <cstdio>
#include <vector>

#include "explain_video/volume.hpp"
#include "explain_video/windows.hpp"

namespace ev {

// One window: its logits and, for `slots` maps per class, the maps of every class in classIds.
// In the model pass a slot is a method (maps[m·classIds.size() + k] is method m for class
// classIds[k]); in the panel store a slot is a panel and classIds is empty (one map per slot).
struct WindowRecord {
  int64_t index = 0;
  std::vector<int64_t> frames;  // source frame per temporal position
  CropGeometry geometry;
  std::vector<float> logits;
  std::vector<int> classIds;        // classes whose maps were computed
  std::vector<Volume> maps;         // T'×H'×W'
  std::vector<int64_t> notes;       // per map: gradcam++'s clamped-α cells (0 for other methods)
  std::vector<int> empty;           // per map: its EmptyReason (0: the map has heat)
  std::vector<double> scores;       // panel store: per map, the class probability of the window

  // Position of method `slot`'s map for `classId` in maps, or -1.
  int64_t find(size_t slot, int classId) const;
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
