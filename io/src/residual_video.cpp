#include "residual_video.hpp"

#include <algorithm>
#include <cstring>

#include "cleanplate/error.hpp"
#include "ffmpeg_error.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
}

namespace cleanplate::io {

std::int64_t block_bitmap_bytes(int width, int height) {
  return (std::int64_t{blocks_across(width)} * blocks_across(height) + 7) / 8;
}

std::vector<std::uint8_t> foreground_blocks(std::span<const std::uint8_t> mask, int width, int height) {
  const int columns = blocks_across(width);
  std::vector<std::uint8_t> blocks(static_cast<std::size_t>(block_bitmap_bytes(width, height)), 0);
  const std::int64_t pixels = std::int64_t{width} * height;
  for (std::int64_t byte = 0; byte < static_cast<std::int64_t>(mask.size()); ++byte) {
    if (!mask[static_cast<std::size_t>(byte)]) continue;  // most of a frame is background
    for (std::int64_t p = byte * 8; p < std::min(pixels, byte * 8 + 8); ++p) {
      if (!(mask[static_cast<std::size_t>(byte)] & (0x80 >> (p % 8)))) continue;
      const std::int64_t block = p / width / residual_block * columns + p % width / residual_block;
      blocks[static_cast<std::size_t>(block / 8)] |= static_cast<std::uint8_t>(0x80 >> (block % 8));
    }
  }
  return blocks;
}

void apply_blocks(std::span<std::uint8_t> background, std::span<const std::uint8_t> blocks, int width, int channels) {
  const int height = static_cast<int>(background.size() / static_cast<std::size_t>(width * channels));
  const int columns = blocks_across(width);
  for (std::size_t block = 0; block < blocks.size() * 8; ++block) {
    if (!(blocks[block / 8] & (0x80 >> (block % 8)))) continue;
    const int x = static_cast<int>(block % static_cast<std::size_t>(columns)) * residual_block;
    const int y0 = static_cast<int>(block / static_cast<std::size_t>(columns)) * residual_block;
    for (int y = y0; y < std::min(height, y0 + residual_block); ++y)
      std::memset(
          &background[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) *
                      static_cast<std::size_t>(channels)],
          frame_coded_base, static_cast<std::size_t>(std::min(residual_block, width - x) * channels));
  }
}

namespace {

// The loops of residual_planes and add_residual, with the channel count known to the compiler: a
// grey frame's loop then runs without a stride and vectorizes.
template <int channels>
void halve_into_planes(const std::uint8_t* __restrict frame, const std::uint8_t* __restrict base,
                       std::uint8_t* __restrict planes, std::size_t pixels) {
  for (int c = 0; c < channels; ++c)
    for (std::size_t p = 0; p < pixels; ++p) {
      const int r = frame[p * channels + c] - base[p * channels + c];
      const int magnitude = (std::abs(r) + 1) >> 1;  // halved, half away from zero
      planes[c * pixels + p] =
          static_cast<std::uint8_t>(std::min(residual_bias + (r < 0 ? -magnitude : magnitude), 255));
    }
}

template <int channels>
void add_planes(std::uint8_t* __restrict base, const std::uint8_t* __restrict planes, std::size_t pixels) {
  for (int c = 0; c < channels; ++c)
    for (std::size_t p = 0; p < pixels; ++p) {
      std::uint8_t& level = base[p * channels + c];
      level = static_cast<std::uint8_t>(
          std::clamp(level + residual_scale * (planes[c * pixels + p] - residual_bias), 0, 255));
    }
}

}  // namespace

std::vector<std::uint8_t> residual_planes(std::span<const std::uint8_t> frame, std::span<const std::uint8_t> base,
                                          int channels) {
  std::vector<std::uint8_t> planes(frame.size());
  if (channels == 1)
    halve_into_planes<1>(frame.data(), base.data(), planes.data(), frame.size());
  else
    halve_into_planes<3>(frame.data(), base.data(), planes.data(), frame.size() / 3);
  return planes;
}

void add_residual(std::span<std::uint8_t> base, std::span<const std::uint8_t> planes, int channels) {
  if (channels == 1)
    add_planes<1>(base.data(), planes.data(), base.size());
  else
    add_planes<3>(base.data(), planes.data(), base.size() / 3);
}

namespace {

AVPixelFormat residual_format(int channels) { return channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_YUV444P; }

// The planes of a frame the codec holds <-> channels x height x width bytes.
void copy_planes(const std::uint8_t* planes, AVFrame* frame, int channels) {
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < frame->height; ++y)
      std::memcpy(frame->data[c] + static_cast<std::ptrdiff_t>(y) * frame->linesize[c],
                  planes + (static_cast<std::size_t>(c) * static_cast<std::size_t>(frame->height) +
                            static_cast<std::size_t>(y)) *
                               static_cast<std::size_t>(frame->width),
                  static_cast<std::size_t>(frame->width));
}

std::vector<std::uint8_t> planes_of(const AVFrame* frame, int channels) {
  const auto width = static_cast<std::size_t>(frame->width), height = static_cast<std::size_t>(frame->height);
  std::vector<std::uint8_t> planes(static_cast<std::size_t>(channels) * width * height);
  for (int c = 0; c < channels; ++c)
    for (std::size_t y = 0; y < height; ++y)
      std::memcpy(planes.data() + (static_cast<std::size_t>(c) * height + y) * width,
                  frame->data[c] + static_cast<std::ptrdiff_t>(y) * frame->linesize[c], width);
  return planes;
}

}  // namespace

// The three libavcodec objects an encoder or a decoder holds, freed together.
struct CodecHandles {
  AVCodecContext* codec = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  // False when out of memory.
  bool allocate(const AVCodec* with) {
    codec = avcodec_alloc_context3(with);
    frame = av_frame_alloc();
    packet = av_packet_alloc();
    return codec && frame && packet;
  }
  ~CodecHandles() {
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
  }
};

struct ResidualEncoder::State : CodecHandles {
  int channels = 1;
  std::int64_t frames = 0;
  void check(int code, const char* what) const {
    if (code < 0) throw Error(std::string("cannot code the model's foreground: ") + what + ": " + av_error(code));
  }
};

ResidualEncoder::ResidualEncoder(int width, int height, int channels, double fps, int crf, const std::string& preset)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  quiet_ffmpeg();
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) throw Error("cannot code the model's foreground: FFmpeg has no libx264 encoder");
  s.channels = channels;
  if (!s.allocate(codec)) throw Error("cannot code the model's foreground: out of memory");
  s.codec->width = width;
  s.codec->height = height;
  s.codec->pix_fmt = residual_format(channels);
  s.codec->color_range = AVCOL_RANGE_JPEG;  // full range: readers take the levels as they are
  const AVRational rate = av_d2q(fps > 0 ? fps : 25, 100000);
  s.codec->framerate = rate;
  s.codec->time_base = av_inv_q(rate);
  s.codec->gop_size = 250;  // x264's own default, which ffmpeg's command line also uses
  AVDictionary* settings = nullptr;
  av_dict_set(&settings, "preset", preset.c_str(), 0);
  av_dict_set_int(&settings, "crf", crf, 0);
  // PSNR tuning (no psychovisual rate-distortion, no adaptive quantization): both spend bits to keep
  // texture where a picture is flat, and a residual is flat exactly where the frame is background, so
  // they coded its noise. Measured on highway: a quarter smaller at the same PSNR, also in the
  // foreground's region.
  av_dict_set(&settings, "tune", "psnr", 0);
  // A quarter of medium's 40 frames of lookahead: the encoder and the writer then hold 30 fewer
  // frames (about 0.3 GB less at 1080p). A residual's background is near zero, so macroblock-tree
  // has little worth carrying far ahead: BD-rate against libx264 on highway, Board, IBMtest2 and
  // Foliage -7.1% with 20 frames, -7.2% with 10, -6.3% with 5 (bench/model_vs_codecs.py).
  av_dict_set(&settings, "x264-params", "rc-lookahead=10", 0);
  const int opened = avcodec_open2(s.codec, codec, &settings);
  av_dict_free(&settings);
  s.check(opened, "libx264 (is the preset one of ultrafast ... veryslow?)");
  s.frame->format = s.codec->pix_fmt;
  s.frame->width = width;
  s.frame->height = height;
  s.check(av_frame_get_buffer(s.frame, 0), "frame");
}

ResidualEncoder::~ResidualEncoder() = default;

std::vector<std::vector<std::uint8_t>> ResidualEncoder::encode(std::span<const std::uint8_t> planes) {
  State& s = *state_;
  if (planes.empty()) {
    s.check(avcodec_send_frame(s.codec, nullptr), "encoding");
  } else {
    s.check(av_frame_make_writable(s.frame), "frame");
    copy_planes(planes.data(), s.frame, s.channels);
    s.frame->pts = s.frames++;
    s.check(avcodec_send_frame(s.codec, s.frame), "encoding");
  }
  std::vector<std::vector<std::uint8_t>> packets;
  for (;;) {
    const int received = avcodec_receive_packet(s.codec, s.packet);
    if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return packets;
    s.check(received, "encoding");
    packets.emplace_back(s.packet->data, s.packet->data + s.packet->size);
    av_packet_unref(s.packet);
  }
}

struct ResidualDecoder::State : CodecHandles {
  int width = 0, height = 0, channels = 1;
  std::string name;
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("cannot read '" + name + "': the foreground video " + why);
  }
  void check(int code) const {
    if (code < 0) fail("does not decode: " + av_error(code));
  }
};

ResidualDecoder::ResidualDecoder(int width, int height, int channels, std::string name)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  quiet_ffmpeg();
  s.width = width, s.height = height, s.channels = channels, s.name = std::move(name);
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  if (!codec) throw Error("cannot read '" + s.name + "': FFmpeg has no H.264 decoder");
  if (!s.allocate(codec)) throw Error("cannot read '" + s.name + "': out of memory");
  s.check(avcodec_open2(s.codec, codec, nullptr));
}

ResidualDecoder::~ResidualDecoder() = default;

std::vector<std::vector<std::uint8_t>> ResidualDecoder::decode(std::span<const std::uint8_t> packet) {
  State& s = *state_;
  if (packet.empty()) {
    s.check(avcodec_send_packet(s.codec, nullptr));
  } else {
    // The packet is copied: the decoder reads up to AV_INPUT_BUFFER_PADDING_SIZE bytes past its end.
    s.check(av_new_packet(s.packet, static_cast<int>(packet.size())));
    std::memcpy(s.packet->data, packet.data(), packet.size());
    const int sent = avcodec_send_packet(s.codec, s.packet);
    av_packet_unref(s.packet);
    s.check(sent);
  }
  std::vector<std::vector<std::uint8_t>> frames;
  for (;;) {
    const int received = avcodec_receive_frame(s.codec, s.frame);
    if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return frames;
    s.check(received);
    const auto format = static_cast<AVPixelFormat>(s.frame->format);
    const bool planes_fit =
        s.channels == 1 ? format == AV_PIX_FMT_GRAY8 || format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P
                        : format == AV_PIX_FMT_YUV444P || format == AV_PIX_FMT_YUVJ444P;
    if (s.frame->width != s.width || s.frame->height != s.height || !planes_fit)
      s.fail("has frames of another size or layout than the model's");
    frames.push_back(planes_of(s.frame, s.channels));
    av_frame_unref(s.frame);
  }
}

}  // namespace cleanplate::io
