// The per-frame splitter, one shape for both paths: a model is fitted once (FittedSplitter, here:
// `separate`) or updated as frames arrive (OnlineBackground: `live`, the OpenCV subtractor), then
// split(frame) gives what the frame separates into: its mask, its background and, for a fitted
// model, its row of the refit background that model.npz stores.
//
// FittedSplitter: the model of evenly spaced sampled frames (stages::decompose) and their noise
// levels fix a pixel factor U S. Every frame is then split against it on its own, in any order and
// on any thread: its coordinates by the robust method's trimmed least squares (fit_frame), its mask
// from its 8-bit levels (frame_mask), and its row of the background refit on the pixels that the
// masks call background (stages/background_refit.hpp), which objects do not pull.
#pragma once
#include <Eigen/Core>
#include <cleanplate/linalg/svd.hpp>
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "cleanplate/stages/background_refit.hpp"
#include "cleanplate/stages/decompose.hpp"
#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages {

// One frame, split.
struct FrameSplit {
  cv::Mat mask;                         // 8-bit, 255 = foreground (all zero while an online model warms up)
  Eigen::VectorXf background;           // geometry.values() in [0, 1]; empty when it was not asked for
  Eigen::VectorXd refit;                // fitted models: the frame's coordinates on the refit's pixel factor
  std::vector<std::uint8_t> mask_bits;  // fitted models, if asked: pack_mask(mask), as model.npz stores it
  bool warming_up = false;              // online models: the model is not ready yet
};

// What FittedSplitter::split makes besides the mask and the refit row.
struct SplitExtras {
  bool background = false;  // FrameSplit::background
  bool mask_bits = false;   // FrameSplit::mask_bits
};

class FittedSplitter {
 public:
  // `frames`: the sampled frames' 8-bit levels that `model` was fitted on (one column each, in the
  // model's order); `noise`: their noise levels. Makes their masks and refits the background on them.
  FittedSplitter(const FramesRef& frames, const BackgroundModel& model, const NoiseModel& noise,
                 const FrameGeometry& geometry, const MaskOptions& options);
  FittedSplitter(const FittedSplitter&) = delete;  // the refit refers to the model held here
  FittedSplitter& operator=(const FittedSplitter&) = delete;

  // A frame's levels (geometry.values()); safe to call concurrently.
  FrameSplit split(const Eigen::Ref<const FrameColumnLevels>& levels, const SplitExtras& extras = {}) const;

  // The refit over the sampled frames as a truncated SVD: model.npz's factors U and S.
  const linalg::SvdResult<float>& refit_background() const { return refit_background_; }
  // A frame's row of V in refit_background()'s terms, from its refit coordinates.
  Eigen::VectorXf stored_row(const Eigen::VectorXd& refit) const { return to_stored_ * refit.cast<float>(); }
  // The background at the given refit coordinates (for the clean plate: their mean over the frames).
  Eigen::VectorXf refit_image(const Eigen::VectorXd& refit) const { return refit_factor_ * refit.cast<float>(); }
  const cv::Mat& seed_threshold() const { return seed_threshold_; }

 private:
  FrameGeometry geometry_;
  MaskOptions mask_options_;
  linalg::SvdResult<float> model_;  // what the refit started from (BackgroundRefit refers to it)
  Eigen::MatrixXf factor_;          // values x k: U S of the model
  Eigen::VectorXf start_;           // coordinates the trimmed fit starts from: the sample's mean
  float band_ = 0;                  // residuals beyond it do not pull a frame's fit
  cv::Mat seed_threshold_;          // per pixel
  std::unique_ptr<BackgroundRefit> refit_;
  Eigen::MatrixXf refit_factor_;  // values x k: the refit's pixel factor
  linalg::SvdResult<float> refit_background_;
  Eigen::MatrixXf to_stored_;  // k x k: refit coordinates to a row of refit_background_'s V
};

}  // namespace cleanplate::stages
