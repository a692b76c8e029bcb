// Foreground masks from residuals. The residual magnitude of a pixel is |x - background| (the
// largest over colour channels); a pixel is foreground when it exceeds the threshold. The
// automatic threshold is `sigmas` robust standard deviations of the residuals
// (1.4826 x median absolute deviation, which the moving pixels barely affect), then a
// morphological opening removes specks and a closing fills small holes.
#pragma once
#include <Eigen/Core>
#include <opencv2/core.hpp>
#include <vector>

#include "cleanplate/stages/frame_column.hpp"

namespace cleanplate::stages {

struct MaskOptions {
  double threshold = 0;  // residual level in [0, 1] units; 0 = automatic
  double sigmas = 5;     // automatic threshold = sigmas x robust standard deviation
  int open = 3;          // opening kernel size in pixels (0 = none)
  int close = 3;         // closing kernel size in pixels (0 = none)
};

// |residual| per pixel, a CV_32F image of the frame geometry.
cv::Mat residual_magnitude(const Eigen::Ref<const Eigen::VectorXf>& residual, const FrameGeometry& geometry);

// Robust standard deviation (1.4826 x MAD) of residual values.
double robust_sigma(std::vector<float> values);

// The threshold to use: options.threshold, or sigmas x sigma when automatic.
double mask_threshold(const MaskOptions& options, double sigma);

// 8-bit mask (0 or 255) from a residual magnitude image.
cv::Mat make_mask(const cv::Mat& magnitude, double threshold, const MaskOptions& options);

}  // namespace cleanplate::stages
