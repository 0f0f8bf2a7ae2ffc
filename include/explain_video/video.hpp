// Stage 1 and 7 of the pipeline: decode any video FFmpeg reads into upright RGB frames, and
// encode RGB frames into a browser-playable H.264 MP4.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ev {

// One decoded picture: tightly packed RGB24, row-major H×W×3 (OpenCV layout, RGB order).
struct Frame {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width*height*3 bytes
  int64_t index = 0;         // 0-based position in decode (presentation) order
  double time = 0.0;         // presentation time in seconds from the stream start
};

// A rectangle of pixels: columns x .. x + width − 1, rows y .. y + height − 1.
struct PixelRect {
  int x = 0, y = 0, width = 0, height = 0;
};

struct VideoInfo {
  std::string path;
  int width = 0;              // after display rotation
  int height = 0;             // after display rotation
  double fps = 0.0;           // av_guess_frame_rate of the video stream
  int fpsNum = 0, fpsDen = 1; // the same as a rational
  int rotation = 0;           // display rotation applied to frames: 0, 90, 180 or 270 (clockwise)
  int64_t frameCountHint = 0; // container's frame count if known, else an estimate, else 0
  double duration = 0.0;      // seconds, 0 if unknown
  std::string codec;          // decoder name, e.g. "h264"
  std::string container;      // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "png_pipe"
  bool imageFormat = false;   // an image demuxer (image2, png_pipe, jpeg_pipe, ...): a still
                              // picture or an image sequence, not a video container
};

// Streaming decoder. Throws ev::Error(ErrorKind::Input, "<path>: <problem>") for a file it
// cannot open, that has no video stream, or whose data is corrupt.
// - Frames are upright: display-matrix rotation (phone videos) is applied as the ffmpeg CLI's
//   autorotate does (multiples of 90 degrees only; flips are ignored).
// - Frame.time is the frame's presentation timestamp minus the stream's start time, so it is
//   right for variable frame rates too; fps is then only the container's guess.
// - Colours use the stream's YUV matrix and range (BT.601 limited range when unspecified).
// - Every frame has the stream's initial size; frames whose size changes mid-stream are scaled.
// - A file written by VideoWriter with an odd size reads back at the padded even size
//   (e.g. 321x241 -> 322x242, the last column and row repeated).
// - Damaged data: the decoder skips what it cannot decode and read() ends cleanly; if not a
//   single frame decodes, the first read() throws "<path>: no decodable video frames".
//   decodeErrors() counts what went wrong on the way (packets or frames the decoder rejected,
//   errors it reported while concealing damage, frames it flagged corrupt).
// - read() polls ev::checkStop() (interrupt.hpp), and a stop request aborts blocking I/O.
class VideoReader {
 public:
  // `displayName` is what messages and info().path say (default: `path`), e.g. "standard input"
  // for a spooled copy.
  explicit VideoReader(const std::string& path, const std::string& displayName = "");
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  // Decodes the next frame into `frame` (reusing its buffer). Returns false at the end.
  bool read(Frame& frame);
  // Decoding problems so far (see above) and the last one's text ("" if none).
  int64_t decodeErrors() const;
  std::string lastDecodeError() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct VideoWriterOptions {
  int width = 0;            // must match every frame
  int height = 0;
  int fpsNum = 25, fpsDen = 1;  // frame rate of the output
  int crf = 20;             // x264 quality
  std::string preset = "veryfast";
  int threads = 0;          // encoder threads; 0: one per core (the render pass runs alone)
};

// Streaming H.264 (yuv420p) MP4 encoder with the index at the front (faststart).
// Odd widths or heights are padded by one replicated row/column (yuv420p needs even sizes), so
// readers see the even size. RGB is converted with the BT.709 matrix (limited range) and the
// stream is tagged BT.709. Errors: Usage for bad options or a frame of the wrong size, Output
// for a file that cannot be created or written ("<path>: cannot create output file (...)").
// The file is complete only after close(); destroying an unclosed writer abandons the file
// (callers write to a temporary name and rename after close()).
class VideoWriter {
 public:
  VideoWriter(const std::string& path, const VideoWriterOptions& options);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  void write(const Frame& frame);  // frames are timed by their order: pts = number written
  void close();                    // flush the encoder, write the trailer

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ev
