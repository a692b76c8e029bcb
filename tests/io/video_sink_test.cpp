// The FFmpeg-library video writer: files that decode to what was written, at the declared size and
// rate; exact masks with --lossless-masks; nothing left behind when a sink is abandoned.
#include <gtest/gtest.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/video_sink.hpp>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <random>

#include "fresh_folder.hpp"

namespace cleanplate {
namespace {
namespace fs = std::filesystem;

using test::fresh_folder;

// Frame t: a smooth gradient with a bright block at x = 3 t, so frames differ and order shows.
cv::Mat test_frame(int t, cv::Size size, bool color) {
  cv::Mat grey(size, CV_8U);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x) grey.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(40 + x + y);
  cv::rectangle(grey, cv::Rect((3 * t) % (size.width - 12), 10, 12, 12), cv::Scalar(250), cv::FILLED);
  if (!color) return grey;
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  bgr.forEach<cv::Vec3b>([](cv::Vec3b& p, const int*) { p[0] = static_cast<std::uint8_t>(p[0] / 2); });
  return bgr;
}

std::vector<cv::Mat> read_all(const fs::path& path) {
  cv::VideoCapture capture(path.string(), cv::CAP_FFMPEG);
  std::vector<cv::Mat> frames;
  for (cv::Mat frame; capture.read(frame);) frames.push_back(frame.clone());
  return frames;
}

// The frames as a player shows them, made grey.
std::vector<cv::Mat> read_grey(const fs::path& path) {
  std::vector<cv::Mat> frames = read_all(path);
  for (cv::Mat& frame : frames) cv::cvtColor(frame, frame, cv::COLOR_BGR2GRAY);
  return frames;
}

TEST(VideoSink, Mp4DecodesToTheFramesWrittenGreyAndColour) {
  const fs::path folder = fresh_folder("mp4");
  const cv::Size size(81, 61);  // odd: H.264 in yuv420p keeps 80 x 60, as OpenCV's writer did
  for (const bool color : {false, true}) {
    const fs::path path = folder / (color ? "colour.mp4" : "grey.mp4");
    io::VideoSink sink(path, size, 30, color, {.preset = "ultrafast"});
    for (int t = 0; t < 40; ++t) sink.write(test_frame(t, size, color));
    EXPECT_FALSE(fs::exists(path)) << "complete only after finish()";
    sink.finish();
    cv::VideoCapture capture(path.string(), cv::CAP_FFMPEG);
    EXPECT_NEAR(capture.get(cv::CAP_PROP_FPS), 30, 0.01);
    const std::vector<cv::Mat> frames = read_all(path);
    ASSERT_EQ(frames.size(), 40u);
    for (int t = 0; t < 40; t += 13) {
      cv::Mat expected = test_frame(t, size, color)(cv::Rect(0, 0, 80, 60));
      if (!color) cv::cvtColor(expected, expected, cv::COLOR_GRAY2BGR);  // what a player shows
      ASSERT_EQ(frames[static_cast<std::size_t>(t)].size(), cv::Size(80, 60));
      EXPECT_GT(cv::PSNR(frames[static_cast<std::size_t>(t)], expected), 30) << t;
    }
  }
}

TEST(VideoSink, LosslessMasksAreExact) {
  const fs::path path = fresh_folder("lossless") / "mask.mp4";
  const cv::Size size(64, 48);
  std::mt19937 random(3);
  std::vector<cv::Mat> written;
  io::VideoSink sink(path, size, 25, false, {.preset = "ultrafast", .lossless = true});
  for (int t = 0; t < 20; ++t) {
    cv::Mat mask(size, CV_8U);
    cv::randu(mask, 0, 2);
    written.push_back(mask * 255);
    sink.write(written.back());
  }
  sink.finish();
  const std::vector<cv::Mat> frames = read_grey(path);
  ASSERT_EQ(frames.size(), written.size());
  for (std::size_t t = 0; t < frames.size(); ++t) EXPECT_EQ(cv::norm(frames[t], written[t], cv::NORM_INF), 0) << t;
}

// mask.mp4's default: lossy H.264 at a fixed quantizer (qp 23), which must still threshold back to
// the masks written, edges included.
TEST(VideoSink, FixedQuantizerMasksThresholdToTheMasksWritten) {
  const fs::path path = fresh_folder("fixed-quantizer") / "mask.mp4";
  const cv::Size size(320, 240);
  std::vector<cv::Mat> written;
  io::VideoSink sink(path, size, 25, false, {.preset = "ultrafast", .fixed_quantizer = true});
  for (int t = 0; t < 30; ++t) {
    cv::Mat mask = cv::Mat::zeros(size, CV_8U);
    cv::ellipse(mask, {40 + 7 * t, 120}, {30, 50}, 20 * t, 0, 360, cv::Scalar(255), cv::FILLED);
    cv::rectangle(mask, cv::Rect(250 - 3 * t, 30 + t, 17, 9), cv::Scalar(255), cv::FILLED);
    mask.at<std::uint8_t>(200, 10 + t) = 255;  // a lone pixel
    written.push_back(mask);
    sink.write(mask);
  }
  sink.finish();
  const std::vector<cv::Mat> frames = read_grey(path);
  ASSERT_EQ(frames.size(), written.size());
  for (std::size_t t = 0; t < frames.size(); ++t) EXPECT_EQ(cv::countNonZero((frames[t] > 127) != written[t]), 0) << t;
}

TEST(VideoSink, FfvOneInMkvIsLosslessAtAnySize) {
  const fs::path path = fresh_folder("ffv1") / "frames.mkv";
  const cv::Size size(33, 17);
  {
    io::VideoSink sink(path, size, 25, true);
    for (int t = 0; t < 5; ++t) sink.write(test_frame(t, size, true));
    sink.finish();
  }
  const std::vector<cv::Mat> frames = read_all(path);
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(cv::norm(frames[4], test_frame(4, size, true), cv::NORM_INF), 0);
}

// Parts that sinks wrote (mpirun's ranks), joined without re-encoding: every frame, in order, at
// the parts' rate; exact for FFV1.
TEST(VideoSink, PartsJoinIntoOneVideo) {
  const fs::path folder = fresh_folder("join");
  const cv::Size size(64, 48);
  for (const char* extension : {".mp4", ".mkv"}) {
    std::vector<fs::path> parts;
    int t = 0;
    for (int frames : {7, 1, 12}) {
      parts.push_back(folder / ("part" + std::to_string(parts.size()) + extension));
      io::VideoSink sink(parts.back(), size, 30, false, {.preset = "ultrafast"});
      for (int i = 0; i < frames; ++i) sink.write(test_frame(t++, size, false));
      sink.finish();
    }
    const fs::path joined = folder / (std::string("joined") + extension);
    io::concatenate_videos(parts, joined);
    const std::vector<cv::Mat> frames = read_all(joined);
    ASSERT_EQ(frames.size(), 20u) << extension;
    EXPECT_NEAR(cv::VideoCapture(joined.string(), cv::CAP_FFMPEG).get(cv::CAP_PROP_FPS), 30, 0.01) << extension;
    for (int i : {0, 6, 7, 8, 19}) {
      cv::Mat expected;
      cv::cvtColor(test_frame(i, size, false), expected, cv::COLOR_GRAY2BGR);
      const double psnr = cv::PSNR(frames[static_cast<std::size_t>(i)], expected);
      EXPECT_GT(psnr, std::string(extension) == ".mkv" ? 300 : 30) << extension << " frame " << i;
    }
  }
  EXPECT_THROW(io::concatenate_videos({folder / "missing.mp4"}, folder / "none.mp4"), Error);
  EXPECT_FALSE(fs::exists(folder / "none.mp4"));
}

TEST(VideoSink, AbandonedOrBadSinksLeaveNothing) {
  const fs::path folder = fresh_folder("abandoned");
  {
    io::VideoSink sink(folder / "cut.mp4", cv::Size(64, 48), 25, false);
    sink.write(cv::Mat(48, 64, CV_8U, cv::Scalar(9)));
  }  // destroyed without finish(): an error unwinding
  EXPECT_TRUE(fs::is_empty(folder));
  EXPECT_THROW(io::VideoSink(folder / "x.mp4", cv::Size(64, 48), 25, false, {.preset = "warp-speed"}), Error);
  EXPECT_TRUE(fs::is_empty(folder));
  io::VideoSink sink(folder / "y.mp4", cv::Size(64, 48), 25, false);
  EXPECT_THROW(sink.write(cv::Mat(10, 10, CV_8U)), Error);
  EXPECT_THROW(sink.write(cv::Mat(48, 64, CV_32F)), Error);
}

}  // namespace
}  // namespace cleanplate
