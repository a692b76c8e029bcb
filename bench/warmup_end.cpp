// bench_warmup_end: the end of `live`'s warm-up at a given size, on 25 generated frames (a smooth
// background, noise of 3 levels, a seventh of the values covered by brighter foreground): the
// two-pass mode, then every pixel's noise level, computed from the 8-bit frames as `live` does
// (`estimate_noise(frames, background, geometry)`) and, side by side, the way it did before: from
// a float residual matrix built first. Prints the medians, the ratio, and whether the two give the
// same levels.
//
//   bench_warmup_end [WIDTH HEIGHT] [REPEATS]   (default 1920 1080, 5)
#include <algorithm>
#include <chrono>
#include <cleanplate/stages/mask.hpp>
#include <cleanplate/stages/robust_background.hpp>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace stages = cleanplate::stages;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int width = argc > 2 ? std::atoi(argv[1]) : 1920, height = argc > 2 ? std::atoi(argv[2]) : 1080;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5, warmup = 25;
  if (width < 1 || height < 1 || repeats < 1) {
    std::fprintf(stderr, "usage: bench_warmup_end [WIDTH HEIGHT] [REPEATS]\n");
    return 2;
  }
  const stages::FrameGeometry geometry{width, height, 1};
  stages::FrameLevels frames(geometry.values(), warmup);
  std::mt19937 random(1);
  std::normal_distribution<float> noise(0, 3);
  for (Eigen::Index j = 0; j < warmup; ++j)
    for (Eigen::Index i = 0; i < frames.rows(); ++i) {
      const float value =
          50 + static_cast<float>(i % 1000) * 0.15f + noise(random) + ((i / 5000 + j) % 7 == 0 ? 60 : 0);
      frames(i, j) = static_cast<std::uint8_t>(std::clamp(value, 0.0f, 255.0f));
    }
  std::vector<double> mode_times, levels_times, matrix_times;
  bool same = true;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    const Eigen::VectorXf mode = stages::background_mode(frames);
    mode_times.push_back(seconds_since(start));
    start = Clock::now();
    const stages::NoiseModel from_levels = stages::estimate_noise(frames, mode, geometry);
    levels_times.push_back(seconds_since(start));
    start = Clock::now();
    const stages::NoiseModel from_matrix =
        stages::estimate_noise(Eigen::MatrixXf(stages::frame_values(frames).colwise() - mode), geometry);
    matrix_times.push_back(seconds_since(start));
    same = same && from_levels.global_sigma == from_matrix.global_sigma &&
           cv::countNonZero(from_levels.pixel_sigma != from_matrix.pixel_sigma) == 0;
  }
  const double mode = median(mode_times), levels = median(levels_times), matrix = median(matrix_times);
  std::printf("warm-up end at %dx%d, %d frames, medians of %d runs\n", width, height, warmup, repeats);
  std::printf("mode (two passes):                          %.3f s\n", mode);
  std::printf("noise levels from the 8-bit frames (live):  %.3f s\n", levels);
  std::printf("noise levels from a float residual matrix:  %.3f s\n", matrix);
  std::printf("noise levels, matrix / frames: %.2f; warm-up end %.3f s against %.3f s; same levels: %s\n",
              matrix / levels, mode + levels, mode + matrix, same ? "yes" : "NO");
  return same ? 0 : 1;
}
