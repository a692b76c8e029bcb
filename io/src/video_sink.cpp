#include "cleanplate/io/video_sink.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <opencv2/imgcodecs.hpp>

#include "cleanplate/error.hpp"
#include "ffmpeg_support.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

namespace cleanplate::io {
namespace fs = std::filesystem;

struct VideoSink::Encoder {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;
  SwsContext* scale = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  // The frame's chroma planes hold grey's: the encoder copies the frame without changing it, and
  // av_frame_make_writable copies the planes into any new buffer.
  bool grey_chroma = false;
  std::string name;  // for messages

  ~Encoder() {
    av_packet_free(&packet);
    av_frame_free(&frame);
    sws_freeContext(scale);
    avcodec_free_context(&codec);
    if (format) {
      if (format->pb) avio_closep(&format->pb);
      avformat_free_context(format);
    }
  }

  void check(int code, const char* what) const {
    if (code < 0) throw Error("cannot write video '" + name + "': " + what + ": " + av_error(code));
  }

  // Encodes one frame (nullptr: flushes) and writes the packets it gives back.
  void send(const AVFrame* input) {
    check(avcodec_send_frame(codec, input), "encoding");
    for (;;) {
      const int received = avcodec_receive_packet(codec, packet);
      if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return;
      check(received, "encoding");
      if (packet->duration <= 0) packet->duration = 1;  // one frame: without it mp4 drops the last frame
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      check(av_interleaved_write_frame(format, packet), "writing");
    }
  }
};

// H.264 in .mp4 as browsers play it: yuv420p, even sizes (an odd last column or row is dropped, as
// OpenCV's writer does), the index up front (faststart). FFV1 elsewhere: lossless, any size.
VideoSink::VideoSink(const fs::path& path, cv::Size size, double fps, bool color, const VideoOptions& options)
    : file_(path), encoder_(std::make_unique<Encoder>()) {
  Encoder& e = *encoder_;
  e.name = path.string();
  quiet_ffmpeg();
  const bool h264 = path.extension() == ".mp4";
  const char* container = h264 ? "mp4" : path.extension() == ".avi" ? "avi" : "matroska";
  e.check(avformat_alloc_output_context2(&e.format, nullptr, container, file_.temporary().c_str()), "container");
  const AVCodec* codec = h264 ? avcodec_find_encoder_by_name("libx264") : avcodec_find_encoder(AV_CODEC_ID_FFV1);
  if (!codec)
    throw Error("cannot write video '" + e.name + "': FFmpeg has no " + (h264 ? "libx264" : "FFV1") + " encoder");
  e.stream = avformat_new_stream(e.format, nullptr);
  e.codec = avcodec_alloc_context3(codec);
  if (!e.stream || !e.codec) throw Error("cannot write video '" + e.name + "': out of memory");
  e.codec->width = h264 ? size.width & ~1 : size.width;
  e.codec->height = h264 ? size.height & ~1 : size.height;
  if (e.codec->width < 2 || e.codec->height < 2) throw Error("cannot write video '" + e.name + "': frames too small");
  e.codec->pix_fmt = h264 ? AV_PIX_FMT_YUV420P : color ? AV_PIX_FMT_BGR0 : AV_PIX_FMT_GRAY8;
  const AVRational rate = av_d2q(fps > 0 ? fps : 25, 100000);
  e.codec->framerate = rate;
  e.codec->time_base = av_inv_q(rate);
  e.stream->time_base = e.codec->time_base;
  e.codec->thread_count = options.threads;
  if (e.format->oformat->flags & AVFMT_GLOBALHEADER) e.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* settings = nullptr;
  if (h264) {
    av_dict_set(&settings, "preset", options.preset.c_str(), 0);
    if (options.lossless || options.fixed_quantizer)
      av_dict_set_int(&settings, "qp", options.lossless ? 0 : options.crf, 0);
    else
      av_dict_set_int(&settings, "crf", options.crf, 0);
    if (!color) av_dict_set(&settings, "x264-params", "chroma-me=0", 0);  // grey's chroma is flat: nothing to find
  }
  const int opened = avcodec_open2(e.codec, codec, &settings);
  av_dict_free(&settings);
  e.check(opened, h264 ? "libx264 (is the preset one of ultrafast ... veryslow?)" : "FFV1");
  e.check(avcodec_parameters_from_context(e.stream->codecpar, e.codec), "stream");
  e.check(avio_open(&e.format->pb, file_.temporary().c_str(), AVIO_FLAG_WRITE), "opening");
  AVDictionary* muxer = nullptr;
  if (h264) av_dict_set(&muxer, "movflags", "+faststart", 0);
  const int header = avformat_write_header(e.format, &muxer);
  av_dict_free(&muxer);
  e.check(header, "header");
  e.frame = av_frame_alloc();
  e.packet = av_packet_alloc();
  if (!e.frame || !e.packet) throw Error("cannot write video '" + e.name + "': out of memory");
  e.frame->format = e.codec->pix_fmt;
  e.frame->width = e.codec->width;
  e.frame->height = e.codec->height;
  e.check(av_frame_get_buffer(e.frame, 0), "frame");
}

VideoSink::~VideoSink() = default;

void VideoSink::write(const cv::Mat& frame) {
  Encoder& e = *encoder_;
  if (frame.depth() != CV_8U || (frame.channels() != 1 && frame.channels() != 3) || frame.cols < e.codec->width ||
      frame.rows < e.codec->height)
    throw Error("cannot write video '" + e.name + "': a frame is not 8-bit grey or BGR of the declared size");
  e.check(av_frame_make_writable(e.frame), "frame");
  if (frame.channels() == 1 && e.codec->pix_fmt == AV_PIX_FMT_YUV420P) {
    // Grey by hand: the luma mapped to the limited range, the chroma neutral. libswscale's general conversion
    // was 9% of `live -o`'s CPU at 1080p.
    cv::Mat luma(e.codec->height, e.codec->width, CV_8U, e.frame->data[0],
                 static_cast<std::size_t>(e.frame->linesize[0]));
    map_levels(frame(cv::Rect(0, 0, e.codec->width, e.codec->height)), full_to_limited_range, luma);
    if (!e.grey_chroma) {
      for (int plane = 1; plane <= 2; ++plane)
        std::memset(
            e.frame->data[plane], 128,
            static_cast<std::size_t>(e.frame->linesize[plane]) * static_cast<std::size_t>((e.codec->height + 1) / 2));
      e.grey_chroma = true;
    }
  } else {
    e.grey_chroma = false;
    const AVPixelFormat input = frame.channels() == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_BGR24;
    e.scale = sws_getCachedContext(e.scale, e.codec->width, e.codec->height, input, e.codec->width, e.codec->height,
                                   e.codec->pix_fmt, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!e.scale) throw Error("cannot write video '" + e.name + "': no conversion to the encoder's pixel format");
    const std::uint8_t* planes[] = {frame.data};
    const int strides[] = {static_cast<int>(frame.step[0])};
    sws_scale(e.scale, planes, strides, 0, e.codec->height, e.frame->data, e.frame->linesize);
  }
  e.frame->pts = frames_;
  e.send(e.frame);
  ++frames_;
}

void VideoSink::finish() {
  Encoder& e = *encoder_;
  e.send(nullptr);
  e.check(av_write_trailer(e.format), "trailer");
  e.check(avio_closep(&e.format->pb), "closing");
  file_.commit();
}

void concatenate_videos(const std::vector<fs::path>& parts, const fs::path& path) {
  AtomicFile file(path);
  const auto fail = [&](int code, const std::string& what) {
    if (code < 0) throw Error("cannot join videos into '" + path.string() + "': " + what + ": " + av_error(code));
  };
  AVFormatContext* output = nullptr;
  fail(avformat_alloc_output_context2(&output, nullptr, nullptr, file.temporary().c_str()), "container");
  const std::unique_ptr<AVFormatContext, void (*)(AVFormatContext*)> output_owner(output, [](AVFormatContext* f) {
    if (f->pb) avio_closep(&f->pb);
    avformat_free_context(f);
  });
  const std::unique_ptr<AVPacket, void (*)(AVPacket*)> packet(av_packet_alloc(),
                                                              [](AVPacket* p) { av_packet_free(&p); });
  AVStream* stream = nullptr;
  std::int64_t end = 0;  // in the output's time base: where the next part starts
  for (const fs::path& part : parts) {
    AVFormatContext* input = nullptr;
    fail(avformat_open_input(&input, part.c_str(), nullptr, nullptr), "opening " + part.string());
    const std::unique_ptr<AVFormatContext*, void (*)(AVFormatContext**)> input_owner(&input, avformat_close_input);
    fail(avformat_find_stream_info(input, nullptr), "reading " + part.string());
    if (input->nb_streams != 1) fail(AVERROR_INVALIDDATA, part.string() + " is not one video stream");
    const AVStream* source = input->streams[0];
    if (!stream) {  // the first part declares the stream: the encoders had the same settings
      stream = avformat_new_stream(output, nullptr);
      if (!stream) fail(AVERROR(ENOMEM), "stream");
      fail(avcodec_parameters_copy(stream->codecpar, source->codecpar), "stream");
      stream->codecpar->codec_tag = 0;
      stream->time_base = source->time_base;
      fail(avio_open(&output->pb, file.temporary().c_str(), AVIO_FLAG_WRITE), "opening");
      AVDictionary* muxer = nullptr;
      if (path.extension() == ".mp4") av_dict_set(&muxer, "movflags", "+faststart", 0);
      const int header = avformat_write_header(output, &muxer);
      av_dict_free(&muxer);
      fail(header, "header");
    }
    // The part's first frame starts where the previous part ended.
    std::int64_t first = AV_NOPTS_VALUE, last = end;
    while (av_read_frame(input, packet.get()) >= 0) {
      av_packet_rescale_ts(packet.get(), source->time_base, stream->time_base);
      if (first == AV_NOPTS_VALUE) first = packet->pts;
      packet->pts += end - first;
      packet->dts += end - first;
      last = std::max(last, packet->pts + packet->duration);
      packet->stream_index = stream->index;
      packet->pos = -1;
      fail(av_interleaved_write_frame(output, packet.get()), "writing");
    }
    end = last;
  }
  if (!stream) throw Error("cannot join videos into '" + path.string() + "': no parts");
  fail(av_write_trailer(output), "trailer");
  fail(avio_closep(&output->pb), "closing");
  file.commit();
}

PngSequenceSink::PngSequenceSink(const fs::path& folder, std::string prefix)
    : folder_(folder), prefix_(std::move(prefix)) {
  std::error_code error;
  fs::create_directories(folder_, error);
  if (error) throw Error("cannot create folder '" + folder_.string() + "': " + error.message());
}

fs::path PngSequenceSink::path(long number) const {
  char name[64];
  std::snprintf(name, sizeof name, "%s%06ld.png", prefix_.c_str(), number);
  return folder_ / name;
}

void PngSequenceSink::write(const cv::Mat& image, long number) {
  const fs::path file = path(number);
  if (!cv::imwrite(file.string(), image)) throw Error("cannot write '" + file.string() + "'");
}

void write_png(const fs::path& path, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw Error("cannot encode '" + path.string() + "'");
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace cleanplate::io
