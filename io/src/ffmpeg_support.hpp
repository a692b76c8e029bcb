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

// v -> offset + scale v, rounded, in 0..255.
struct LevelMap {
  float offset, scale;
};
inline constexpr LevelMap limited_to_full_range{-16 * 255.0f / 219, 255.0f / 219};
inline constexpr LevelMap full_to_limited_range{16, 219.0f / 255};

// `out` must have `in`'s size and be 8-bit, one channel (either may have row padding). In float,
// which vectorizes where a table lookup does not (a table was 5% of `live`'s CPU at 1080p). The
// levels are those of the exact map rounded: neither map comes within 1/146 of a half, far beyond
// float's error (a test checks every level).
inline void map_levels(const cv::Mat& in, LevelMap map, cv::Mat& out) {
  const int width = in.cols;  // a local: through uint8_t* stores, a member would be reloaded each pixel
  for (int y = 0; y < in.rows; ++y) {
    const std::uint8_t* __restrict from = in.ptr<std::uint8_t>(y);
    std::uint8_t* __restrict to = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < width; ++x)
      to[x] = static_cast<std::uint8_t>(std::clamp(map.offset + map.scale * from[x], 0.0f, 255.0f) + 0.5f);
  }
}

}  // namespace cleanplate::io
