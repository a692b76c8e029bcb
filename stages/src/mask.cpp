#include "cleanplate/stages/mask.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"

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

NoiseModel estimate_noise(const Eigen::Ref<const Eigen::MatrixXf>& residuals, const FrameGeometry& geometry) {
  if (residuals.rows() != geometry.values() || residuals.cols() == 0) throw Error("estimate_noise: the residuals do not match the frame geometry");
  NoiseModel noise;
  noise.global_sigma = robust_sigma(std::vector<float>(residuals.data(), residuals.data() + residuals.size()));
  noise.pixel_sigma.create(geometry.height, geometry.width, CV_32F);
  const Eigen::MatrixXf by_value = residuals.transpose();  // each value's samples contiguous
  std::vector<float> samples(static_cast<std::size_t>(by_value.rows()));
  float* sigma = noise.pixel_sigma.ptr<float>();
  for (Eigen::Index p = 0; p < geometry.pixels(); ++p) {
    double level = noise.global_sigma;
    for (int c = 0; c < geometry.channels; ++c) {
      const float* column = by_value.col(p * geometry.channels + c).data();
      samples.assign(column, column + by_value.rows());
      level = std::max(level, robust_sigma(samples));
    }
    sigma[p] = static_cast<float>(level);
  }
  return noise;
}

cv::Mat seed_threshold(const MaskOptions& options, const NoiseModel& noise) {
  cv::Mat seed;
  if (options.threshold > 0) seed = cv::Mat(noise.pixel_sigma.size(), CV_32F, cv::Scalar(options.threshold));
  else seed = noise.pixel_sigma * options.sigmas;
  return cv::max(seed, 1.0 / 255);
}

cv::Mat make_mask(const cv::Mat& magnitude, const cv::Mat& seed_threshold, const MaskOptions& options) {
  cv::Mat mask;
  cv::compare(magnitude, seed_threshold, mask, cv::CMP_GT);
  if (options.hysteresis < 1) {
    cv::Mat grow, labels;
    cv::compare(magnitude, seed_threshold * options.hysteresis, grow, cv::CMP_GT);
    const int count = cv::connectedComponents(grow, labels, 8, CV_32S);
    std::vector<unsigned char> seeded(static_cast<std::size_t>(count), 0);
    const int* label = labels.ptr<int>();
    const unsigned char* seed = mask.ptr<unsigned char>();
    const std::size_t pixels = mask.total();  // (out of line in OpenCV: not in the loop condition)
    for (std::size_t p = 0; p < pixels; ++p)
      if (seed[p]) seeded[static_cast<std::size_t>(label[p])] = 255;
    seeded[0] = 0;  // the background of `grow`
    unsigned char* out = mask.ptr<unsigned char>();
    for (std::size_t p = 0; p < pixels; ++p) out[p] = seeded[static_cast<std::size_t>(label[p])];
  }
  const auto morph = [&](int op, int size) {
    if (size > 1) cv::morphologyEx(mask, mask, op, cv::getStructuringElement(cv::MORPH_ELLIPSE, {size, size}));
  };
  morph(cv::MORPH_OPEN, options.open);
  morph(cv::MORPH_CLOSE, options.close);
  return mask;
}

std::vector<std::uint8_t> pack_mask(const cv::Mat& mask) {
  CV_Assert(mask.type() == CV_8U && mask.isContinuous());
  std::vector<std::uint8_t> bits((mask.total() + 7) / 8, 0);
  const std::uint8_t* on = mask.ptr<std::uint8_t>();
  for (std::size_t p = 0; p < mask.total(); ++p)
    if (on[p]) bits[p / 8] |= static_cast<std::uint8_t>(0x80 >> (p % 8));
  return bits;
}

}  // namespace cleanplate::stages
