#include "cleanplate/stages/frame_column.hpp"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"

namespace cleanplate::stages {

FrameGeometry geometry_for(cv::Size source, const ConvertOptions& options) {
  if (!(options.scale > 0 && options.scale <= 1))
    throw Error("--scale must be in (0, 1], got " + std::to_string(options.scale));
  FrameGeometry g;
  g.width = std::max(1, static_cast<int>(std::lround(source.width * options.scale)));
  g.height = std::max(1, static_cast<int>(std::lround(source.height * options.scale)));
  g.channels = options.color ? 3 : 1;
  return g;
}

cv::Mat convert_frame(const cv::Mat& frame, const FrameGeometry& geometry) {
  cv::Mat out = frame;
  if (out.size() != cv::Size(geometry.width, geometry.height))
    cv::resize(out, out, cv::Size(geometry.width, geometry.height), 0, 0, cv::INTER_AREA);
  // Into a new image: converting in place, OpenCV copies the whole source first.
  const auto converted = [&](int code) {
    cv::Mat result;
    cv::cvtColor(out, result, code);
    return result;
  };
  if (geometry.channels == 1 && out.channels() == 3) out = converted(cv::COLOR_BGR2GRAY);
  if (geometry.channels == 3 && out.channels() == 1) out = converted(cv::COLOR_GRAY2BGR);
  return out.isContinuous() ? out : out.clone();
}

void frame_to_levels(const cv::Mat& frame, const FrameGeometry& geometry, Eigen::Ref<FrameColumnLevels> column) {
  convert_frame(frame, geometry).copyTo(levels_image(column, geometry));
}

Eigen::Map<const FrameColumnLevels> image_levels(const cv::Mat& image) {
  if (image.depth() != CV_8U || !image.isContinuous()) throw Error("image_levels: not a continuous 8-bit image");
  return {image.ptr<std::uint8_t>(), static_cast<Eigen::Index>(image.total() * image.channels())};
}

cv::Mat levels_image(const Eigen::Ref<const FrameColumnLevels>& column, const FrameGeometry& geometry) {
  return {geometry.height, geometry.width, CV_8UC(geometry.channels), const_cast<std::uint8_t*>(column.data())};
}

cv::Mat column_to_image(const Eigen::Ref<const Eigen::VectorXf>& column, const FrameGeometry& geometry) {
  const cv::Mat values(geometry.height, geometry.width, CV_32FC(geometry.channels), const_cast<float*>(column.data()));
  cv::Mat image;
  values.convertTo(image, CV_8U, 255.0);  // saturating, rounds
  return image;
}

}  // namespace cleanplate::stages
