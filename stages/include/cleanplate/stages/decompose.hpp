// The background model of a frame matrix X (pixels x frames): a rank-k truncated SVD X ~ U S V^T.
// Frame j's background is U S v_j (v_j: row j of V); its residual, x_j minus that, is what moved.
#pragma once
#include <cleanplate/linalg/svd.hpp>

namespace cleanplate::stages {

struct BackgroundModel {
  linalg::SvdResult<float> svd;
  double energy = 0;  // fraction of ||X||_F^2 in the background

  Eigen::VectorXf background(Eigen::Index frame) const;
  // Average background over all frames: the clean plate.
  Eigen::VectorXf clean_plate() const;
};

// `squared_norm` is ||frames||_F^2 when the caller has it (summed while stacking), else computed.
BackgroundModel decompose_svd(const Eigen::Ref<const Eigen::MatrixXf>& frames, Eigen::Index rank, double squared_norm = -1);

// Robust standard deviation of the residuals X - background, from up to `sample_frames` evenly
// spaced frames (about a million values): the noise level that sets the automatic mask threshold.
double residual_sigma(const Eigen::Ref<const Eigen::MatrixXf>& frames, const BackgroundModel& model, int sample_frames = 16);

}  // namespace cleanplate::stages
