// Plain reference forms of what the library computes fused or in blocks, for the tests to compare
// against: a residual's magnitude image, its mask by OpenCV's comparisons, a frame as a float column,
// the mean background of a low-rank model.
#pragma once
#include <Eigen/Core>
#include <cleanplate/linalg/svd.hpp>
#include <opencv2/core.hpp>

#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages {

// |residual| per pixel (the largest over its channels), a CV_32F image of the frame geometry.
inline cv::Mat residual_magnitude(const Eigen::Ref<const Eigen::VectorXf>& residual, const FrameGeometry& geometry) {
  const cv::Mat values(geometry.height, geometry.width, CV_32FC(geometry.channels),
                       const_cast<float*>(residual.data()));
  cv::Mat magnitude = cv::abs(values);
  if (geometry.channels == 1) return magnitude;
  cv::Mat per_pixel;  // one row per pixel, its channels as columns: the largest of them
  cv::reduce(magnitude.reshape(1, static_cast<int>(geometry.pixels())), per_pixel, 1, cv::REDUCE_MAX);
  return per_pixel.reshape(1, geometry.height);
}

// 8-bit mask (0 or 255) from a residual magnitude image and the seed levels.
inline cv::Mat make_mask(const cv::Mat& magnitude, const cv::Mat& seed_threshold, const MaskOptions& options) {
  cv::Mat seeds, grow;
  cv::compare(magnitude, seed_threshold, seeds, cv::CMP_GT);
  if (options.hysteresis < 1) cv::compare(magnitude, seed_threshold * options.hysteresis, grow, cv::CMP_GT);
  return grow_mask(std::move(seeds), grow, options);
}

// The frame converted (convert_frame) as a column of values in [0, 1].
inline void frame_to_column(const cv::Mat& frame, const FrameGeometry& geometry, Eigen::Ref<Eigen::VectorXf> column) {
  const cv::Mat converted = convert_frame(frame, geometry);
  // Convert straight into the column's memory: no intermediate float image.
  cv::Mat destination(geometry.height, geometry.width, CV_32FC(geometry.channels), column.data());
  converted.convertTo(destination, CV_32F, 1.0 / 255);
}

// The mean background over the frames: U S mean(V).
inline Eigen::VectorXf mean_background(const linalg::SvdResult<float>& background) {
  return background.U * background.singular_values.cwiseProduct(background.V.colwise().mean().transpose());
}

}  // namespace cleanplate::stages
