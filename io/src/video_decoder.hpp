// VideoDecoder (private to cleanplate::io): a video file or stream decoded with FFmpeg's libraries.
// Grey frames come straight from the decoder's luma plane (one table lookup brings limited-range
// video to 0..255), with no conversion to BGR and back: at 1080p that conversion cost as much CPU
// as the decoding. BGR frames go through libswscale as OpenCV's backend does; a rotated phone video
// is turned upright as OpenCV does.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

namespace cleanplate::io {

class VideoDecoder {
 public:
  // Throws cleanplate::Error naming `url` when it cannot be opened or has no video stream. `threads`:
  // FFmpeg's decoding threads (0: as many as it chooses for the machine).
  VideoDecoder(const std::string& url, bool grey, int threads);
  ~VideoDecoder();
  VideoDecoder(const VideoDecoder&) = delete;
  VideoDecoder& operator=(const VideoDecoder&) = delete;

  std::optional<cv::Mat> next();  // 8-bit grey or BGR; nullopt at the end
  bool skip();                    // decodes one frame without converting it; false at the end
  // The next frame becomes frame `index` (0-based, counted at the stream's frame rate): a seek to
  // the keyframe before it, then decoding up to it. False when the container cannot seek.
  bool seek(long index);
  // Decodes on to the first frame numbered `index` or later (numbered by its timestamp at the stream's
  // frame rate), which next() then returns, and gives its number; -1 at the end. From the first call on,
  // the decoder drops the frames no other frame refers to (H.264's non-reference B-frames, about half
  // of x264's) without decoding them, so it lands on the next frame that others do refer to: for a
  // sample of frames, where a frame near the one wanted serves as well. Frames without a timestamp
  // count as reached.
  long skip_to(long index);

  double fps() const;        // 0 when unknown
  long frame_count() const;  // -1 when unknown
  double timestamp() const;  // seconds, of the frame next() returned last

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cleanplate::io
