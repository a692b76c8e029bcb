// The progress line's text (drawn only on a terminal, so checked here as a string).
#include <gtest/gtest.h>

#include <cleanplate/pipeline/progress.hpp>

namespace cleanplate::pipeline {
namespace {

TEST(Progress, LineShowsFramesRateEtaAndDrops) {
  EXPECT_EQ(progress_line("read", 250, 1000, 5.0), "read 250/1000 frames  50 fps  ETA 15 s");
  EXPECT_EQ(progress_line("live", 300, -1, 10.0), "live 300 frames  30 fps");
  EXPECT_EQ(progress_line("live", 300, -1, 10.0, 0), "live 300 frames  30 fps  0 dropped (0.0%)");
  EXPECT_EQ(progress_line("live", 297, -1, 9.9, 3), "live 297 frames  30 fps  3 dropped (1.0%)");
  EXPECT_EQ(progress_line("live", 0, -1, 0.0, 0), "live 0 frames  0 fps  0 dropped (0.0%)");
}

}  // namespace
}  // namespace cleanplate::pipeline
