#include "cleanplate/stages/mask.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace cleanplate::stages {

cv::Mat residual_magnitude(const Eigen::Ref<const Eigen::VectorXf>& residual, const FrameGeometry& geometry) {
  const cv::Mat values(geometry.height, geometry.width, CV_32FC(geometry.channels), const_cast<float*>(residual.data()));
  cv::Mat magnitude = cv::abs(values);
  if (geometry.channels == 1) return magnitude;
  cv::Mat per_pixel;  // one row per pixel, its channels as columns: the largest of them
  cv::reduce(magnitude.reshape(1, static_cast<int>(geometry.pixels())), per_pixel, 1, cv::REDUCE_MAX);
  return per_pixel.reshape(1, geometry.height);
}

double robust_sigma(std::vector<float> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  const float median = *middle;
  for (float& v : values) v = std::abs(v - median);
  std::nth_element(values.begin(), middle, values.end());
  return 1.4826 * *middle;
}

double mask_threshold(const MaskOptions& options, double sigma) {
  if (options.threshold > 0) return options.threshold;
  // Never below one grey level: a noiseless synthetic input would otherwise flag rounding.
  return std::max(options.sigmas * sigma, 1.0 / 255);
}

cv::Mat make_mask(const cv::Mat& magnitude, double threshold, const MaskOptions& options) {
  cv::Mat mask;
  cv::compare(magnitude, threshold, mask, cv::CMP_GT);
  const auto morph = [&](int op, int size) {
    if (size > 1) cv::morphologyEx(mask, mask, op, cv::getStructuringElement(cv::MORPH_ELLIPSE, {size, size}));
  };
  morph(cv::MORPH_OPEN, options.open);
  morph(cv::MORPH_CLOSE, options.close);
  return mask;
}

}  // namespace cleanplate::stages
