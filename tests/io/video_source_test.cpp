// VideoSource on video files (FFmpeg's libraries): the frames, rate and count OpenCV's decoder
// gives; grey frames from the luma plane at least as close to what was written as OpenCV's BGR turned
// grey; exact seeks; rotated videos turned upright as ffmpeg and players show them. The luma range
// maps (computed in float) give every level the exact map rounds to.
#include <gtest/gtest.h>

#include <cleanplate/io/video_sink.hpp>
#include <cleanplate/io/video_source.hpp>
#include <cstdlib>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "../../io/src/ffmpeg_support.hpp"  // private to the io library: its level maps
#include "fresh_folder.hpp"

namespace cleanplate {
namespace {
namespace fs = std::filesystem;

struct TestVideo {
  fs::path path;
  std::vector<cv::Mat> written;  // grey
};

// Frame t: a colour gradient with a bright block at x = 3 t (frames differ and order shows), in
// H.264 (B-frames: decoding order is not display order) or FFV1 in Matroska (no frame count stored).
TestVideo test_video(const std::string& name, int frames) {
  TestVideo video{test::fresh_folder("source-" + name) / name, {}};
  const cv::Size size(81, 61);
  io::VideoSink sink(video.path, size, 25, true, {.preset = "veryfast"});
  for (int t = 0; t < frames; ++t) {
    cv::Mat frame(size, CV_8UC3), grey;
    frame.forEach<cv::Vec3b>([](cv::Vec3b& p, const int* at) {
      p = cv::Vec3b(static_cast<std::uint8_t>(40 + 2 * at[1]), static_cast<std::uint8_t>(30 + 2 * at[0]), 90);
    });
    cv::rectangle(frame, cv::Rect((3 * t) % 60, 10, 12, 12), cv::Scalar(220, 210, 200), cv::FILLED);
    sink.write(frame);
    cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
    video.written.push_back(grey);
  }
  sink.finish();
  return video;
}

// Of `b` cropped to `a`'s size (H.264 in yuv420p keeps even sizes).
double mean_absolute_difference(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b(cv::Rect(0, 0, a.cols, a.rows)), cv::NORM_L1) / static_cast<double>(a.total());
}

std::vector<cv::Mat> opencv_frames(const fs::path& path) {
  cv::VideoCapture capture(path.string(), cv::CAP_FFMPEG);
  std::vector<cv::Mat> frames;
  for (cv::Mat frame; capture.read(frame);) frames.push_back(frame.clone());
  return frames;
}

std::vector<cv::Mat> source_frames(io::VideoSource& source) {
  std::vector<cv::Mat> frames;
  while (auto frame = source.next()) {
    EXPECT_EQ(frame->index, static_cast<long>(frames.size()));
    frames.push_back(frame->image);
  }
  return frames;
}

TEST(VideoSource, VideoFilesDecodeAsOpenCvDecodesThem) {
  for (const char* name : {"frames.mp4", "frames.mkv"}) {
    const TestVideo video = test_video(name, 30);
    const fs::path& path = video.path;
    const std::vector<cv::Mat> expected = opencv_frames(path);
    ASSERT_EQ(expected.size(), 30u) << name;

    io::VideoSource colour(path.string());
    EXPECT_EQ(colour.frame_count(), 30) << name;
    EXPECT_NEAR(colour.fps(), 25, 1e-9) << name;
    EXPECT_EQ(colour.size(), expected[0].size()) << name;
    const std::vector<cv::Mat> bgr = source_frames(colour);
    ASSERT_EQ(bgr.size(), expected.size()) << name;
    for (std::size_t t = 0; t < bgr.size(); ++t) EXPECT_EQ(cv::norm(bgr[t], expected[t], cv::NORM_INF), 0) << t;

    // Grey from the luma plane, which is not subsampled or clipped as the way through BGR is.
    io::VideoSource grey_source(path.string(), {.format = io::FrameFormat::grey});
    const std::vector<cv::Mat> grey = source_frames(grey_source);
    ASSERT_EQ(grey.size(), expected.size()) << name;
    for (std::size_t t = 0; t < grey.size(); ++t) {
      cv::Mat through_bgr;
      cv::cvtColor(expected[t], through_bgr, cv::COLOR_BGR2GRAY);
      ASSERT_EQ(grey[t].type(), CV_8UC1);
      const double error = mean_absolute_difference(grey[t], video.written[t]);
      EXPECT_LE(error, mean_absolute_difference(through_bgr, video.written[t])) << name << " frame " << t;
      EXPECT_LE(error, 1.5) << name << " frame " << t;
    }
  }
}

TEST(VideoSource, SeekGivesTheFrameThatReadingInOrderGives) {
  const fs::path path = test_video("seek.mp4", 60).path;
  io::VideoSource in_order(path.string(), {.format = io::FrameFormat::grey});
  const std::vector<cv::Mat> frames = source_frames(in_order);
  ASSERT_EQ(frames.size(), 60u);
  io::VideoSource source(path.string(), {.format = io::FrameFormat::grey});
  for (const long index : {17L, 1L, 59L, 0L, 30L, 31L}) {
    ASSERT_TRUE(source.seek(index)) << index;
    const auto frame = source.next();
    ASSERT_TRUE(frame) << index;
    EXPECT_EQ(frame->index, index);
    EXPECT_EQ(cv::norm(frame->image, frames[static_cast<std::size_t>(index)], cv::NORM_INF), 0) << index;
  }
  ASSERT_TRUE(source.seek(58));
  EXPECT_TRUE(source.next());
  EXPECT_TRUE(source.next());
  EXPECT_FALSE(source.next()) << "the video has 60 frames";
}

// For a sample: x264's non-reference B-frames are not decoded, so some frames asked for give way to
// the next frame others refer to (x264 puts at most 3 B-frames in a row); each frame comes with its
// own number and exactly the image reading in order gives it.
TEST(VideoSource, SkipNearGivesTheFrameAskedOrOneShortlyAfterWithItsNumber) {
  const fs::path path = test_video("near.mp4", 60).path;
  io::VideoSource in_order(path.string(), {.format = io::FrameFormat::grey});
  const std::vector<cv::Mat> frames = source_frames(in_order);
  ASSERT_EQ(frames.size(), 60u);
  io::VideoSource source(path.string(), {.format = io::FrameFormat::grey});
  long moved_on = 0, previous = -1;
  for (long asked = 0; asked < 60; asked += 3) {
    if (!source.skip_near(asked)) {
      EXPECT_GT(asked, 56) << "only the last frames may lie past the last frame others refer to";
      break;
    }
    const auto frame = source.next();
    ASSERT_TRUE(frame) << asked;
    EXPECT_GE(frame->index, asked);
    EXPECT_LE(frame->index, asked + 3);
    EXPECT_GT(frame->index, previous);
    previous = frame->index;
    moved_on += frame->index > asked;
    EXPECT_EQ(cv::norm(frame->image, frames[static_cast<std::size_t>(frame->index)], cv::NORM_INF), 0) << asked;
  }
  EXPECT_GT(moved_on, 0) << "no frame was left undecoded: are there no non-reference B-frames?";
}

// The writer puts grey into the luma plane through a table (to 16..235) with neutral chroma, the
// source takes it back through the inverse table: every level within one, and grey in colour too.
TEST(VideoSource, GreyWrittenLosslesslyReadsBackWithinOneLevel) {
  const fs::path path = test::fresh_folder("source-grey") / "grey.mp4";
  cv::Mat ramp(16, 256, CV_8U);
  ramp.forEach<std::uint8_t>([](std::uint8_t& v, const int* at) { v = static_cast<std::uint8_t>(at[1]); });
  io::VideoSink sink(path, ramp.size(), 25, false, {.preset = "ultrafast", .lossless = true});
  for (int t = 0; t < 3; ++t) sink.write(ramp);
  sink.finish();
  io::VideoSource grey(path.string(), {.format = io::FrameFormat::grey}), colour(path.string());
  for (int t = 0; t < 3; ++t) {
    const auto frame = grey.next();
    ASSERT_TRUE(frame);
    EXPECT_LE(cv::norm(frame->image, ramp, cv::NORM_INF), 1) << t;
    const auto bgr = colour.next();
    ASSERT_TRUE(bgr);
    std::vector<cv::Mat> channels;
    cv::split(bgr->image, channels);
    EXPECT_LE(cv::norm(channels[0], channels[2], cv::NORM_INF), 1) << "neutral chroma, frame " << t;
    EXPECT_LE(cv::norm(channels[1], ramp, cv::NORM_INF), 2) << t;
  }
  EXPECT_FALSE(grey.next());
}

// ffmpeg's own decoding is the reference: OpenCV 4.6 turns such videos the wrong way (its issue 22088).
TEST(VideoSource, RotatedVideoIsTurnedUprightAsFfmpegShowsIt) {
  const fs::path path = test_video("level.mp4", 5).path, folder = path.parent_path(), rotated = folder / "rotated.mp4";
  const std::string rotate = "ffmpeg -nostdin -v error -y -i '" + path.string() +
                             "' -c copy -metadata:s:v rotate=90 '" + rotated.string() + "'",
                    first = "ffmpeg -nostdin -v error -y -i '" + rotated.string() + "' -frames:v 1 '" +
                            (folder / "first.png").string() + "'";
  ASSERT_EQ(std::system(rotate.c_str()), 0) << rotate;
  ASSERT_EQ(std::system(first.c_str()), 0) << first;
  io::VideoSource level_source(path.string()), rotated_source(rotated.string());
  EXPECT_EQ(rotated_source.size(), cv::Size(60, 80));
  const std::vector<cv::Mat> level = source_frames(level_source), frames = source_frames(rotated_source);
  ASSERT_EQ(frames.size(), 5u);
  ASSERT_EQ(level.size(), 5u);
  const cv::Mat shown = cv::imread((folder / "first.png").string());
  ASSERT_EQ(shown.size(), frames[0].size());
  EXPECT_LT(cv::norm(frames[0], shown, cv::NORM_L1) / static_cast<double>(shown.total()), 1.0);
  for (std::size_t t = 0; t < frames.size(); ++t) {
    cv::Mat turned;
    cv::rotate(level[t], turned, cv::ROTATE_90_COUNTERCLOCKWISE);
    EXPECT_EQ(cv::norm(frames[t], turned, cv::NORM_INF), 0) << t;
  }
}

TEST(LevelMap, EveryLevelIsTheExactMapRounded) {
  struct Case {
    io::LevelMap map;
    double offset, scale;
  };
  for (const Case& c : {Case{io::limited_to_full_range, -16 * 255.0 / 219, 255.0 / 219},
                        Case{io::full_to_limited_range, 16, 219.0 / 255}}) {
    cv::Mat levels(1, 256, CV_8U), mapped(1, 256, CV_8U);
    for (int v = 0; v < 256; ++v) levels.at<std::uint8_t>(v) = static_cast<std::uint8_t>(v);
    io::map_levels(levels, c.map, mapped);
    for (int v = 0; v < 256; ++v)
      EXPECT_EQ(mapped.at<std::uint8_t>(v), cv::saturate_cast<std::uint8_t>(c.offset + c.scale * v)) << "level " << v;
  }
}

}  // namespace
}  // namespace cleanplate
