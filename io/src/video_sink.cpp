#include "cleanplate/io/video_sink.hpp"

#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"

namespace cleanplate::io {
namespace fs = std::filesystem;

VideoSink::VideoSink(const fs::path& path, cv::Size size, double fps, bool color) : file_(path), color_(color) {
  const std::string ext = path.extension().string();
  const int fourcc = ext == ".mp4" ? cv::VideoWriter::fourcc('a', 'v', 'c', '1') : cv::VideoWriter::fourcc('F', 'F', 'V', '1');
  writer_.open(file_.temporary().string(), cv::CAP_FFMPEG, fourcc, fps > 0 ? fps : 25, size, color);
  if (!writer_.isOpened()) throw Error("cannot write video '" + path.string() + "': the folder is not writable or the codec is missing");
}

void VideoSink::write(const cv::Mat& frame) {
  if (frame.channels() == 1 && color_) {
    cv::Mat bgr;
    cv::cvtColor(frame, bgr, cv::COLOR_GRAY2BGR);
    writer_.write(bgr);
  } else {
    writer_.write(frame);
  }
  ++frames_;
}

void VideoSink::finish() {
  writer_.release();
  file_.commit();
}

PngSequenceSink::PngSequenceSink(const fs::path& folder, std::string prefix) : folder_(folder), prefix_(std::move(prefix)) {
  std::error_code error;
  fs::create_directories(folder_, error);
  if (error) throw Error("cannot create folder '" + folder_.string() + "': " + error.message());
}

void PngSequenceSink::write(const cv::Mat& image, long number) {
  char name[64];
  std::snprintf(name, sizeof name, "%s%06ld.png", prefix_.c_str(), number);
  const fs::path path = folder_ / name;
  if (!cv::imwrite(path.string(), image)) throw Error("cannot write '" + path.string() + "'");
}

void write_png(const fs::path& path, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw Error("cannot encode '" + path.string() + "'");
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace cleanplate::io
