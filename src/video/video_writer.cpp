// Streaming H.264 / yuv420p MP4 encoder (libx264 when available), faststart index.
#include "explain_video/error.hpp"
#include "explain_video/video.hpp"
#include "video/ffmpeg_util.hpp"

#include <algorithm>
#include <thread>
#include <cstring>

namespace ev {

namespace {

using namespace ev::ffmpeg;

struct OutputContextDeleter {
  void operator()(AVFormatContext* p) const {
    if (p == nullptr) return;
    if (p->pb != nullptr && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
    avformat_free_context(p);
  }
};
using OutputContextPtr = std::unique_ptr<AVFormatContext, OutputContextDeleter>;

const char* const kX264Presets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                    "medium",    "slow",      "slower",   "veryslow", "placebo"};

}  // namespace

struct VideoWriter::Impl {
  std::string path;
  VideoWriterOptions opt;
  int encWidth = 0, encHeight = 0;  // padded to even
  OutputContextPtr oc;
  CodecContextPtr enc;
  AVStream* stream = nullptr;
  FramePtr yuv;
  PacketPtr pkt;
  SwsPtr sws;
  // The RGB the converter reads: a copy (padded to the even size for odd inputs) in a 64-byte
  // aligned buffer with zeroed slack after it (write()).
  struct AvFree {
    void operator()(uint8_t* p) const { av_free(p); }
  };
  std::unique_ptr<uint8_t, AvFree> padded;
  size_t paddedBytes = 0;
  int64_t written = 0;
  bool closed = false;

  [[noreturn]] void failOutput(const std::string& problem) const {
    throw Error(ErrorKind::Output, path + ": " + problem);
  }
  [[noreturn]] void failInternal(const std::string& problem) const {
    throw Error(ErrorKind::Internal, path + ": " + problem);
  }

  void open(const std::string& p, const VideoWriterOptions& o);
  void encode(const AVFrame* f);  // nullptr flushes
};

void VideoWriter::Impl::open(const std::string& p, const VideoWriterOptions& o) {
  initLogging();
  path = p;
  opt = o;
  if (opt.width <= 0 || opt.height <= 0) {
    throw Error(ErrorKind::Usage, path + ": video size must be positive, got " +
                                      std::to_string(opt.width) + "x" + std::to_string(opt.height));
  }
  if (opt.fpsNum <= 0 || opt.fpsDen <= 0) {
    throw Error(ErrorKind::Usage, path + ": frame rate must be positive, got " +
                                      std::to_string(opt.fpsNum) + "/" + std::to_string(opt.fpsDen));
  }
  if (opt.crf < 0 || opt.crf > 51) {
    throw Error(ErrorKind::Usage, path + ": crf must be in 0..51, got " + std::to_string(opt.crf));
  }
  if (std::find(std::begin(kX264Presets), std::end(kX264Presets), opt.preset) ==
      std::end(kX264Presets)) {
    throw Error(ErrorKind::Usage, path + ": unknown x264 preset '" + opt.preset +
                                      "' (ultrafast, superfast, veryfast, faster, fast, medium, "
                                      "slow, slower, veryslow, placebo)");
  }
  encWidth = opt.width + (opt.width & 1);
  encHeight = opt.height + (opt.height & 1);

  // Container: from the file name when FFmpeg knows it, else MP4.
  AVFormatContext* raw = nullptr;
  clearLastLogMessage();
  int ret = avformat_alloc_output_context2(&raw, nullptr, nullptr, path.c_str());
  if (ret < 0 || raw == nullptr) {
    raw = nullptr;
    ret = avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str());
  }
  if (ret < 0 || raw == nullptr) failInternal("cannot create an MP4 muxer (" + describe(ret) + ")");
  oc.reset(raw);

  // Open the file first so that path problems are reported before anything else.
  if (!(oc->oformat->flags & AVFMT_NOFILE)) {
    ret = avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (ret < 0) failOutput("cannot create output file (" + errorString(ret) + ")");
  }

  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  const bool isX264 = codec != nullptr;
  if (codec == nullptr) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
  if (codec == nullptr) failInternal("this FFmpeg has no H.264 encoder");

  enc.reset(avcodec_alloc_context3(codec));
  if (!enc) failInternal("out of memory allocating the encoder");
  enc->width = encWidth;
  enc->height = encHeight;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->time_base = AVRational{opt.fpsDen, opt.fpsNum};
  enc->framerate = AVRational{opt.fpsNum, opt.fpsDen};
  enc->sample_aspect_ratio = AVRational{1, 1};
  // RGB is converted with the BT.709 matrix to limited range; say so in the stream.
  enc->colorspace = AVCOL_SPC_BT709;
  enc->color_primaries = AVCOL_PRI_BT709;
  enc->color_trc = AVCOL_TRC_BT709;
  enc->color_range = AVCOL_RANGE_MPEG;
  if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  // libavcodec's default is one thread; x264's frame threads keep the output deterministic.
  enc->thread_count = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (isX264) {
    av_opt_set(enc->priv_data, "preset", opt.preset.c_str(), 0);
    av_opt_set(enc->priv_data, "crf", std::to_string(opt.crf).c_str(), 0);
  }
  clearLastLogMessage();
  ret = avcodec_open2(enc.get(), codec, nullptr);
  if (ret < 0) failInternal(std::string("cannot open the ") + codec->name + " encoder (" + describe(ret) + ")");

  stream = avformat_new_stream(oc.get(), nullptr);
  if (stream == nullptr) failInternal("out of memory creating the video stream");
  ret = avcodec_parameters_from_context(stream->codecpar, enc.get());
  if (ret < 0) failInternal("cannot set stream parameters (" + describe(ret) + ")");
  stream->time_base = enc->time_base;
  stream->avg_frame_rate = enc->framerate;
  stream->r_frame_rate = enc->framerate;

  AVDictionary* muxOpts = nullptr;
  av_dict_set(&muxOpts, "movflags", "+faststart", 0);
  clearLastLogMessage();
  ret = avformat_write_header(oc.get(), &muxOpts);
  av_dict_free(&muxOpts);
  if (ret < 0) failOutput("cannot write the file header (" + describe(ret) + ")");

  yuv.reset(av_frame_alloc());
  pkt.reset(av_packet_alloc());
  if (!yuv || !pkt) failInternal("out of memory");
  yuv->format = AV_PIX_FMT_YUV420P;
  yuv->width = encWidth;
  yuv->height = encHeight;
  ret = av_frame_get_buffer(yuv.get(), 0);
  if (ret < 0) failInternal("cannot allocate a frame (" + describe(ret) + ")");

  SwsContext* ctx = sws_getContext(encWidth, encHeight, AV_PIX_FMT_RGB24, encWidth, encHeight,
                                   AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_ACCURATE_RND, nullptr,
                                   nullptr, nullptr);
  if (ctx == nullptr) failInternal("cannot create the RGB to YUV converter");
  sws.reset(ctx);
  sws_setColorspaceDetails(sws.get(), sws_getCoefficients(SWS_CS_DEFAULT), 1,
                           sws_getCoefficients(SWS_CS_ITU709), 0, 0, 1 << 16, 1 << 16);
}

void VideoWriter::Impl::encode(const AVFrame* f) {
  clearLastLogMessage();
  int ret = avcodec_send_frame(enc.get(), f);
  if (ret < 0) failInternal("the encoder rejected a frame (" + describe(ret) + ")");
  while (true) {
    ret = avcodec_receive_packet(enc.get(), pkt.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
    if (ret < 0) failInternal("encoding failed (" + describe(ret) + ")");
    av_packet_rescale_ts(pkt.get(), enc->time_base, stream->time_base);
    pkt->stream_index = stream->index;
    ret = av_interleaved_write_frame(oc.get(), pkt.get());  // takes the packet's data
    if (ret < 0) failOutput("cannot write video data (" + describe(ret) + ")");
  }
}

VideoWriter::VideoWriter(const std::string& path, const VideoWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->open(path, options);
}

VideoWriter::~VideoWriter() = default;  // an unclosed file is abandoned without a trailer

void VideoWriter::write(const Frame& frame) {
  Impl& m = *impl_;
  if (m.closed) throw Error(ErrorKind::Usage, m.path + ": write() after close()");
  const int w = m.opt.width, h = m.opt.height;
  if (frame.width != w || frame.height != h) {
    throw Error(ErrorKind::Usage, m.path + ": frame is " + std::to_string(frame.width) + "x" +
                                      std::to_string(frame.height) + " but the video is " +
                                      std::to_string(w) + "x" + std::to_string(h));
  }
  const size_t bytes = static_cast<size_t>(w) * h * 3;
  if (frame.rgb.size() != bytes) {
    throw Error(ErrorKind::Usage, m.path + ": frame has " + std::to_string(frame.rgb.size()) +
                                      " bytes of RGB, expected " + std::to_string(bytes));
  }

  // swscale's SIMD RGB24 reader loads up to 16 bytes past the last pixel (valgrind: "invalid
  // read of size 16" at the buffer's end), and its results depend on the source's alignment: the
  // same frames encoded twice in one process could differ. Convert from an aligned copy with
  // zeroed slack after it.
  constexpr size_t kSlack = 64;
  const int W = m.encWidth, H = m.encHeight;
  const size_t encBytes = static_cast<size_t>(W) * H * 3;
  if (m.paddedBytes != encBytes + kSlack) {
    m.padded.reset(static_cast<uint8_t*>(av_mallocz(encBytes + kSlack)));
    if (!m.padded) m.failInternal("out of memory");
    m.paddedBytes = encBytes + kSlack;
  }
  uint8_t* const buf = m.padded.get();
  const uint8_t* src = buf;
  if (W == w && H == h) {
    std::memcpy(buf, frame.rgb.data(), bytes);
  } else {
    // Pad to the even size by replicating the last column and row.
    const uint8_t* in = frame.rgb.data();
    for (int y = 0; y < H; ++y) {
      const uint8_t* s = in + static_cast<size_t>(std::min(y, h - 1)) * w * 3;
      uint8_t* d = buf + static_cast<size_t>(y) * W * 3;
      std::memcpy(d, s, static_cast<size_t>(w) * 3);
      if (W > w) std::memcpy(d + static_cast<size_t>(w) * 3, s + static_cast<size_t>(w - 1) * 3, 3);
    }
  }

  int ret = av_frame_make_writable(m.yuv.get());
  if (ret < 0) m.failInternal("cannot reuse the frame buffer (" + ffmpeg::errorString(ret) + ")");
  const uint8_t* srcData[4] = {src, nullptr, nullptr, nullptr};
  const int srcStride[4] = {m.encWidth * 3, 0, 0, 0};
  sws_scale(m.sws.get(), srcData, srcStride, 0, m.encHeight, m.yuv->data, m.yuv->linesize);
  m.yuv->pts = m.written;
  m.encode(m.yuv.get());
  ++m.written;
}

void VideoWriter::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  m.encode(nullptr);
  ffmpeg::clearLastLogMessage();
  int ret = av_write_trailer(m.oc.get());
  if (ret < 0) m.failOutput("cannot finish the file (" + ffmpeg::describe(ret) + ")");
  if (m.oc->pb != nullptr && !(m.oc->oformat->flags & AVFMT_NOFILE)) {
    ret = avio_closep(&m.oc->pb);
    if (ret < 0) m.failOutput("cannot close the file (" + ffmpeg::errorString(ret) + ")");
  }
}

}  // namespace ev
