// The online decomposer of `cleanplate live`: one frame at a time, in constant memory.
//
// Each frame x is projected on the background basis U (rank k): its background is U U^T x and
// the foreground is the rest, the component in the orthogonal complement. The mask comes from
// that residual as in `separate` (stages/mask.hpp): per-pixel noise levels, seeds at 6 sigma,
// hysteresis, opening and closing. The noise levels are tracked as running means of each pixel's
// absolute residual where it is background. Then the basis is updated by incremental SVD (Brand)
// with a forgetting factor, so a parked car or a light change becomes background over about
// `memory` frames. The update is robust: the frame enters with its foreground pixels (the mask,
// and any pixel above the hysteresis level, such as the corners the opening trims) replaced by
// their background, so moving objects never pull the background toward themselves; a pixel left
// out for `memory` frames in a row enters as it is, so what stays becomes background. Before
// the mask, the frame's coordinates in the basis are fitted again on the pixels the plain
// projection calls background: a dark car would otherwise darken the whole background a little.
//
// Warm-up: the first `warmup` frames are kept; their per-pixel median (which objects passing
// through barely move) seeds the basis, and their residuals against it seed the noise levels.
// Masks during warm-up are empty and marked as such. After it, the work per frame is
// O(pixels x k) and the memory is the basis and a few frame-sized images, however long it runs.
#pragma once
#include <Eigen/Core>
#include <cleanplate/linalg/incremental_svd.hpp>
#include <opencv2/core.hpp>
#include <vector>

#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages {

struct OnlineOptions {
  Eigen::Index rank = 1;   // of the background basis (1: a static camera; 2-3 for light changes)
  double memory = 250;     // frames: an old frame's weight falls by 1/e over this many frames
  long warmup = 25;        // frames whose median seeds the basis
  MaskOptions mask;        // the same rules as `separate`
};

struct OnlineFrame {
  Eigen::VectorXf background;  // geometry.values(), in [0, 1]
  cv::Mat mask;                // 8-bit, 255 = foreground; all zero during warm-up
  bool warming_up = false;
};

class OnlineBackground {
 public:
  OnlineBackground(const FrameGeometry& geometry, const OnlineOptions& options);
  OnlineFrame process(const Eigen::Ref<const Eigen::VectorXf>& column);

  long frames() const { return frames_; }
  // The frame-wide noise level of the residual magnitude the masks threshold, [0, 1] units: the
  // sensor's sigma for grey; for colour that of the largest of three channels (about 1.66 sigma).
  double noise_sigma() const { return global_sigma_; }

 private:
  void finish_warmup();

  FrameGeometry geometry_;
  OnlineOptions options_;
  linalg::IncrementalSvd<float> basis_;
  std::vector<Eigen::VectorXf> warmup_frames_;
  cv::Mat mean_absolute_residual_;  // CV_32F per pixel, running
  cv::Mat foreground_age_;          // CV_32F per pixel: frames in a row it has been foreground
  double global_sigma_ = 0;
  long frames_ = 0;
};

}  // namespace cleanplate::stages
