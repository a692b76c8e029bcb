// separate's memory plan: which videos are read once, how large a sample is, what is refused.
#include "cleanplate/pipeline/memory_plan.hpp"

#include <gtest/gtest.h>

#include "cleanplate/error.hpp"

namespace cleanplate::pipeline {
namespace {

constexpr std::int64_t mebibyte = 1024 * 1024;
const stages::FrameGeometry vga{.width = 640, .height = 480, .channels = 1};

MemoryPlan plan(std::int64_t budget, stages::Method method = stages::Method::robust,
                const stages::FrameGeometry& geometry = vga) {
  return MemoryPlan(geometry, method, /*rank=*/1, /*frames_in_flight=*/16, budget);
}

// The bytes grow by a frame's 8-bit values for each frame kept beyond the float copies and the
// fitted frames (the slope a long video's matrix has).
TEST(MemoryPlan, NeededBytesGrowByAFrameOfLevelsPastTheCopiedFrames) {
  const MemoryPlan p = plan(1024 * mebibyte);
  EXPECT_DOUBLE_EQ(p.needed_bytes(1001) - p.needed_bytes(1000), static_cast<double>(vga.values()));
  // Below 128 frames each also takes a float copy: 4 more bytes a value.
  EXPECT_DOUBLE_EQ(p.needed_bytes(11) - p.needed_bytes(10), 5.0 * static_cast<double>(vga.values()));
  // godec's working copies: 8 more bytes a value for each fitted frame (at most 512).
  const MemoryPlan godec = plan(1024 * mebibyte, stages::Method::godec);
  EXPECT_DOUBLE_EQ(godec.needed_bytes(300) - p.needed_bytes(300), 8.0 * 300 * static_cast<double>(vga.values()));
  EXPECT_DOUBLE_EQ(godec.needed_bytes(2000) - p.needed_bytes(2000), 8.0 * 512 * static_cast<double>(vga.values()));
}

TEST(MemoryPlan, AVideoFitsOrGetsTheLargestSampleThatFits) {
  const MemoryPlan p = plan(256 * mebibyte);
  EXPECT_TRUE(p.fits(100));
  EXPECT_FALSE(p.fits(5000));
  const long sample = p.sample_size(5000);
  EXPECT_TRUE(p.fits(sample));
  EXPECT_FALSE(p.fits(sample + 1));
  EXPECT_GE(sample, MemoryPlan::fewest_sampled_frames);
  EXPECT_LT(sample, 5000);
  // Never more than the fit uses, nor more than the video has.
  EXPECT_EQ(plan(64 * 1024 * mebibyte).sample_size(5000), MemoryPlan::most_fitted_frames);
  EXPECT_EQ(plan(64 * 1024 * mebibyte).sample_size(40), 40);
}

TEST(MemoryPlan, TooSmallABudgetIsRefusedInOneLine) {
  const MemoryPlan p = plan(4 * mebibyte);
  try {
    p.sample_size(1000);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-memory 4.0 MiB is too small for 640x480x1 frames: a sample of 16"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(plan(256 * mebibyte).check(5000), Error);
  EXPECT_NO_THROW(plan(256 * mebibyte).check(100));
}

TEST(MemoryPlan, FittedStrideKeepsAtMost512Columns) {
  EXPECT_EQ(fitted_stride(1), 1);
  EXPECT_EQ(fitted_stride(512), 1);
  EXPECT_EQ(fitted_stride(513), 2);
  EXPECT_EQ(fitted_stride(1700), 4);  // 425 columns
  for (long columns : {513L, 1700L, 9000L, 100000L}) {
    const long stride = fitted_stride(columns);
    EXPECT_LE((columns + stride - 1) / stride, MemoryPlan::most_fitted_frames) << columns;
    EXPECT_GT((columns + stride - 2) / (stride - 1), MemoryPlan::most_fitted_frames) << columns;  // the smallest
  }
}

TEST(MemoryPlan, TheSplitKeepsAtMostEightFramesInFlight) {
  EXPECT_EQ(MemoryPlan(vga, stages::Method::robust, 1, 16, mebibyte).split_frames_in_flight(), 8);
  EXPECT_EQ(MemoryPlan(vga, stages::Method::robust, 1, 4, mebibyte).split_frames_in_flight(), 4);
}

}  // namespace
}  // namespace cleanplate::pipeline
