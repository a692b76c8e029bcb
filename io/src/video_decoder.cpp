#include "video_decoder.hpp"

#include <chrono>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"
#include "ffmpeg_support.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace cleanplate::io {
namespace {

using Clock = std::chrono::steady_clock;
// As in OpenCV's backend: a source that sends nothing for 30 s is lost, not waited for forever.
constexpr auto read_timeout = std::chrono::seconds(30);

bool full_range(const AVFrame& frame, const AVPixFmtDescriptor& format) {
  switch (frame.format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P:
      return true;
    default:
      return frame.color_range == AVCOL_RANGE_JPEG || format.nb_components == 1;  // grey formats are full range
  }
}

// Whether the frame's first plane is its 8-bit luma, one byte a pixel (planar and semi-planar YUV, grey).
bool luma_first(const AVPixFmtDescriptor& format) {
  const AVComponentDescriptor& luma = format.comp[0];
  return !(format.flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) && luma.plane == 0 &&
         luma.depth == 8 && luma.step == 1 && luma.offset == 0;
}

}  // namespace

struct VideoDecoder::State {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  SwsContext* scale = nullptr;
  AVStream* stream = nullptr;
  bool grey = false;
  bool draining = false;  // the demuxer has ended: the decoder gives back what it holds
  bool buffered = false;  // `frame` holds the next frame already (a seek decoded it)
  int rotation = 0;       // degrees clockwise that turn the frames upright
  double fps = 0;
  double timestamp = 0;
  Clock::time_point deadline = Clock::now() + read_timeout;

  ~State() {
    sws_freeContext(scale);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }

  static int timed_out(void* state) { return Clock::now() > static_cast<State*>(state)->deadline; }

  // The next decoded frame into `frame`; false at the end. Damaged packets are skipped by the decoder.
  bool receive() {
    if (buffered) {
      buffered = false;
      return true;
    }
    for (;;) {
      const int received = avcodec_receive_frame(codec, frame);
      if (received == 0) return true;
      if (received == AVERROR_EOF || draining) return false;
      deadline = Clock::now() + read_timeout;
      if (av_read_frame(format, packet) < 0) {
        draining = true;
        avcodec_send_packet(codec, nullptr);
        continue;
      }
      if (packet->stream_index == stream->index) avcodec_send_packet(codec, packet);
      av_packet_unref(packet);
    }
  }

  cv::Mat image() {
    const AVPixFmtDescriptor* format = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
    cv::Mat result;
    if (grey && format && luma_first(*format)) {
      const cv::Mat luma(frame->height, frame->width, CV_8U, frame->data[0],
                         static_cast<std::size_t>(frame->linesize[0]));
      if (full_range(*frame, *format)) {
        luma.copyTo(result);
      } else {
        result.create(luma.size(), CV_8U);
        map_levels(luma, limited_to_full_range, result);
      }
    } else {
      result.create(frame->height, frame->width, CV_8UC3);
      scale =
          sws_getCachedContext(scale, frame->width, frame->height, static_cast<AVPixelFormat>(frame->format),
                               frame->width, frame->height, AV_PIX_FMT_BGR24, SWS_BICUBIC, nullptr, nullptr, nullptr);
      if (!scale) throw Error(std::string("no conversion from the pixel format ") + (format ? format->name : "?"));
      std::uint8_t* planes[] = {result.data};
      const int strides[] = {static_cast<int>(result.step[0])};
      sws_scale(scale, frame->data, frame->linesize, 0, frame->height, planes, strides);
      if (grey) {
        cv::Mat converted;  // into a new image: in place, OpenCV copies the source first
        cv::cvtColor(result, converted, cv::COLOR_BGR2GRAY);
        result = converted;
      }
    }
    if (rotation == 0) return result;
    cv::Mat upright;
    cv::rotate(result, upright,
               rotation == 90    ? cv::ROTATE_90_CLOCKWISE
               : rotation == 180 ? cv::ROTATE_180
                                 : cv::ROTATE_90_COUNTERCLOCKWISE);
    return upright;
  }

  std::int64_t start() const { return stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time; }

  double seconds(std::int64_t time) const {
    return time == AV_NOPTS_VALUE ? 0 : static_cast<double>(time - start()) * av_q2d(stream->time_base);
  }
};

VideoDecoder::VideoDecoder(const std::string& url, bool grey, int threads) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.grey = grey;
  quiet_ffmpeg();
  s.format = avformat_alloc_context();
  if (!s.format) throw Error("out of memory");
  s.format->interrupt_callback = {&State::timed_out, &s};
  if (const int opened = avformat_open_input(&s.format, url.c_str(), nullptr, nullptr); opened < 0)
    throw Error(av_error(opened));  // the context is freed and null
  if (const int found = avformat_find_stream_info(s.format, nullptr); found < 0) throw Error(av_error(found));
  const AVCodec* decoder = nullptr;
  const int index = av_find_best_stream(s.format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (index < 0 || !decoder) throw Error(index < 0 ? av_error(index) : "no decoder for its video");
  s.stream = s.format->streams[index];
  s.codec = avcodec_alloc_context3(decoder);
  s.packet = av_packet_alloc();
  s.frame = av_frame_alloc();
  if (!s.codec || !s.packet || !s.frame) throw Error("out of memory");
  if (const int copied = avcodec_parameters_to_context(s.codec, s.stream->codecpar); copied < 0)
    throw Error(av_error(copied));
  s.codec->pkt_timebase = s.stream->time_base;
  s.codec->thread_count = threads;
  if (const int opened = avcodec_open2(s.codec, decoder, nullptr); opened < 0) throw Error(av_error(opened));
  const AVRational rate = av_guess_frame_rate(s.format, s.stream, nullptr);
  s.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
  if (const auto* matrix = reinterpret_cast<const std::int32_t*>(
          av_stream_get_side_data(s.stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr))) {
    const long counterclockwise = std::lround(av_display_rotation_get(matrix));
    s.rotation = static_cast<int>(((-counterclockwise % 360) + 360) % 360);
    if (s.rotation % 90 != 0) s.rotation = 0;  // a tilt: left as it is
  }
}

VideoDecoder::~VideoDecoder() = default;

std::optional<cv::Mat> VideoDecoder::next() {
  if (!state_->receive()) return std::nullopt;
  state_->timestamp = state_->seconds(state_->frame->best_effort_timestamp);
  return state_->image();
}

bool VideoDecoder::skip() { return state_->receive(); }

long VideoDecoder::skip_to(long index) {
  State& s = *state_;
  // Read by frame threads as each packet is sent, so it holds from the next packet on.
  s.codec->skip_frame = AVDISCARD_NONREF;
  while (s.receive()) {
    const std::int64_t time = s.frame->best_effort_timestamp;
    const long number = time == AV_NOPTS_VALUE ? index : std::lround(s.seconds(time) * s.fps);
    if (number >= index) {
      s.buffered = true;
      return number;
    }
  }
  return -1;
}

bool VideoDecoder::seek(long index) {
  State& s = *state_;
  if (!(s.fps > 0)) return false;
  const double frame_ticks = 1 / (s.fps * av_q2d(s.stream->time_base));
  const std::int64_t target = s.start() + std::llround(static_cast<double>(index) * frame_ticks);
  s.deadline = Clock::now() + read_timeout;
  if (av_seek_frame(s.format, s.stream->index, target, AVSEEK_FLAG_BACKWARD) < 0) return false;
  avcodec_flush_buffers(s.codec);
  s.draining = s.buffered = false;
  while (s.receive()) {
    const std::int64_t time = s.frame->best_effort_timestamp;
    if (time == AV_NOPTS_VALUE) return false;
    if (static_cast<double>(time) >= static_cast<double>(target) - frame_ticks / 2) {
      s.buffered = true;
      return true;
    }
  }
  return true;  // past the end: next() says so
}

double VideoDecoder::fps() const { return state_->fps; }

long VideoDecoder::frame_count() const {
  const State& s = *state_;
  if (s.stream->nb_frames > 0) return static_cast<long>(s.stream->nb_frames);
  const double seconds = s.format->duration > 0 ? static_cast<double>(s.format->duration) / AV_TIME_BASE : 0;
  return seconds > 0 && s.fps > 0 ? std::lround(seconds * s.fps) : -1;
}

double VideoDecoder::timestamp() const { return state_->timestamp; }

}  // namespace cleanplate::io
