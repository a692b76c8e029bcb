// What the FFmpeg-library reader and writer share (private to cleanplate::io): FFmpeg's error text,
// and video luma in the limited range (16..235) <-> grey levels 0..255.
// The levels are mapped by plain loops on purpose: cv::LUT runs on OpenCV's oneTBB pool, and
// called from a thread outside the flow graph (the live reader) it took the graph's worker away
// from the online step: `live` at 1080p lost 20% of its speed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace cleanplate::io {

// FFmpeg's own messages stay off stderr ("moov atom not found", libx264's statistics): a failure is
// reported once, in one line that ends with FFmpeg's reason (av_error).
inline void quiet_ffmpeg() { av_log_set_level(AV_LOG_FATAL); }

inline std::string av_error(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

// v -> to + (min(max(v, from), last) - from) * ratio, rounded: video luma's limited range
// (16..235) to grey levels 0..255 and back.
struct LevelMap {
  std::uint32_t from, last, to;
  std::uint32_t ratio;  // in 1/65536
};
constexpr std::uint32_t in_65536ths(double ratio) { return static_cast<std::uint32_t>(ratio * 65536 + 0.5); }
inline constexpr LevelMap limited_to_full_range{16, 235, 0, in_65536ths(255.0 / 219)};
inline constexpr LevelMap full_to_limited_range{0, 255, 16, in_65536ths(219.0 / 255)};

// `out` must have `in`'s size and be 8-bit, one channel (either may have row padding). In integers,
// which vectorize where a table lookup does not (a table was 5% of `live`'s CPU at 1080p, float
// arithmetic 2.5% at 4K). The levels are those of the exact map rounded: the ratio's rounding moves
// a level by at most 255 / 2^17 = 0.002, and neither map comes within 1/146 of a half (a test
// checks every level).
inline void map_levels(const cv::Mat& in, LevelMap map, cv::Mat& out) {
  const int width = in.cols;  // a local: through uint8_t* stores, a member would be reloaded each pixel
  for (int y = 0; y < in.rows; ++y) {
    const std::uint8_t* __restrict levels = in.ptr<std::uint8_t>(y);
    std::uint8_t* __restrict mapped = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x) {
      const std::uint32_t v = std::min(std::max<std::uint32_t>(levels[x], map.from), map.last) - map.from;
      mapped[x] = static_cast<std::uint8_t>(map.to + ((v * map.ratio + 32768) >> 16));
    }
  }
}

}  // namespace cleanplate::io
