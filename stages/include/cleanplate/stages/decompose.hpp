// The background model of a frame matrix X (pixels x frames): a low-rank L = U S V^T. Frame j's
// background is U S v_j (v_j: row j of V); its residual, x_j minus that, is what moved.
//
// Four ways to find L:
//   robust      (the default) a rank-k fit started from the per-pixel mode in which residuals beyond
//               3 noise levels do not count (stages/robust_background.hpp): holds where the
//               foreground covers a pixel in most frames, which pulls all three below
//   svd         the rank-k truncated SVD (randomized): the best fit in least squares, so objects
//               that cross a pixel pull its background toward them; the fastest
//   godec       GoDec: rank k with the largest `sparse_fraction` of entries set aside as foreground,
//               so they do not pull; a few SVDs
//   robust_pca  principal component pursuit (inexact ALM), rank at most k: the foreground is what an
//               L1 penalty sets aside, with no fraction to choose; the slowest
#pragma once
#include <cleanplate/linalg/svd.hpp>
#include <vector>

#include "cleanplate/stages/frame_matrix.hpp"

namespace cleanplate::stages {

enum class Method { robust, svd, godec, robust_pca };

struct DecomposeOptions {
  Method method = Method::robust;
  Eigen::Index rank = 1;          // rank of L (its upper bound for robust_pca)
  double sparse_fraction = 0.05;  // godec: the share of entries that may be foreground
};

struct BackgroundModel {
  linalg::SvdResult<float> svd;
  double energy = 0;   // fraction of ||X||_F^2 in the background
  int iterations = 1;  // of the robust methods

  Eigen::VectorXf background(Eigen::Index frame) const;
};

// `frames`: the 8-bit levels, standing for values in [0, 1]. `squared_norm` is ||frames||_F^2 (of
// the values) when the caller has it (summed while stacking), else computed.
BackgroundModel decompose(const FramesRef& frames, const DecomposeOptions& options, double squared_norm = -1);

// Up to `count` evenly spaced frame numbers out of `frames`: the middles of `count` equal parts.
std::vector<Eigen::Index> evenly_spaced_frames(Eigen::Index frames, Eigen::Index count);

}  // namespace cleanplate::stages
