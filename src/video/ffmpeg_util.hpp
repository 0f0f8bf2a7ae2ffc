// Private helpers shared by the video reader and writer: FFmpeg includes, RAII deleters,
// error strings and a quiet log callback. Never include this from a public header.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

namespace ev::ffmpeg {

// Text of an FFmpeg error code (av_err2str is a C99 compound-literal macro, unusable in C++).
inline std::string errorString(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(code, buf, sizeof buf) < 0) {
    std::snprintf(buf, sizeof buf, "error %d", code);
  }
  return buf;
}

// The last message FFmpeg logged at error level on this thread (e.g. "moov atom not found").
// FFmpeg's own errors are usually more specific than the AVERROR code, so they are appended
// to our messages. Nothing is printed unless EV_FFMPEG_LOG is set in the environment.
inline thread_local std::string lastLogMessage;

inline void clearLastLogMessage() { lastLogMessage.clear(); }

// A decoder's problems, counted from FFmpeg's error messages about its contexts (the decoder,
// its frame-thread copies, the demuxer), which carry a pointer to it in `opaque`.
struct DecodeLog {
  static constexpr uint64_t kMagic = 0x65762d6465636f64ull;
  uint64_t magic = kMagic;
  std::atomic<int64_t> errors{0};
  std::mutex m;
  std::string last;
  void note(const std::string& msg) {
    ++errors;
    std::lock_guard<std::mutex> lock(m);
    last = msg;
  }
  std::string lastMessage() {
    std::lock_guard<std::mutex> lock(m);
    return last;
  }
};

inline DecodeLog* decodeLogOf(void* avcl) {
  if (!avcl) return nullptr;
  const AVClass* cls = *static_cast<const AVClass**>(avcl);
  void* opaque = nullptr;
  if (cls == avcodec_get_class())
    opaque = static_cast<AVCodecContext*>(avcl)->opaque;
  else if (cls == avformat_get_class())
    opaque = static_cast<AVFormatContext*>(avcl)->opaque;
  auto* log = static_cast<DecodeLog*>(opaque);
  return log && log->magic == DecodeLog::kMagic ? log : nullptr;
}

inline void logCallback(void* avcl, int level, const char* fmt, va_list vl) {
  static const bool passThrough = std::getenv("EV_FFMPEG_LOG") != nullptr;
  if (passThrough) {
    va_list copy;
    va_copy(copy, vl);
    av_log_default_callback(avcl, level, fmt, copy);
    va_end(copy);
  }
  if (level > AV_LOG_ERROR) return;
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, vl);
  std::string msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r' || msg.back() == ' ' ||
                          msg.back() == '.')) {
    msg.pop_back();
  }
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';  // our error messages are one line
  }
  if (msg.empty()) return;
  lastLogMessage = msg;
  if (DecodeLog* log = decodeLogOf(avcl)) log->note(msg);
}

// Installs the quiet log callback once per process.
inline void initLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(std::getenv("EV_FFMPEG_LOG") ? AV_LOG_INFO : AV_LOG_ERROR);
    av_log_set_callback(logCallback);
  });
}

// "<code text>" or "<code text>: <last FFmpeg log message>" when they differ.
inline std::string describe(int code) {
  std::string s = errorString(code);
  if (!lastLogMessage.empty() && lastLogMessage != s) s += ": " + lastLogMessage;
  return s;
}

struct InputContextDeleter {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct DictDeleter {
  void operator()(AVDictionary* p) const { av_dict_free(&p); }
};

using InputContextPtr = std::unique_ptr<AVFormatContext, InputContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

}  // namespace ev::ffmpeg
