// Folders of frames and sequences with ground truth: natural order, and the CDnet and SBI2015
// layouts (numbered from 1 or 0, with or without temporalROI.txt and ROI.bmp).
#include <gtest/gtest.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/ground_truth.hpp>
#include <cleanplate/io/video_source.hpp>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "fresh_folder.hpp"

namespace cleanplate {
namespace {
namespace fs = std::filesystem;

using test::fresh_folder;

// Frame k is a flat grey image of level 10 k, so the order read shows in the pixels.
void write_frame(const fs::path& path, int k) { cv::imwrite(path.string(), cv::Mat(6, 8, CV_8U, cv::Scalar(10 * k))); }

TEST(Folders, NaturalOrderPutsFrame2BeforeFrame10) {
  EXPECT_TRUE(io::natural_less("frame_2.jpg", "frame_10.jpg"));
  EXPECT_FALSE(io::natural_less("frame_10.jpg", "frame_2.jpg"));
  EXPECT_TRUE(io::natural_less("a9", "b1"));
  EXPECT_TRUE(io::natural_less("in000009.png", "in000010.png"));
  EXPECT_EQ(io::file_number("out/in000012.png"), 12);
  EXPECT_EQ(io::file_number("frame_7.jpg"), 7);
  EXPECT_EQ(io::file_number("background.png"), -1);

  const fs::path folder = fresh_folder("natural");
  for (int k = 1; k <= 12; ++k) write_frame(folder / ("frame_" + std::to_string(k) + ".png"), k);
  io::VideoSource source(folder.string());
  for (int k = 1; k <= 12; ++k) {
    const auto frame = source.next();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->image.at<unsigned char>(0, 0), 10 * k) << "frame " << frame->index;
  }
  EXPECT_FALSE(source.next());
}

// A printf pattern reads the same frames as the folder that holds them, with no OpenCV in between
// (OpenCV's image reader said 1 fps and warned at the end), and both play at 25 fps unless told.
TEST(Folders, PatternAndFolderGiveTheSameFramesAt25FpsUnlessTold) {
  const fs::path folder = fresh_folder("pattern");
  for (int k = 3; k <= 14; ++k) {  // numbered from 3: the pattern finds the first file
    char file[32];
    std::snprintf(file, sizeof file, "in%06d.png", k);
    write_frame(folder / file, k);
  }
  io::VideoSource pattern((folder / "in%06d.png").string()), images(folder.string());
  EXPECT_EQ(pattern.kind(), io::SourceKind::image_sequence);
  EXPECT_EQ(pattern.frame_count(), 12);
  EXPECT_EQ(images.frame_count(), 12);
  EXPECT_EQ(pattern.fps(), io::default_image_fps);
  EXPECT_EQ(images.fps(), io::default_image_fps);
  EXPECT_EQ(pattern.bytes(), images.bytes());
  for (int k = 3; k <= 14; ++k) {
    const auto a = pattern.next(), b = images.next();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->image.at<unsigned char>(0, 0), 10 * k);
    EXPECT_EQ(b->image.at<unsigned char>(0, 0), 10 * k);
    EXPECT_DOUBLE_EQ(a->timestamp, (k - 3) / io::default_image_fps);
  }
  EXPECT_FALSE(pattern.next());
  EXPECT_EQ(io::VideoSource((folder / "in%06d.png").string(), {.fps = 10}).fps(), 10);
  EXPECT_EQ(io::VideoSource(folder.string(), {.fps = 12.5}).fps(), 12.5);
  EXPECT_THROW(io::VideoSource((folder / "gt%06d.png").string()), Error);  // matches nothing
  EXPECT_THROW(io::pattern_files((folder / "in%s.png").string()), Error);  // not a number
  EXPECT_THROW(io::pattern_files((folder / "%d/in%06d.png").string()), Error);
}

// An SBI2015-style sequence: in/ or input/, files numbered from 0, optionally temporalROI.txt in
// that numbering (without a final newline, naming one frame past the end as some sets do).
fs::path write_sequence(const std::string& name, const std::string& input, const std::string& roi_text) {
  const fs::path folder = fresh_folder(name);
  fs::create_directories(folder / input);
  fs::create_directories(folder / "groundtruth");
  char file[32];
  for (int k = 0; k < 10; ++k) {
    std::snprintf(file, sizeof file, "in%06d.png", k);
    write_frame(folder / input / file, k);
    std::snprintf(file, sizeof file, "gt%06d.png", k);
    cv::imwrite((folder / "groundtruth" / file).string(), cv::Mat(6, 8, CV_8U, cv::Scalar(k % 2 ? 255 : 0)));
  }
  if (!roi_text.empty()) std::ofstream(folder / "temporalROI.txt") << roi_text;
  return folder;
}

TEST(Folders, SequenceNumberedFromZeroWithoutTemporalRoiScoresEveryFrame) {
  const auto sequence = io::open_cdnet_sequence(write_sequence("no-roi", "in", ""));
  EXPECT_EQ(sequence.input.filename(), "in");
  EXPECT_EQ(sequence.first, 1);
  EXPECT_EQ(sequence.last, 10);
  EXPECT_EQ(sequence.labels(2).at<unsigned char>(0, 0), 255);  // position 2 is file 1
  EXPECT_EQ(sequence.labels(3).at<unsigned char>(0, 0), 0);
  EXPECT_TRUE(sequence.roi.empty());
}

TEST(Folders, SequenceNumberedFromZeroWithTemporalRoiInItsOwnNumbering) {
  const auto sequence = io::open_cdnet_sequence(write_sequence("roi", "input", "3 10"));
  EXPECT_EQ(sequence.first, 4);  // file 3 is the 4th frame
  EXPECT_EQ(sequence.last, 10);  // file 10 does not exist: the last frame, file 9
  EXPECT_THROW(io::open_cdnet_sequence(write_sequence("bad-roi", "input", "three")), Error);
  EXPECT_THROW(io::open_cdnet_sequence(fresh_folder("empty")), Error);
}

TEST(Folders, FolderOfSequencesIsExpandedInNaturalOrder) {
  const fs::path parent = fresh_folder("set");
  for (const char* name : {"seq10", "seq2"})
    fs::rename(write_sequence(std::string("tmp-") + name, "in", ""), parent / name);
  fs::create_directories(parent / "notes");
  const auto found = io::find_sequences({parent});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].filename(), "seq2");
  EXPECT_EQ(found[1].filename(), "seq10");
  EXPECT_THROW(io::find_sequences({parent / "notes"}), Error);
}

}  // namespace
}  // namespace cleanplate
