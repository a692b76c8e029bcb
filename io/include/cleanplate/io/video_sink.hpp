// Sinks that never present a half-written file as complete: each writes to a temporary name in
// the destination folder and renames it on finish() (an AtomicFile). A sink destroyed without
// finish() (an error unwinding) removes its temporary file.
//
//   VideoSink      H.264 (avc1) in .mp4, which every player reads; FFV1 (lossless) in .mkv/.avi
//   PngSequenceSink  one PNG per frame with CDnet naming: bin000001.png, ...
//   write_png        a single image (a background, a chart), written atomically
#pragma once
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>

#include "cleanplate/io/atomic_file.hpp"

namespace cleanplate::io {

class VideoSink {
 public:
  VideoSink(const std::filesystem::path& path, cv::Size size, double fps, bool color);
  void write(const cv::Mat& frame);  // 8-bit, grey or BGR as declared
  void finish();                     // closes and renames into place
  long frames() const { return frames_; }

 private:
  AtomicFile file_;
  cv::VideoWriter writer_;
  bool color_;
  long frames_ = 0;
};

class PngSequenceSink {
 public:
  PngSequenceSink(const std::filesystem::path& folder, std::string prefix = "bin");
  void write(const cv::Mat& image, long number);  // number 1 -> bin000001.png
 private:
  std::filesystem::path folder_;
  std::string prefix_;
};

// Encodes `image` as PNG and writes it under a temporary name, then renames it into place.
void write_png(const std::filesystem::path& path, const cv::Mat& image);

}  // namespace cleanplate::io
