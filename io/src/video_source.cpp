#include "cleanplate/io/video_source.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"
#include "video_decoder.hpp"

namespace cleanplate::io {
namespace fs = std::filesystem;

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
    if (ext == e) return true;
  return false;
}

SourceKind kind_of(const std::string& spec) {
  if (all_digits(spec)) return SourceKind::camera;
  if (spec.find("://") != std::string::npos) return SourceKind::stream;
  if (spec.find('%') != std::string::npos) return SourceKind::image_sequence;
  if (fs::is_directory(spec)) return SourceKind::image_folder;
  return SourceKind::file;
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      const std::size_t a_end = a.find_first_not_of("0123456789", i), b_end = b.find_first_not_of("0123456789", j);
      std::string x = a.substr(i, a_end - i), y = b.substr(j, b_end - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size() - 1));  // leading zeros do not count
      y.erase(0, std::min(y.find_first_not_of('0'), y.size() - 1));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = a_end == std::string::npos ? a.size() : a_end;
      j = b_end == std::string::npos ? b.size() : b_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j || (a.size() - i == b.size() - j && a < b);  // ties ("01" vs "1"): plain order
}

std::vector<std::string> list_images(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end(), natural_less);
  return files;
}

long file_number(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  const std::size_t last = stem.find_last_of("0123456789");
  if (last == std::string::npos) return -1;
  const std::size_t first = stem.find_last_not_of("0123456789", last) + 1;  // npos + 1 == 0: digits from the start
  return last + 1 - first > 15 ? -1 : std::stol(stem.substr(first, last + 1 - first));
}

std::vector<std::string> pattern_files(const std::string& pattern) {
  // One conversion, %d, %i or %u with an optional 0 flag and width: the pattern goes to snprintf.
  const std::size_t percent = pattern.find('%');
  std::size_t end = percent + 1;
  while (end < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[end]))) ++end;
  if (percent == std::string::npos || end >= pattern.size() ||
      std::string("diu").find(pattern[end]) == std::string::npos || pattern.find('%', end) != std::string::npos)
    throw Error("image pattern '" + pattern + "' must hold one number conversion such as %06d, and no other %");
  const std::string format = pattern.substr(0, end) + "d" + pattern.substr(end + 1);
  const auto name = [&](long number) {
    std::vector<char> text(format.size() + 32);
    std::snprintf(text.data(), text.size(), format.c_str(), static_cast<int>(number));
    return std::string(text.data());
  };
  std::vector<std::string> files;
  long number = 0;
  while (number < 10000 && !fs::is_regular_file(name(number))) ++number;
  for (; fs::is_regular_file(name(number)); ++number) files.push_back(name(number));
  return files;
}

VideoSource::VideoSource(const std::string& spec, const VideoSourceOptions& options)
    : spec_(spec), kind_(kind_of(spec)), options_(options) {
  const std::string quoted = "'" + spec + "'";
  switch (kind_) {
    case SourceKind::camera:
      capture_.open(std::stoi(spec), cv::CAP_ANY);
      if (!capture_.isOpened()) throw Error("cannot open camera " + spec + ": no such device or it is busy");
      break;
    case SourceKind::stream:
      open_decoder("cannot open stream " + quoted + ": not reachable or not a video stream");
      break;
    case SourceKind::image_sequence:
      files_ = pattern_files(spec);
      if (files_.empty()) throw Error("cannot open image sequence " + quoted + ": no image matches the pattern");
      break;
    case SourceKind::image_folder:
      files_ = list_images(spec);
      if (files_.empty()) throw Error("cannot open folder " + quoted + ": it contains no images");
      break;
    case SourceKind::file:
      if (!fs::exists(spec)) throw Error("cannot open " + quoted + ": no such file");
      if (fs::is_regular_file(spec) && fs::file_size(spec) == 0)
        throw Error("cannot open " + quoted + ": the file is empty");
      open_decoder("cannot open " + quoted + ": not a video file FFmpeg can decode");
      break;
  }
  if (!files_.empty()) {
    count_ = static_cast<long>(files_.size());
    fps_ = default_image_fps;
  } else {
    fps_ = decoder_ ? decoder_->fps() : capture_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 0;
    const double count =
        decoder_ ? static_cast<double>(decoder_->frame_count()) : capture_.get(cv::CAP_PROP_FRAME_COUNT);
    if (!live() && count > 0) count_ = static_cast<long>(count);
  }
  if (options.fps > 0) fps_ = options.fps;
  first_ = read();
  if (!first_) throw Error("cannot read " + quoted + ": it has no decodable frame");
  size_ = first_->image.size();
}

VideoSource::~VideoSource() = default;
VideoSource::VideoSource(VideoSource&&) noexcept = default;
VideoSource& VideoSource::operator=(VideoSource&&) noexcept = default;

void VideoSource::open_decoder(const std::string& failure) {
  try {
    decoder_ = std::make_unique<VideoDecoder>(spec_, options_.format == FrameFormat::grey, options_.decoder_threads);
  } catch (const Error& e) {
    throw Error(failure + " (" + e.what() + ")");
  }
}

std::optional<Frame> VideoSource::read() {
  Frame frame;
  if (!files_.empty()) {
    if (next_index_ >= static_cast<long>(files_.size())) return std::nullopt;
    frame.image = read_image(static_cast<std::size_t>(next_index_));
  } else if (decoder_) {
    std::optional<cv::Mat> image = decoder_->next();
    if (!image) return std::nullopt;
    frame.image = std::move(*image);
  } else {
    if (!capture_.read(frame.image) || frame.image.empty()) return std::nullopt;
  }
  if (frame.image.depth() != CV_8U)
    frame.image.convertTo(frame.image, CV_8U, frame.image.depth() == CV_16U ? 1.0 / 257 : 1.0);
  if (frame.image.channels() == 4) cv::cvtColor(frame.image, frame.image, cv::COLOR_BGRA2BGR);
  frame.index = next_index_++;
  frame.timestamp = live()     ? (decoder_ ? decoder_->timestamp() : capture_.get(cv::CAP_PROP_POS_MSEC) / 1000)
                    : fps_ > 0 ? static_cast<double>(frame.index) / fps_
                               : 0;
  return frame;
}

// An image of the sequence; one that does not decode takes the last decoded image, or, before any,
// the next one that decodes.
cv::Mat VideoSource::read_image(std::size_t file) {
  cv::Mat image = cv::imread(files_[file], cv::IMREAD_UNCHANGED);
  if (!image.empty()) return last_image_ = image;
  if (options_.strict) throw Error("cannot decode image '" + files_[file] + "'");
  undecodable_.push_back(files_[file]);
  if (!last_image_.empty()) return last_image_.clone();
  for (std::size_t next = file + 1; next < files_.size(); ++next)
    if (image = cv::imread(files_[next], cv::IMREAD_UNCHANGED); !image.empty()) return image;
  throw Error("cannot decode any image of '" + spec_ + "'");
}

std::optional<Frame> VideoSource::next() {
  if (first_) {
    auto f = std::move(first_);
    first_.reset();
    return f;
  }
  auto frame = read();
  if (frame && frame->image.size() != size_)
    throw Error("frame " + std::to_string(frame->index) + " of '" + spec_ + "' is " +
                std::to_string(frame->image.cols) + "x" + std::to_string(frame->image.rows) +
                ", unlike the first frame's " + std::to_string(size_.width) + "x" + std::to_string(size_.height));
  return frame;
}

// Without decoding where possible: an image folder only moves on, a video grabs (demuxes and
// decodes, but skips the conversion to BGR).
bool VideoSource::skip(long frames) {
  for (long i = 0; i < frames; ++i) {
    if (first_) {
      first_.reset();
      continue;
    }
    if (!files_.empty()) {
      if (next_index_ >= static_cast<long>(files_.size())) return false;
    } else if (decoder_ ? !decoder_->skip() : !capture_.grab()) {
      return false;
    }
    ++next_index_;
  }
  return true;
}

bool VideoSource::skip_near(long index) {
  if (index <= position()) return true;
  if (!decoder_ || live() || !(decoder_->fps() > 0)) return skip(index - position());
  first_.reset();
  const long reached = decoder_->skip_to(index);
  if (reached < 0) return false;
  next_index_ = reached;
  return true;
}

bool VideoSource::seek(long index) {
  if (live() || index < 0) return false;
  if (index == next_index_ - (first_ ? 1 : 0)) return true;  // already there: keep what was decoded
  first_.reset();
  next_index_ = index;
  if (!files_.empty()) return index <= static_cast<long>(files_.size());
  if (!decoder_) return capture_.set(cv::CAP_PROP_POS_FRAMES, static_cast<double>(index));
  if (decoder_->seek(index)) return true;
  // No index or timestamps to seek by: from the start again, decoding what lies before.
  open_decoder("cannot reopen '" + spec_ + "' to seek");
  next_index_ = 0;
  return skip(index);
}

}  // namespace cleanplate::io

namespace cleanplate::io {

std::int64_t VideoSource::bytes() const {
  std::int64_t total = 0;
  switch (kind_) {
    case SourceKind::file:
      return static_cast<std::int64_t>(fs::file_size(spec_));
    case SourceKind::image_folder:
    case SourceKind::image_sequence:
      for (const auto& file : files_) total += static_cast<std::int64_t>(fs::file_size(file));
      return total;
    case SourceKind::camera:
    case SourceKind::stream:
      break;
  }
  return -1;
}

}  // namespace cleanplate::io
