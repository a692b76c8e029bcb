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

// The bytes grow by a frame's 8-bit values for each frame kept (the robust method and svd read the
// levels in place; no frame is copied as floats).
TEST(MemoryPlan, NeededBytesGrowByAFrameOfLevels) {
  const MemoryPlan p = plan(1024 * mebibyte);
  EXPECT_DOUBLE_EQ(p.needed_bytes(1001) - p.needed_bytes(1000), static_cast<double>(vga.values()));
  EXPECT_DOUBLE_EQ(p.needed_bytes(11) - p.needed_bytes(10), static_cast<double>(vga.values()));
  // godec's working copies: 8 more bytes a value for each fitted frame (at most 436 at 640x480).
  const MemoryPlan godec = plan(1024 * mebibyte, stages::Method::godec);
  EXPECT_DOUBLE_EQ(godec.needed_bytes(300) - p.needed_bytes(300), 8.0 * 300 * static_cast<double>(vga.values()));
  EXPECT_DOUBLE_EQ(godec.needed_bytes(2000) - p.needed_bytes(2000), 8.0 * 436 * static_cast<double>(vga.values()));
}

TEST(MemoryPlan, AVideoFitsOrGetsTheLargestSampleThatFits) {
  const MemoryPlan p = plan(128 * mebibyte);
  EXPECT_TRUE(p.fits(100));
  EXPECT_FALSE(p.fits(5000));
  const long sample = p.sample_size(5000);
  EXPECT_TRUE(p.fits(sample));
  EXPECT_FALSE(p.fits(sample + 1));
  EXPECT_GE(sample, MemoryPlan::fewest_sampled_frames);
  EXPECT_LT(sample, 5000);
  // Never more than the fit uses, nor more than the video has.
  EXPECT_EQ(plan(64 * 1024 * mebibyte).sample_size(5000), fitted_frames(vga.values()));
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

// 512 frames up to 2^18 values (every shared sequence), 2^27 values' worth above, 128 from 2^20.
TEST(MemoryPlan, FittedFramesShrinkWithTheFrameToAFloorOf128) {
  EXPECT_EQ(fitted_frames(320 * 240), 512);
  EXPECT_EQ(fitted_frames(1 << 18), 512);
  EXPECT_EQ(fitted_frames(640 * 480), 436);
  EXPECT_EQ(fitted_frames(1280 * 720), 145);
  EXPECT_EQ(fitted_frames(1920 * 1080), 128);
  EXPECT_EQ(fitted_frames(1920 * 1080 * 3), 128);
  EXPECT_EQ(plan(64 * 1024 * mebibyte, stages::Method::robust, {.width = 1920, .height = 1080, .channels = 1})
                .sample_size(5000),
            128);
}

TEST(MemoryPlan, FittedStrideKeepsAtMostTheFittedColumns) {
  EXPECT_EQ(fitted_stride(1, 512), 1);
  EXPECT_EQ(fitted_stride(512, 512), 1);
  EXPECT_EQ(fitted_stride(513, 512), 2);
  EXPECT_EQ(fitted_stride(1700, 512), 4);  // 425 columns
  for (long most : {128L, 436L, 512L})
    for (long columns : {most + 1, 1700L, 9000L, 100000L}) {
      const long stride = fitted_stride(columns, most);
      EXPECT_LE((columns + stride - 1) / stride, most) << columns;
      EXPECT_GT((columns + stride - 2) / (stride - 1), most) << columns;  // the smallest
    }
}

TEST(MemoryPlan, TheModelStreamCountsItsFrames) {
  const MemoryPlan without(vga, stages::Method::robust, 1, 16, 200 * mebibyte),
      with(vga, stages::Method::robust, 1, 16, 200 * mebibyte, /*codes_model_stream=*/true);
  EXPECT_DOUBLE_EQ(with.needed_bytes(10) - without.needed_bytes(10),
                   MemoryPlan::bytes_per_value_for_model_stream * static_cast<double>(vga.values()));
  // Its memory comes out of the sample: fewer frames fit beside it.
  EXPECT_LT(with.sample_size(1700), without.sample_size(1700));
}

TEST(MemoryPlan, DefaultBudgetIsOneGibibyteUnlessNotEvenASampleFits) {
  const std::int64_t gibibyte = 1024 * mebibyte;
  const MemoryPlan vga_plan(vga, stages::Method::robust, 1, 16, 0, true);
  EXPECT_EQ(default_memory_budget(vga_plan, 24 * gibibyte), gibibyte);
  EXPECT_EQ(default_memory_budget(vga_plan, 2 * gibibyte), gibibyte / 2);  // a quarter of a small machine

  // 3840x2160 grey: 1 GiB does not hold a 16-frame sample beside the split's buffers. The budget
  // becomes what the largest sample needs, so the run goes ahead with it; at most half the machine.
  const stages::FrameGeometry uhd{.width = 3840, .height = 2160, .channels = 1};
  const MemoryPlan uhd_plan(uhd, stages::Method::robust, 1, 16, 0, true);
  ASSERT_GT(uhd_plan.needed_bytes(MemoryPlan::fewest_sampled_frames), static_cast<double>(gibibyte));
  const std::int64_t budget = default_memory_budget(uhd_plan, 24 * gibibyte);
  EXPECT_EQ(budget, static_cast<std::int64_t>(uhd_plan.needed_bytes(uhd_plan.most_fitted_frames())));
  EXPECT_EQ(MemoryPlan(uhd, stages::Method::robust, 1, 16, budget, true).sample_size(900),
            uhd_plan.most_fitted_frames());
  EXPECT_EQ(default_memory_budget(uhd_plan, 4 * gibibyte), 2 * gibibyte);
}

TEST(MemoryPlan, TheSplitKeepsAtMostFourFramesInFlight) {
  EXPECT_EQ(MemoryPlan(vga, stages::Method::robust, 1, 16, mebibyte).split_frames_in_flight(), 4);
  EXPECT_EQ(MemoryPlan(vga, stages::Method::robust, 1, 2, mebibyte).split_frames_in_flight(), 2);
}

}  // namespace
}  // namespace cleanplate::pipeline
