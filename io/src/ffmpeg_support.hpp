// What the FFmpeg-library reader and writer share (private to cleanplate::io): FFmpeg's error text
// (ffmpeg_error.hpp), and video luma in the limited range (16..235) <-> grey levels 0..255.
// The levels are mapped by plain loops on purpose: cv::LUT runs on OpenCV's oneTBB pool, and
// called from a thread outside the flow graph (the live reader) it took the graph's worker away
// from the online step: `live` at 1080p lost 20% of its speed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

#include "ffmpeg_error.hpp"

namespace cleanplate::io {

// v -> to + (min(max(v, from), last) - from) * numerator / denominator, rounded: video luma's
// limited range (16..235) to grey levels 0..255 and back.
struct LevelMap {
  std::uint16_t from, last, to, numerator, denominator;
  // The division by the denominator as a multiplication: x / d = (x * multiplier) >> (16 + shift)
  // for every x the map makes (below 2^16; a test checks every level).
  static constexpr int shift = 7;
  constexpr std::uint16_t multiplier() const {
    return static_cast<std::uint16_t>(((1u << (16 + shift)) + denominator - 1) / denominator);
  }
};
inline constexpr LevelMap limited_to_full_range{16, 235, 0, 255, 219};
inline constexpr LevelMap full_to_limited_range{0, 255, 16, 219, 255};

// `out` must have `in`'s size and be 8-bit, one channel (either may have row padding). In 16-bit
// integers, exact (rounding half up: no level falls on a half), which vectorize 32 pixels an
// instruction where a table lookup does not (a table was 5% of `live`'s CPU at 1080p, 32-bit
// arithmetic 2.9% with the writer's map).
inline void map_levels(const cv::Mat& in, LevelMap map, cv::Mat& out) {
  const int width = in.cols;  // a local: through uint8_t* stores, a member would be reloaded each pixel
  const std::uint16_t multiplier = map.multiplier(), half = map.denominator / 2;
  for (int y = 0; y < in.rows; ++y) {
    const std::uint8_t* __restrict levels = in.ptr<std::uint8_t>(y);
    std::uint8_t* __restrict mapped = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      const std::uint16_t v =
          std::min<std::uint16_t>(std::max<std::uint16_t>(levels[x], map.from), map.last) - map.from;
      const std::uint16_t scaled = v * map.numerator + half;  // at most 55,972
      const std::uint16_t high = static_cast<std::uint16_t>((std::uint32_t{scaled} * multiplier) >> 16);
      mapped[x] = static_cast<std::uint8_t>(map.to + (high >> LevelMap::shift));
    }
  }
}

}  // namespace cleanplate::io
