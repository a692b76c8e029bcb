#include "cleanplate/stages/mask.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"

namespace cleanplate::stages {

cv::Mat residual_magnitude(const Eigen::Ref<const Eigen::VectorXf>& residual, const FrameGeometry& geometry) {
  const cv::Mat values(geometry.height, geometry.width, CV_32FC(geometry.channels),
                       const_cast<float*>(residual.data()));
  cv::Mat magnitude = cv::abs(values);
  if (geometry.channels == 1) return magnitude;
  cv::Mat per_pixel;  // one row per pixel, its channels as columns: the largest of them
  cv::reduce(magnitude.reshape(1, static_cast<int>(geometry.pixels())), per_pixel, 1, cv::REDUCE_MAX);
  return per_pixel.reshape(1, geometry.height);
}

double inlier_scale(std::vector<float> values, double step) {
  if (values.empty()) return 0;
  constexpr double golden = 0.6180339887498949, growth = 2.5, gaussian_bias = 0.9365574;
  for (std::size_t i = 0; i < values.size(); ++i) {  // a low-discrepancy dither: no random state
    const double turns = static_cast<double>(i) * golden;
    const double dither = turns - std::floor(turns) - 0.5;  // exactly fmod(turns, 1) - 0.5, without the call
    values[i] = static_cast<float>(std::abs(values[i] + dither * step));
  }
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size(), start = std::max<std::size_t>(1, n / 10);
  double sum_of_squares = 0;
  std::size_t k = 0;
  for (; k < n; ++k) {
    if (k >= start && values[k] > growth * std::sqrt(sum_of_squares / static_cast<double>(k))) break;
    sum_of_squares += static_cast<double>(values[k]) * values[k];
  }
  const double variance = sum_of_squares / static_cast<double>(k) / (gaussian_bias * gaussian_bias) - step * step / 12;
  return std::sqrt(std::max(variance, step * step / 4));  // half a level at least: the rounding itself
}

NoiseModel estimate_noise(const Eigen::Ref<const Eigen::MatrixXf>& residuals, const FrameGeometry& geometry) {
  if (residuals.rows() != geometry.values() || residuals.cols() == 0)
    throw Error("estimate_noise: the residuals do not match the frame geometry");
  NoiseModel noise;
  // The frame-wide level from about a million of the residuals, evenly spread.
  const Eigen::Index total = residuals.size(), stride = std::max<Eigen::Index>(1, total >> 20) | 1;
  std::vector<float> spread;
  spread.reserve(static_cast<std::size_t>(total / stride + 1));
  for (Eigen::Index i = 0; i < total; i += stride) spread.push_back(residuals.data()[i]);
  noise.global_sigma = inlier_scale(std::move(spread));
  noise.pixel_sigma.create(geometry.height, geometry.width, CV_32F);
  float* sigma = noise.pixel_sigma.ptr<float>();
  const Eigen::Index channels = geometry.channels;
  oneapi::tbb::parallel_for(
      oneapi::tbb::blocked_range<Eigen::Index>(0, geometry.pixels(), 1024), [&](const auto& pixels) {
        // This block's values with each value's samples contiguous: a transposed copy of a block, not of
        // all the residuals (a frame-sized matrix less at the peak).
        const Eigen::MatrixXf by_value =
            residuals.middleRows(pixels.begin() * channels, static_cast<Eigen::Index>(pixels.size()) * channels)
                .transpose();
        for (Eigen::Index p = pixels.begin(); p < pixels.end(); ++p) {
          double level = noise.global_sigma;
          for (Eigen::Index c = 0; c < channels; ++c) {
            const float* column = by_value.col((p - pixels.begin()) * channels + c).data();
            level = std::max(level, inlier_scale({column, column + by_value.rows()}));
          }
          sigma[p] = static_cast<float>(level);
        }
      });
  return noise;
}

cv::Mat seed_threshold(const MaskOptions& options, const NoiseModel& noise) {
  cv::Mat seed;
  if (options.threshold > 0)
    seed = cv::Mat(noise.pixel_sigma.size(), CV_32F, cv::Scalar(options.threshold));
  else
    seed = noise.pixel_sigma * options.sigmas;
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
  const std::size_t pixels = mask.total();  // out of line in OpenCV: not in the loop condition
  std::vector<std::uint8_t> bits((pixels + 7) / 8, 0);
  const std::uint8_t* on = mask.ptr<std::uint8_t>();
  for (std::size_t byte = 0; byte < pixels / 8; ++byte) {  // whole bytes, without a branch: they vectorize
    std::uint8_t eight = 0;
    for (std::size_t b = 0; b < 8; ++b) eight |= static_cast<std::uint8_t>((on[byte * 8 + b] != 0) << (7 - b));
    bits[byte] = eight;
  }
  for (std::size_t p = pixels / 8 * 8; p < pixels; ++p)
    if (on[p]) bits[p / 8] |= static_cast<std::uint8_t>(0x80 >> (p % 8));
  return bits;
}

}  // namespace cleanplate::stages
