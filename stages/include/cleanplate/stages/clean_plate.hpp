// The clean plate: one image of the background with nothing moving in it.
//
// The low-rank model's mean background U S mean(V) is a least-squares fit, so a pixel that objects
// cross is pulled toward them. CleanPlate corrects each pixel by its mean residual over the frames
// where it was background (mask off): if the fit is off by d there, those residuals average d.
// Frames are added one at a time, O(pixels) each, so it runs inside the split without a second pass.
#pragma once
#include <Eigen/Core>
#include <opencv2/core.hpp>

#include "cleanplate/stages/frame_column.hpp"

namespace cleanplate::stages {

class CleanPlate {
 public:
  CleanPlate(const FrameGeometry& geometry, Eigen::VectorXf model_plate);
  // A frame's residual (x_j minus its background) and its 8-bit mask (non-zero: foreground).
  void add(const Eigen::Ref<const Eigen::VectorXf>& residual, const cv::Mat& mask);
  // The corrected plate; pixels that were never background keep the model's value.
  Eigen::VectorXf plate() const;

 private:
  FrameGeometry geometry_;
  Eigen::VectorXf model_plate_, residual_sum_;
  Eigen::VectorXf background_frames_;  // per pixel
};

}  // namespace cleanplate::stages
