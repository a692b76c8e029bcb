// What the FFmpeg-library reader and writer share (private to cleanplate::io): FFmpeg's error text,
// and video luma in the limited range (16..235) <-> grey levels 0..255 through a table per level.
// The tables are applied by plain loops on purpose: cv::LUT runs on OpenCV's oneTBB pool, and
// called from a thread outside the flow graph (the live reader) it took the graph's worker away
// from the online step: `live` at 1080p lost 20% of its speed.
#pragma once
#include <array>
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

using LevelTable = std::array<std::uint8_t, 256>;

inline LevelTable level_table(double offset, double scale) {  // v -> offset + scale v, rounded, in 0..255
  LevelTable table{};
  for (int v = 0; v < 256; ++v) table[v] = cv::saturate_cast<std::uint8_t>(offset + scale * v);
  return table;
}

inline const LevelTable& limited_to_full_range() {
  static const LevelTable table = level_table(-16 * 255.0 / 219, 255.0 / 219);
  return table;
}

inline const LevelTable& full_to_limited_range() {
  static const LevelTable table = level_table(16, 219.0 / 255);
  return table;
}

// `out` must have `in`'s size and be 8-bit, one channel (either may have row padding).
inline void apply_table(const cv::Mat& in, const LevelTable& table, cv::Mat& out) {
  for (int y = 0; y < in.rows; ++y) {
    const std::uint8_t* from = in.ptr<std::uint8_t>(y);
    std::uint8_t* to = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < in.cols; ++x) to[x] = table[from[x]];
  }
}

}  // namespace cleanplate::io
