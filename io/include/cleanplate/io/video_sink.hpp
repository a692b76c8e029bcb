// Sinks that never present a half-written file as complete: each writes to a temporary name in
// the destination folder and renames it on finish() (an AtomicFile). A sink destroyed without
// finish() (an error unwinding) removes its temporary file.
//
//   VideoSink        H.264 in .mp4 (libx264 through FFmpeg's libraries, with a preset and threads);
//                    FFV1 (lossless) in .mkv/.avi
//   concatenate_videos  parts written by VideoSink joined into one file without re-encoding
//   PngSequenceSink  one PNG per frame with CDnet naming: bin000001.png, ...
//   write_png        a single image (a background, a chart), written atomically
#pragma once
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cleanplate/io/atomic_file.hpp"

namespace cleanplate::io {

struct VideoOptions {
  std::string preset = "veryfast";  // libx264's speed preset: ultrafast ... veryslow
  int crf = 23;                     // libx264's constant quality (0-51, lower is better); 23 is its default
  bool lossless = false;            // H.264 at qp 0: exact frames (grey: decoders show them exactly)
  bool fixed_quantizer = false;     // H.264 at qp = crf, no rate control: for masks (mask_video_options)
  int threads = 0;                  // encoder threads; 0: as many as the machine has
};

// mask.mp4's settings, `video`'s but for its own preset, exact or not, a fixed quantizer and one
// thread: x264's CRF rate control first looks at every frame at half size, a quarter of its time on a
// 1080p mask, and black and white need no rate control; the encoder is one stage of graphs that keep
// every core busy, where x264's frame threads only add their frames' memory traffic.
inline VideoOptions mask_video_options(VideoOptions video, bool lossless, std::string preset) {
  video.lossless = lossless;
  video.preset = std::move(preset);
  video.fixed_quantizer = true;
  video.threads = 1;
  return video;
}

class VideoSink {
 public:
  VideoSink(const std::filesystem::path& path, cv::Size size, double fps, bool color, const VideoOptions& options = {});
  ~VideoSink();
  VideoSink(const VideoSink&) = delete;
  VideoSink& operator=(const VideoSink&) = delete;
  void write(const cv::Mat& frame);  // 8-bit, grey or BGR (either is converted to what was declared)
  void finish();                     // flushes the encoder, closes and renames into place
  long frames() const { return frames_; }

 private:
  struct Encoder;  // FFmpeg's contexts
  AtomicFile file_;
  std::unique_ptr<Encoder> encoder_;
  long frames_ = 0;
};

// Joins videos that VideoSinks of the same size, rate and options wrote (mpirun's ranks, each a
// range of frames) into `path`, in order, by copying their packets: no re-encoding. Atomic.
void concatenate_videos(const std::vector<std::filesystem::path>& parts, const std::filesystem::path& path);

class PngSequenceSink {
 public:
  PngSequenceSink(const std::filesystem::path& folder, std::string prefix = "bin");
  void write(const cv::Mat& image, long number);  // number 1 -> bin000001.png
  std::filesystem::path path(long number) const;  // where write() puts image `number`
 private:
  std::filesystem::path folder_;
  std::string prefix_;
};

// Encodes `image` as PNG and writes it under a temporary name, then renames it into place.
void write_png(const std::filesystem::path& path, const cv::Mat& image);

}  // namespace cleanplate::io
