// Streaming video decoder: FFmpeg demux + decode, swscale to RGB24, display rotation applied.
#include "explain_video/error.hpp"
#include "explain_video/interrupt.hpp"
#include "explain_video/video.hpp"
#include "video/ffmpeg_util.hpp"
#include "video/memory_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace ev {

namespace {

using namespace ev::ffmpeg;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(ErrorKind::Input, path + ": " + problem);
}

// Clockwise rotation (0/90/180/270) that makes the stream's pictures upright, as the ffmpeg
// CLI's autorotate does: av_display_rotation_get() gives the counter-clockwise angle by which
// the matrix rotates the picture, so the picture must be turned by its negation.
int displayRotation(const AVStream* st) {
  size_t size = 0;
  const uint8_t* side = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (side == nullptr || size < 9 * sizeof(int32_t)) return 0;
  double ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(side));
  if (std::isnan(ccw)) return 0;
  double cw = -std::round(ccw);
  cw -= 360.0 * std::floor(cw / 360.0 + 0.9 / 360.0);  // into [0, 360)
  for (int r : {90, 180, 270}) {
    if (std::fabs(cw - r) < 1.0) return r;
  }
  return 0;
}

// True when the file starts with an ISO-BMFF "ftyp" box (MP4, MOV, M4V, 3GP...).
bool looksLikeMp4(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {0};
  in.read(head, sizeof head);
  return in.gcount() == 8 && std::memcmp(head + 4, "ftyp", 4) == 0;
}

bool isFullRangeFormat(AVPixelFormat f) {
  return f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVJ444P ||
         f == AV_PIX_FMT_YUVJ440P || f == AV_PIX_FMT_YUVJ411P;
}

// Bytes in memory as a seekable AVIO source (MemoryVideoReader).
struct MemoryInput {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
};

int readMemory(void* opaque, uint8_t* buf, int n) {
  auto* m = static_cast<MemoryInput*>(opaque);
  const size_t k = std::min(m->size - m->pos, static_cast<size_t>(std::max(n, 0)));
  if (k == 0) return AVERROR_EOF;
  std::memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return static_cast<int>(k);
}

int64_t seekMemory(void* opaque, int64_t offset, int whence) {
  auto* m = static_cast<MemoryInput*>(opaque);
  const auto size = static_cast<int64_t>(m->size);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return size;
  const int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? static_cast<int64_t>(m->pos)
                                              : whence == SEEK_END ? size : -1;
  if (base < 0 || offset < -base || offset > size - base) return AVERROR(EINVAL);  // no overflow
  m->pos = static_cast<size_t>(base + offset);
  return base + offset;
}

// Bytes in memory name no other file: a demuxer that wants one (playlists, references) fails.
int refuseNestedOpen(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
  return AVERROR(EPERM);
}

// The bytes MemoryVideoReader::open is constructing a reader on (set only for the duration of
// that constructor call, on its thread), so the public VideoReader(path) constructor serves both.
thread_local const MemoryInput* pendingMemoryInput = nullptr;

struct AvioDeleter {
  void operator()(AVIOContext* p) const {
    av_freep(&p->buffer);  // the context may have replaced the buffer it was given
    avio_context_free(&p);
  }
};

}  // namespace

struct VideoReader::Impl {
  VideoInfo info;
  MemoryInput memory;                             // MemoryVideoReader only
  std::unique_ptr<AVIOContext, AvioDeleter> avio;  // MemoryVideoReader only; outlives fmt
  InputContextPtr fmt;
  CodecContextPtr dec;
  PacketPtr pkt;
  FramePtr frame;
  SwsPtr sws;
  int streamIndex = -1;
  AVRational timeBase{0, 1};
  int64_t startTime = 0;
  int srcWidth = 0, srcHeight = 0;  // decoded (unrotated) output size
  std::vector<uint8_t> unrotated;   // scratch for rotated streams

  // swscale state for the current source format (re-created if the stream changes).
  int swsW = -1, swsH = -1, swsFmt = -1, swsSpace = -1, swsRange = -1;

  bool flushing = false;  // NULL packet sent
  bool finished = false;
  int64_t decoded = 0;
  double lastTime = -1.0;
  int consecutiveErrors = 0;
  std::string lastDecodeError;
  ffmpeg::DecodeLog log;  // every problem on the way, for decodeErrors()

  void open(const std::string& path, const std::string& name);
  void openMemory(const uint8_t* data, size_t size, const std::string& name);
  void openStreams(const std::string& name);
  bool receive(Frame& out);
  bool feed();
  void convert(const AVFrame* f, Frame& out);
};

void VideoReader::Impl::open(const std::string& path, const std::string& name) {
  if (pendingMemoryInput != nullptr) return openMemory(pendingMemoryInput->data, pendingMemoryInput->size, name);
  initLogging();
  info.path = name;

  std::error_code ec;
  const std::filesystem::path p(path);
  auto status = std::filesystem::status(p, ec);
  if (!std::filesystem::exists(status)) fail(name, "file does not exist");
  if (std::filesystem::is_directory(status)) fail(name, "is a directory, not a video file");
  if (std::filesystem::is_regular_file(status)) {
    auto size = std::filesystem::file_size(p, ec);
    if (!ec && size == 0) fail(name, "file is empty");
  }

  clearLastLogMessage();
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw Error(ErrorKind::Internal, name + ": out of memory");
  // A stop request (SIGINT) aborts a read that blocks (a stalled network file system).
  raw->interrupt_callback.callback = [](void*) { return stopRequested() ? 1 : 0; };
  int ret = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);  // frees `raw` on failure
  if (ret < 0) {
    if (ret == AVERROR(EACCES)) fail(name, "cannot open (" + errorString(ret) + ")");
    std::string hint;
    if (lastLogMessage.find("moov atom not found") != std::string::npos && looksLikeMp4(path)) {
      hint = "; the MP4 index is missing: the file is truncated or was never finished";
    }
    fail(name, "not a video file FFmpeg can read (" + describe(ret) + ")" + hint);
  }
  fmt.reset(raw);
  openStreams(name);
}

void VideoReader::Impl::openMemory(const uint8_t* data, size_t size, const std::string& name) {
  initLogging();
  info.path = name;
  if (size == 0) fail(name, "file is empty");
  memory = MemoryInput{data, size, 0};
  constexpr int kBufferSize = 1 << 15;
  auto* buffer = static_cast<unsigned char*>(av_malloc(kBufferSize));
  if (buffer == nullptr) throw Error(ErrorKind::Internal, name + ": out of memory");
  avio.reset(avio_alloc_context(buffer, kBufferSize, 0, &memory, readMemory, nullptr, seekMemory));
  if (!avio) {
    av_free(buffer);
    throw Error(ErrorKind::Internal, name + ": out of memory");
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) throw Error(ErrorKind::Internal, name + ": out of memory");
  raw->pb = avio.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  raw->io_open = refuseNestedOpen;
  clearLastLogMessage();
  const int ret = avformat_open_input(&raw, "", nullptr, nullptr);  // frees raw on failure
  if (ret < 0) fail(name, "not a video file FFmpeg can read (" + describe(ret) + ")");
  fmt.reset(raw);
  openStreams(name);
}

// Everything after the demuxer is open: the same for a file and for bytes in memory.
void VideoReader::Impl::openStreams(const std::string& name) {
  int ret = 0;
  clearLastLogMessage();
  ret = avformat_find_stream_info(fmt.get(), nullptr);
  if (ret < 0) fail(name, "cannot read stream information (" + describe(ret) + ")");

  const AVCodec* codec = nullptr;
  ret = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (ret >= 0 && (fmt->streams[ret]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
    // A cover picture (e.g. album art in an m4a) is not a video; look for a real one.
    ret = AVERROR_STREAM_NOT_FOUND;
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      const AVStream* s = fmt->streams[i];
      if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
          (s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        continue;
      }
      codec = avcodec_find_decoder(s->codecpar->codec_id);
      ret = codec ? static_cast<int>(i) : AVERROR_DECODER_NOT_FOUND;
      if (codec) break;
    }
  }
  if (ret == AVERROR_STREAM_NOT_FOUND) fail(name, "no video stream");
  if (ret == AVERROR_DECODER_NOT_FOUND || (ret >= 0 && codec == nullptr)) {
    // Name the codec of the first video stream we could not decode.
    std::string name = "unknown";
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
        name = avcodec_get_name(fmt->streams[i]->codecpar->codec_id);
        break;
      }
    }
    fail(name, "no decoder for video codec " + name);
  }
  if (ret < 0) fail(name, "cannot select a video stream (" + describe(ret) + ")");
  streamIndex = ret;
  AVStream* st = fmt->streams[streamIndex];
  // Skip the other streams in the demuxer (less work, no audio packets queued).
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    if (static_cast<int>(i) != streamIndex) fmt->streams[i]->discard = AVDISCARD_ALL;
  }

  dec.reset(avcodec_alloc_context3(codec));
  if (!dec) throw Error(ErrorKind::Internal, name + ": out of memory allocating a decoder");
  ret = avcodec_parameters_to_context(dec.get(), st->codecpar);
  if (ret < 0) fail(name, "bad video stream parameters (" + describe(ret) + ")");
  dec->pkt_timebase = st->time_base;
  dec->thread_count = 0;  // automatic
  dec->opaque = &log;     // copied into the frame threads' contexts: their errors count too
  clearLastLogMessage();
  ret = avcodec_open2(dec.get(), codec, nullptr);
  if (ret < 0) fail(name, std::string("cannot open the ") + codec->name + " decoder (" + describe(ret) + ")");

  srcWidth = st->codecpar->width;
  srcHeight = st->codecpar->height;
  if (srcWidth <= 0 || srcHeight <= 0) fail(name, "video stream has no frame size");

  info.rotation = displayRotation(st);
  const bool swap = info.rotation == 90 || info.rotation == 270;
  info.width = swap ? srcHeight : srcWidth;
  info.height = swap ? srcWidth : srcHeight;

  AVRational fr = av_guess_frame_rate(fmt.get(), st, nullptr);
  if (fr.num > 0 && fr.den > 0) {
    av_reduce(&info.fpsNum, &info.fpsDen, fr.num, fr.den, INT32_MAX);
  } else {
    info.fpsNum = 25;  // unknown: a conventional default so times stay usable
    info.fpsDen = 1;
  }
  info.fps = static_cast<double>(info.fpsNum) / info.fpsDen;

  timeBase = st->time_base;
  startTime = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    info.duration = static_cast<double>(st->duration) * av_q2d(st->time_base);
  } else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
    info.duration = static_cast<double>(fmt->duration) / AV_TIME_BASE;
  }
  if (st->nb_frames > 0) {
    info.frameCountHint = st->nb_frames;
  } else if (info.duration > 0) {
    info.frameCountHint = static_cast<int64_t>(std::llround(info.duration * info.fps));
  }
  info.codec = codec->name;
  info.container = fmt->iformat && fmt->iformat->name ? fmt->iformat->name : "";
  info.imageFormat = info.container == "image2" ||
                     (info.container.size() > 5 && info.container.compare(info.container.size() - 5, 5, "_pipe") == 0);

  fmt->opaque = &log;  // from here on, demuxer errors count as decoding problems
  pkt.reset(av_packet_alloc());
  frame.reset(av_frame_alloc());
  if (!pkt || !frame) throw Error(ErrorKind::Internal, name + ": out of memory");
}

// Sends the next packet of our stream to the decoder (or the flush packet at the end).
// Returns false when there is nothing more to send.
bool VideoReader::Impl::feed() {
  if (flushing) return false;
  while (true) {
    int ret = av_read_frame(fmt.get(), pkt.get());
    if (ret < 0) {
      // End of file, or a read error in a damaged file: either way decode what we have.
      if (ret != AVERROR_EOF && ret != AVERROR_EXIT) log.note("read error: " + describe(ret));
      avcodec_send_packet(dec.get(), nullptr);
      flushing = true;
      return true;
    }
    if (pkt->stream_index != streamIndex) {
      av_packet_unref(pkt.get());
      continue;
    }
    clearLastLogMessage();
    const int64_t reported = log.errors.load();
    ret = avcodec_send_packet(dec.get(), pkt.get());
    av_packet_unref(pkt.get());
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
      // A corrupt packet: skip it, the decoder resynchronises at the next keyframe.
      lastDecodeError = describe(ret);
      ++consecutiveErrors;
      if (log.errors.load() == reported) log.note(lastDecodeError);  // unless it said why already
    }
    return true;
  }
}

bool VideoReader::Impl::receive(Frame& out) {
  // Bound the work spent on a stream that produces nothing but errors.
  constexpr int kMaxConsecutiveErrors = 10000;
  while (!finished) {
    int ret = avcodec_receive_frame(dec.get(), frame.get());
    if (ret == 0) {
      consecutiveErrors = 0;
      if (frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT))
        log.note("frame " + std::to_string(decoded) + " decoded with errors (concealed)");
      convert(frame.get(), out);
      av_frame_unref(frame.get());
      return true;
    }
    if (ret == AVERROR(EAGAIN)) {
      if (!feed()) finished = true;  // cannot happen after a flush, but never loop forever
    } else if (ret == AVERROR_EOF) {
      finished = true;
    } else {
      lastDecodeError = describe(ret);
      if (flushing) finished = true;
      ++consecutiveErrors;
      log.note(lastDecodeError);
    }
    if (consecutiveErrors > kMaxConsecutiveErrors) finished = true;
  }
  if (decoded == 0) {
    std::string why = lastDecodeError.empty() ? "" : " (" + lastDecodeError + ")";
    fail(info.path, "no decodable video frames" + why);
  }
  return false;
}

void VideoReader::Impl::convert(const AVFrame* f, Frame& out) {
  const auto srcFmt = static_cast<AVPixelFormat>(f->format);
  const int space = f->colorspace;
  const int range = (f->color_range == AVCOL_RANGE_JPEG || isFullRangeFormat(srcFmt)) ? 1 : 0;
  if (!sws || f->width != swsW || f->height != swsH || f->format != swsFmt || space != swsSpace ||
      range != swsRange) {
    // Frames whose size changes mid-stream are scaled to the stream's initial size.
    SwsContext* ctx = sws_getContext(f->width, f->height, srcFmt, srcWidth, srcHeight,
                                     AV_PIX_FMT_RGB24,
                                     SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                     nullptr, nullptr, nullptr);
    if (ctx == nullptr) {
      fail(info.path, std::string("cannot convert pixel format ") +
                          (av_get_pix_fmt_name(srcFmt) ? av_get_pix_fmt_name(srcFmt) : "?") +
                          " to RGB");
    }
    sws.reset(ctx);
    // Use the stream's YUV matrix (BT.601 when unspecified, as FFmpeg does) and range.
    int csp = SWS_CS_DEFAULT;
    switch (f->colorspace) {
      case AVCOL_SPC_BT709: csp = SWS_CS_ITU709; break;
      case AVCOL_SPC_FCC: csp = SWS_CS_FCC; break;
      case AVCOL_SPC_SMPTE240M: csp = SWS_CS_SMPTE240M; break;
      case AVCOL_SPC_BT2020_NCL:
      case AVCOL_SPC_BT2020_CL: csp = SWS_CS_BT2020; break;
      default: csp = SWS_CS_DEFAULT; break;
    }
    const int* coeffs = sws_getCoefficients(csp);
    sws_setColorspaceDetails(sws.get(), coeffs, range, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                             1 << 16, 1 << 16);
    swsW = f->width;
    swsH = f->height;
    swsFmt = f->format;
    swsSpace = space;
    swsRange = range;
  }

  const size_t bytes = static_cast<size_t>(srcWidth) * srcHeight * 3;
  std::vector<uint8_t>& target = info.rotation == 0 ? out.rgb : unrotated;
  target.resize(bytes);
  uint8_t* dst[4] = {target.data(), nullptr, nullptr, nullptr};
  int dstStride[4] = {srcWidth * 3, 0, 0, 0};
  sws_scale(sws.get(), f->data, f->linesize, 0, f->height, dst, dstStride);

  out.width = info.width;
  out.height = info.height;
  if (info.rotation != 0) {
    out.rgb.resize(bytes);
    const int w = srcWidth, h = srcHeight;  // source size
    const int ow = info.width, oh = info.height;
    const uint8_t* s = unrotated.data();
    uint8_t* d = out.rgb.data();
    for (int y = 0; y < oh; ++y) {
      uint8_t* row = d + static_cast<size_t>(y) * ow * 3;
      for (int x = 0; x < ow; ++x) {
        int sx, sy;
        if (info.rotation == 90) {  // clockwise: top row of the output is the left column
          sx = y;
          sy = h - 1 - x;
        } else if (info.rotation == 180) {
          sx = w - 1 - x;
          sy = h - 1 - y;
        } else {  // 270 clockwise = 90 counter-clockwise
          sx = w - 1 - y;
          sy = x;
        }
        std::memcpy(row + x * 3, s + (static_cast<size_t>(sy) * w + sx) * 3, 3);
      }
    }
  }

  out.index = decoded;
  double t;
  if (f->best_effort_timestamp != AV_NOPTS_VALUE && timeBase.num > 0 && timeBase.den > 0) {
    t = static_cast<double>(f->best_effort_timestamp - startTime) * av_q2d(timeBase);
  } else if (lastTime >= 0.0) {
    t = lastTime + 1.0 / info.fps;
  } else {
    t = static_cast<double>(decoded) / info.fps;
  }
  out.time = t;
  lastTime = t;
  ++decoded;
}

VideoReader::VideoReader(const std::string& path, const std::string& displayName) : impl_(std::make_unique<Impl>()) {
  impl_->open(path, displayName.empty() ? path : displayName);
}

std::unique_ptr<VideoReader> MemoryVideoReader::open(const uint8_t* data, size_t size, const std::string& name) {
  const MemoryInput input{data, size, 0};
  struct Pending {
    explicit Pending(const MemoryInput* in) { pendingMemoryInput = in; }
    ~Pending() { pendingMemoryInput = nullptr; }
  } pending(&input);
  return std::make_unique<VideoReader>(name);
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return impl_->info; }

bool VideoReader::read(Frame& frame) {
  checkStop("decode", impl_->decoded);
  return impl_->receive(frame);
}

int64_t VideoReader::decodeErrors() const { return impl_->log.errors.load(); }
std::string VideoReader::lastDecodeError() const { return impl_->log.lastMessage(); }

}  // namespace ev
