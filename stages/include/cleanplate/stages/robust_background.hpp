// The default background model: a low-rank fit that the foreground cannot pull, even where it
// covers a pixel in most frames (a lecturer in front of a board, leaves across the lens).
//
// A least-squares fit (svd) and an L1 fit (robust PCA) both follow the majority of a pixel's
// values, so a pixel covered in more than half the frames takes the foreground's value. What stays
// true is that the background repeats: a pixel shows it within the noise whenever it is visible,
// while the foreground passing over it varies. So the fit starts from the per-pixel mode, the
// centre of the densest window of grey levels over the frames (as wide as the noise: a first mode
// in windows of 3 grey levels gives the noise level of the residuals), and then refits rank
// k with a redescending (0/1) weight: a residual beyond `inlier_band` noise levels does not count.
// That is robust subspace learning (De la Torre, Black, IJCV 2003) with Shum-Ikeuchi-Reddy weighted
// alternating least squares: each frame's coordinates over its inlier pixels, then each pixel's
// row over its inlier frames, a few rounds. The low rank carries what a per-pixel mode cannot:
// illumination that drifts over the video. Where the light takes a few levels (a flicker, a sample
// in step with a loop), the mode is taken over the frames divided by their gains (frame_gains),
// when that makes the background repeat more often. Frames of 2^18 values or more take what is
// global from an even sample of 2^16 values (the mode's window, the start's frame side, each frame's
// coordinates: errors of sigma / 256); each value's mode and row still come from all its values.
#pragma once
#include <Eigen/Core>

#include "cleanplate/stages/decompose.hpp"
#include "cleanplate/stages/frame_matrix.hpp"

namespace cleanplate::stages {

struct RobustBackgroundOptions {
  Eigen::Index rank = 1;
  double inlier_band = 3;  // noise levels: a residual beyond this does not pull the fit
  int rounds = 3;          // of alternating least squares (frames, then pixels)
  int mode_frames = 1024;  // at most this many evenly spaced frames vote for the mode
};

// Each frame's light level: the densest ratio of its bright values to their temporal median (which,
// unlike the mode, scales with the light). 1 for every frame of a video too dark to tell.
Eigen::VectorXf frame_gains(const FramesRef& frames);

// Per value (pixel and channel), in [0, 1]: the mean of the levels inside the window of
// `window` grey levels (odd) that holds the most of the sampled frames' values, each frame divided
// by its gain (none given: 1). `support`: the share of all the votes that fell in those windows.
struct Mode {
  Eigen::VectorXf levels;
  double support = 0;
};
Mode mode_background(const FramesRef& frames, int window, int max_frames = 1024, const Eigen::VectorXf& gains = {});

// The frame-wide noise level (inlier_scale) of about a million residuals x - gain * background of
// up to 128 evenly spaced frames.
double residual_scale(const FramesRef& frames, const Eigen::VectorXf& background, const Eigen::VectorXf& gains = {});

// The mode as the robust fit starts from it: windows of 3 grey levels first, then +-1 noise level
// of the residuals against that first mode (taken on an even sample of 2^16 values when the frames
// have 2^18 or more: it only sets the window).
Eigen::VectorXf background_mode(const FramesRef& frames, int max_frames = 1024, const Eigen::VectorXf& gains = {});

// One frame's coordinates on a fixed pixel factor (values x k), fitted as robust_background fits
// each frame: least squares over the values within `band` of the fit at `start`, then `rounds` more
// times within `band` of its own fit; the better half of the values always counts. For frames that
// were not in the matrix the model came from (`separate` on a video longer than its memory allows).
// The frame comes as its 8-bit levels. Frames of 32 or more blocks of 4,096 values (about 2^17) are
// fitted on evenly spaced blocks of about 2^16 values in all: k coordinates fitted on n values carry
// an error of about sigma / sqrt(n), then 1/256 of the noise, and the fit's work stops growing with
// the frame.
Eigen::VectorXf fit_frame(const Eigen::MatrixXf& pixel_factor, const Eigen::Ref<const FrameColumnLevels>& levels,
                          float band, const Eigen::VectorXf& start, int rounds = 3);

BackgroundModel robust_background(const FramesRef& frames, const RobustBackgroundOptions& options);

}  // namespace cleanplate::stages
