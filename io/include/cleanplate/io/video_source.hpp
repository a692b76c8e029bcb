// VideoSource: frames from a video file, an image sequence (printf pattern such as in%06d.jpg, or a
// folder of images in natural order, frame_2 before frame_10: the CDnet layout), a camera index
// ("0") or a stream URL. Image sequences have no frame rate of their own: they play at 25 fps unless
// the options say otherwise, a pattern the same as a folder of the same images.
// Frames are 8-bit BGR or grey, with their index and timestamp. Files and streams are decoded with
// FFmpeg's libraries; asked for grey, they give the decoder's luma plane without a colour conversion.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cleanplate::io {

struct Frame {
  cv::Mat image;         // 8-bit, 1 or 3 channels (BGR)
  long index = 0;        // 0-based, counted from the first frame delivered
  double timestamp = 0;  // seconds
};

// Natural order of names: runs of digits compare as numbers ("frame_2.jpg" < "frame_10.jpg"), the
// rest as text.
bool natural_less(const std::string& a, const std::string& b);

// The image files (jpg, png, bmp, tif, webp, ppm, pgm) directly in `folder`, in natural order.
std::vector<std::string> list_images(const std::string& folder);

// The number a file name ends with before its extension ("in000012.png" -> 12); -1 when none.
long file_number(const std::string& path);

// The files a printf pattern with one integer conversion (in%06d.png, frame_%d.jpg) names: from the
// first number in 0 to 9999 whose file exists, on while they exist. Throws for another pattern.
std::vector<std::string> pattern_files(const std::string& pattern);

enum class SourceKind { file, image_sequence, image_folder, camera, stream };

// What the caller works on. With grey, files and streams give their decoder's luma plane, with no
// colour conversion; images and cameras give their frames as decoded either way (BGR, or grey for a
// grey image), for the caller to convert on its own threads (stages::convert_frame).
enum class FrameFormat { bgr, grey };

class VideoDecoder;

// The frame rate images play at when nothing says otherwise (CDnet's and most cameras' PAL rate).
constexpr double default_image_fps = 25;

struct VideoSourceOptions {
  FrameFormat format = FrameFormat::bgr;
  // FFmpeg's threads for a file or stream (0: as many as it chooses for the machine; each adds a
  // frame of latency).
  int decoder_threads = 0;
  // An image of a sequence that does not decode throws; otherwise the frame before it stands in for
  // it (the frames keep their numbers), and undecodable_images() lists it.
  bool strict = false;
  // Frames per second: > 0 overrides the container's rate; 0 keeps it, and images play at
  // default_image_fps.
  double fps = 0;
};

class VideoSource {
 public:
  // Opens `spec`; throws cleanplate::Error naming it when it cannot be opened or yields no frame.
  explicit VideoSource(const std::string& spec, const VideoSourceOptions& options = {});
  ~VideoSource();
  VideoSource(VideoSource&&) noexcept;
  VideoSource& operator=(VideoSource&&) noexcept;

  std::optional<Frame> next();  // nullopt at the end (or when decoding fails: see read_failures())
  bool skip(long frames);       // drops frames (for --start); false when the source ends first
  // Moves to frame `index` (0-based) of a file or image folder without decoding what lies before
  // it, so that next() returns that frame; false when the source cannot seek (a live source).
  bool seek(long index);
  // Moves on to frame `index` or, in a video file, to the first frame at or after it that other frames
  // refer to: from then on the frames nothing refers to (about half of x264's) are dropped undecoded
  // and the frames numbered by their timestamps. For a sample of frames, where a neighbour of the
  // frame wanted serves as well; false when the source ends first.
  bool skip_near(long index);

  long position() const { return first_ ? first_->index : next_index_; }  // the index next() gives

  SourceKind kind() const { return kind_; }
  const std::string& spec() const { return spec_; }
  double fps() const { return fps_; }  // 0 when unknown (a camera or stream that does not say)
  cv::Size size() const { return size_; }
  long frame_count() const { return count_; }  // -1 when unknown (camera, stream)
  std::int64_t bytes() const;                  // on disk: the file, or the images; -1 for a camera or stream
  bool live() const { return kind_ == SourceKind::camera || kind_ == SourceKind::stream; }
  const std::vector<std::string>& undecodable_images() const { return undecodable_; }

 private:
  std::string spec_;
  SourceKind kind_;
  VideoSourceOptions options_;
  std::unique_ptr<VideoDecoder> decoder_;  // files and streams
  cv::VideoCapture capture_;               // cameras
  std::vector<std::string> files_;         // image sequences (a pattern's or a folder's)
  std::vector<std::string> undecodable_;   // the images that did not decode
  cv::Mat last_image_;                     // the last image decoded
  std::optional<Frame> first_;             // read while opening, to learn the size
  long next_index_ = 0;
  double fps_ = 0;
  cv::Size size_;
  long count_ = -1;

  std::optional<Frame> read();
  cv::Mat read_image(std::size_t file);
  void open_decoder(const std::string& failure);
};

}  // namespace cleanplate::io
