// The background refit on the pixels and frames the masks call background, and the clean plate.
//
// The low-rank model X ~ (U S) V^T is a least-squares fit over every pixel of every frame, so
// objects pull it: a pixel they cross by tens of grey levels (its row of U S), a frame they fill
// by a few levels everywhere (its row of V). The refit is one round of alternating least squares
// that leaves the foreground out (Shum-Ikeuchi-Reddy weighted PCA with 0/1 weights):
//   1. each pixel's row of U S, over the frames where that pixel is background (V fixed); pixels
//      background in fewer than 2k frames keep the model's row;
//   2. each frame's row of V, over the pixels that are background in it (the new U S fixed).
// Step 1 is one pass over the frame matrix and the masks, in parallel over blocks of pixels whose
// sums stay in cache while every frame passes; step 2 is one more pass, independent per frame. The result is again a
// truncated SVD; its mean background over the frames is the clean plate: one image of the background with nothing
// moving in it.
//
// Masks are packed bitmaps (stages::pack_mask), one bit per pixel; a frame's refit also takes its mask as made.
#pragma once
#include <Eigen/Core>
#include <cleanplate/linalg/svd.hpp>
#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

#include "cleanplate/stages/frame_column.hpp"

namespace cleanplate::stages {

class BackgroundRefit {
 public:
  // Keeps a reference to `model`, which must outlive the refit.
  BackgroundRefit(const FrameGeometry& geometry, const linalg::SvdResult<float>& model);
  // Step 1 for the model's first frames.cols() frames: their levels (as stacked) and their packed
  // masks, one after another in `masks`.
  void add(const FramesRef& frames, std::span<const std::uint8_t> masks);
  // After step 1: each pixel value's row of U S (values x k).
  Eigen::MatrixXd pixel_factor() const;
  // Step 2 for one frame (safe to call concurrently): its row of V given pixel_factor(); `start`
  // (its row in the model) when fewer than 2k values are background.
  // The pixel factor in float: the frame's sums run over blocks of values in float, added in double;
  // a frame of about 2^17 values or more is refitted on evenly spaced blocks of about 2^16 (as fit_frame).
  Eigen::VectorXd frame_factor(const Eigen::Ref<const Eigen::MatrixXf>& pixel_factor,
                               const Eigen::Ref<const FrameColumnLevels>& column, std::span<const std::uint8_t> mask,
                               Eigen::VectorXd start) const;
  // The same with the mask as made (8-bit, non-zero = foreground): the sampled blocks read it as it
  // is, where packing all of it would cost more than the refit.
  Eigen::VectorXd frame_factor(const Eigen::Ref<const Eigen::MatrixXf>& pixel_factor,
                               const Eigen::Ref<const FrameColumnLevels>& column, const cv::Mat& mask,
                               Eigen::VectorXd start) const;

 private:
  // Step 2 with `weights_of(first, count, out)`: the background weights of `count` pixels from `first`.
  template <typename BackgroundWeights>
  Eigen::VectorXd refit_frame(const Eigen::Ref<const Eigen::MatrixXf>& pixel_factor,
                              const Eigen::Ref<const FrameColumnLevels>& column, const BackgroundWeights& weights_of,
                              Eigen::VectorXd start) const;

  FrameGeometry geometry_;
  const linalg::SvdResult<float>& model_;
  Eigen::ArrayXXd gram_;              // pixels x k*k: sum of v_j v_j^T over the pixel's background frames
  Eigen::ArrayXXd moments_;           // values x k: sum of x v_j over the same frames
  Eigen::ArrayXd background_frames_;  // per pixel
};

// Solves the k x k normal equations gram x = right (LDLT reads gram's lower triangle) when they are
// well posed; false, leaving `solution` alone, when gram is singular or nearly so.
bool solve_normal(const Eigen::Ref<const Eigen::MatrixXd>& gram, const Eigen::Ref<const Eigen::MatrixXd>& right,
                  Eigen::Ref<Eigen::MatrixXd> solution);

// (pixel factor) (frame factor)^T as a truncated SVD: U and V orthonormal, singular values sorted.
linalg::SvdResult<float> to_svd(const Eigen::MatrixXd& pixel_factor, const Eigen::MatrixXd& frame_factor);

}  // namespace cleanplate::stages
