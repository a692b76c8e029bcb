// FFmpeg's messages (private to cleanplate::io), without OpenCV: the model file's residual video
// uses them in builds without it (the fuzzer).
#pragma once
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

}  // namespace cleanplate::io
