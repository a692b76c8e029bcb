// Foreground masks from residuals. The residual magnitude of a pixel is |x - background| (the
// largest over colour channels). Each pixel has a noise level: the scale of the cluster of small
// residuals around zero over sampled frames (MSSE, below), never below the frame-wide level, so a
// swaying tree or a flickering light needs a larger change than a still wall, while a pixel that
// the foreground covers in most frames keeps the level of the frames where it is background. A
// pixel seeds the foreground above `sigmas` times its noise level (6: Gaussian noise crosses that
// about twice in a billion pixels), and pixels above
// `hysteresis` times that level join a seed's connected region (hysteresis thresholding, as in
// Canny's edge detector: object bodies that differ little from the background stay whole). Then a
// morphological opening removes specks and a closing fills small holes. Before the growth, a seed
// whose value the background shows at a pixel up to `neighbour_radius` away is cleared (ViBe's
// spatial test): leaves, ripples and a shaking camera move the background by a pixel or two. With
// `shadows`, mask pixels that a cast shadow explains are then labelled 127.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <vector>

#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/frame_matrix.hpp"

namespace cleanplate::stages {

struct MaskOptions {
  double threshold = 0;     // a fixed seed level in [0, 1] units for every pixel; 0 = from the noise levels
  double sigmas = 6;        // automatic seed level = sigmas x the pixel's noise level
  double hysteresis = 0.5;  // region-growing level as a fraction of the seed level (1 = none)
  int open = 3;             // opening kernel size in pixels (0 = none)
  int close = 3;            // closing kernel size in pixels (0 = none)
  // A seed whose value is within the seed level of the background of a pixel this close (in pixels)
  // is background that moved: waving leaves, ripples, a shaking camera (0 = no such test).
  int neighbour_radius = 2;
  // Mask pixels that are their background dimmed (by at most half) with its colour and texture kept
  // are cast shadows: labelled 127, MOG2's convention, rather than 255 (`eval` scores them as
  // background, as CDnet does; a mask read as "non-zero" still holds them).
  bool shadows = true;
};

struct NoiseModel {
  double global_sigma = 0;  // robust standard deviation of all the sampled residuals
  cv::Mat pixel_sigma;      // CV_32F, frame size: each pixel's own level, at least global_sigma
};

// The standard deviation of the inlier cluster of residual values around zero, also when most
// values are outliers: MSSE (Bab-Hadiashar, Suter, Robotica 1999). Sort |r|; from the smallest 10%
// on, grow the set while the next value is within 2.5 times the set's RMS; the RMS there, divided
// by 0.9366 (its value for Gaussian noise), is the estimate. A median absolute deviation breaks down
// at half outliers, which a lecturer or leaves in front of the camera exceed. Values quantized to
// `step` (grey levels) are dithered by a deterministic uniform step first, or ties at zero would stop
// the growth at once; the dither's variance step^2 / 12 is taken out again.
double inlier_scale(std::vector<float> values, double step = 1.0 / 255);

// Noise levels from residual columns of sampled frames (geometry.values() x samples).
NoiseModel estimate_noise(const Eigen::Ref<const Eigen::MatrixXf>& residuals, const FrameGeometry& geometry);

// The same for the residuals of frames against one background (values in [0, 1]), without making
// them: a 1080p warm-up's residual matrix would be 200 MB, written once and read once.
NoiseModel estimate_noise(const FramesRef& frames, const Eigen::VectorXf& background, const FrameGeometry& geometry);

// The same for each frame's residual against its own low-rank background, basis * weights.col(j)
// for frame j, over up to `sample_frames` evenly spaced frames, again without making them (a 1080p
// fit's 128 residual columns would be 1 GB).
NoiseModel estimate_noise(const FramesRef& frames, const Eigen::MatrixXf& basis, const Eigen::MatrixXf& weights,
                          const FrameGeometry& geometry, int sample_frames = 128);

// The seed level of every pixel (CV_32F): options.threshold, or sigmas x the pixel's noise level;
// never below one grey level, which a noiseless synthetic input would otherwise flag in rounding.
cv::Mat seed_threshold(const MaskOptions& options, const NoiseModel& noise);

// The mask (0 or 255) of a frame of 8-bit levels against its background pixel_factor * coordinates
// (pixel_factor: values x k), without the frame-sized float images on the way (values, background,
// residual, magnitude and the two comparisons'): the levels are compared a cache-sized block of
// pixels at a time. Serial, for callers that work on several frames at once.
cv::Mat frame_mask(const Eigen::Ref<const FrameColumnLevels>& levels, const Eigen::MatrixXf& pixel_factor,
                   const Eigen::VectorXf& coordinates, const cv::Mat& seed_threshold, const FrameGeometry& geometry,
                   const MaskOptions& options);

// The mask from its seeds and the pixels that may join them (8-bit, non-zero = on; `grow` empty:
// none may): each seed's 8-connected region of `grow`, then the opening and the closing. For callers
// that compare the levels themselves, fused with other per-pixel work. `seeds` becomes the result.
cv::Mat grow_mask(cv::Mat seeds, const cv::Mat& grow, const MaskOptions& options);

// A mask packed one bit per pixel, first pixel in the high bit (numpy.packbits' order, the layout
// of model.npz's foreground_mask): 1/8 of the 8-bit mask, so a whole video's masks stay small.
std::vector<std::uint8_t> pack_mask(const cv::Mat& mask);
inline bool mask_bit(std::span<const std::uint8_t> bits, Eigen::Index pixel) {
  return (bits[pixel / 8] & (0x80 >> (pixel % 8))) != 0;
}

}  // namespace cleanplate::stages
