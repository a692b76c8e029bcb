// The noise levels of many rows at once (internal to cleanplate::stages; stages_tests checks it
// against inlier_scale row by row).
#pragma once
#include <Eigen/Core>

namespace cleanplate::stages {

// inlier_scale of each row of `samples` (rows x samples), the same figures: 16 rows at a time, a
// sorting network and the scan run across the rows in SIMD lanes, where a sort per row branches.
Eigen::VectorXd inlier_scales(const Eigen::Ref<const Eigen::MatrixXf>& samples, double step = 1.0 / 255);

}  // namespace cleanplate::stages
