// The online decomposer of `cleanplate live`: one frame at a time, in constant memory.
//
// Each frame x is projected on the background basis U (rank k): its background is U c and the
// foreground is the rest. The coordinates c are fitted on the pixels that look like background,
// a few trimmed least-squares rounds that always keep the better half of the pixels (a dark car
// would otherwise darken the whole background a little; an exposure change moves every pixel). The
// mask comes from the residual as in `separate` (stages/mask.hpp): per-pixel noise levels, seeds at
// 6 sigma, hysteresis, opening and closing. The levels are tracked over the background pixels: each
// pixel's running mean residual, and the frame-wide one by MSSE. Then the basis is updated by
// incremental SVD (Brand) with a forgetting factor. The update is robust: the frame enters with its
// foreground pixels (the mask, and any pixel above the hysteresis level) replaced by their
// background, so moving objects never pull the background toward themselves; a pixel that has been
// foreground for `memory` frames in a row takes its new value at once, so a parked car, or the
// ghost of an object that stood still during the warm-up, becomes background after `memory` frames.
//
// Warm-up: the first `warmup` frames are kept; their per-pixel mode (what the camera shows most
// often, which passing objects and waving leaves do not move) seeds the basis, and their residuals
// against it seed the noise levels by MSSE. Frames during the warm-up are marked as such; from the
// third on, frames up to 1280x720 get masks from the same fit of the frames seen so far (a mode
// needs a majority), redone each time their number grows by half. After it, the work per frame is
// O(pixels x k) and the memory is the basis and a few frame-sized images.
// A frame is streamed through memory a few times, in cache-sized blocks of pixels on every core;
// the coordinates of a large frame are fitted on about 2^16 evenly spaced pixels (their error is
// then 1/256 of the noise).
//
// Frames over 2^18 pixels (640x480 and up) are modelled at a reduced resolution, on the means of
// square blocks of pixels: the basis, its fit and update, and the settling of parked objects work on
// at most 2^16 block means. The masks stay at full resolution: each pixel's background is its block's
// modelled background plus the pixel's detail (the texture a block's mean cannot hold, relative to
// it, so that light scales both), learned per pixel as the basis learns above: over `memory` frames
// where the pixel is background, at once where it has been foreground for `memory` frames. Each pixel
// keeps its noise level, and the seeds, hysteresis and morphology are those above, per pixel.
#pragma once
#include <Eigen/Core>
#include <cleanplate/linalg/incremental_svd.hpp>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <vector>

#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/frame_splitter.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages {

struct OnlineOptions {
  Eigen::Index rank = 1;  // of the background basis (1: a static camera; 2-3 for light changes)
  double memory = 250;    // frames: an old frame's weight falls by 1/e over this many frames
  long warmup = 25;       // frames whose mode seeds the basis
  MaskOptions mask;       // the same rules as `separate`
  // The side of the pixel blocks whose means the basis models (1: every pixel). 0 chooses it by the
  // frame's size: 1 up to 2^18 pixels (320x240, 512x512), above that the smallest side that leaves the
  // model at most 2^16 means (3 at 640x480, 4 at 1280x720, 6 at 1920x1080, 12 at 3840x2160), so that
  // the step's cost stops growing with the frame.
  int model_block = 0;
  // Fill FrameSplit::background, a frame of floats (`live` leaves it out unless it shows or saves it;
  // during the warm-up it is always filled).
  bool background = true;
};

class OnlineBackground {
 public:
  OnlineBackground(const FrameGeometry& geometry, const OnlineOptions& options);
  // A frame as a column of 8-bit levels (stages::image_levels maps a converted frame without a
  // copy), or of floats in [0, 1]: the same result for the same values; levels are 4x less memory
  // to stream. `learning_rate` as OpenCV's subtractors take it: negative, the options' memory; 0,
  // the model is frozen (this frame's background and mask only; warm-up frames are always kept);
  // in (0, 1], a memory of 1 / learning_rate frames for this frame's update.
  FrameSplit split(const Eigen::Ref<const FrameColumnLevels>& levels, double learning_rate = -1);
  FrameSplit split(const Eigen::Ref<const Eigen::VectorXf>& column, double learning_rate = -1);

  long frames() const { return frames_; }
  // The side of the pixel blocks the basis models (OnlineOptions::model_block, resolved).
  int model_block() const { return block_; }
  // The frame-wide noise level of one value (pixel and channel) in [0, 1] units: the sensor's sigma.
  double noise_sigma() const { return global_sigma_; }

 private:
  Eigen::VectorXf finish_warmup();  // returns the background the warm-up found (the mode)
  FrameSplit warmup_split();        // the last frame kept, against the frames seen so far
  template <typename Value>
  FrameSplit process_values(const Eigen::Ref<const Eigen::Matrix<Value, Eigen::Dynamic, 1>>& column,
                            double learning_rate);
  template <typename Value, typename BackgroundOf>
  void update_global_sigma(const Eigen::Ref<const Eigen::Matrix<Value, Eigen::Dynamic, 1>>& column,
                           const BackgroundOf& background_of, const cv::Mat& grow, const cv::Mat& mask, float rate);
  template <typename Value>
  FrameSplit process_with_block_model(const Eigen::Ref<const Eigen::Matrix<Value, Eigen::Dynamic, 1>>& column,
                                      double learning_rate);

  FrameGeometry geometry_;
  OnlineOptions options_;
  int block_ = 1;
  // The model: a basis of this frame's values, or (block_ > 1) an OnlineBackground of block means
  // with every pixel's detail.
  std::optional<linalg::IncrementalSvd<float>> basis_;
  std::unique_ptr<OnlineBackground> block_model_;
  Eigen::VectorXf detail_;     // per value: the background minus its block's, in units of the block's
  FrameLevels warmup_frames_;  // values x warmup, until the warm-up ends
  struct WarmupFit {           // of the frames seen so far
    long frames = 0;
    Eigen::MatrixXf background;  // values x 1: their mode
    NoiseModel noise;
    cv::Mat seed_threshold;
    float band = 0;  // the fit's inlier band
  } warmup_fit_;
  Eigen::VectorXf mean_magnitude_;  // per pixel: running mean of the residual magnitude (empty: warming up)
  Eigen::Matrix<std::uint16_t, Eigen::Dynamic, 1> foreground_age_;  // per pixel: frames in a row foreground
  Eigen::VectorXf clean_;              // the frame the basis learns: foreground values replaced
  Eigen::VectorXf background_;         // the frame's background, kept when the options leave it out
  std::vector<Eigen::Index> settled_;  // the last frame's pixels that settled (took their new value)
  double global_sigma_ = 0;
  long frames_ = 0;
};

}  // namespace cleanplate::stages
