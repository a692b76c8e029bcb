#include "cleanplate/stages/frame_splitter.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <span>

#include "cleanplate/stages/robust_background.hpp"

namespace cleanplate::stages {

FittedSplitter::FittedSplitter(const FramesRef& frames, const BackgroundModel& model, const NoiseModel& noise,
                               const FrameGeometry& geometry, const MaskOptions& options)
    : geometry_(geometry),
      mask_options_(options),
      model_(model.svd),
      factor_(model_.U * model_.singular_values.asDiagonal()),
      start_(model_.V.colwise().mean().transpose()),
      band_(static_cast<float>(3 * noise.global_sigma)),  // the robust fit's inlier band
      seed_threshold_(stages::seed_threshold(options, noise)),
      refit_(std::make_unique<BackgroundRefit>(geometry, model_)) {
  const long n = frames.cols(), k = model_.rank();
  // The sampled frames' masks, packed one after another, for the refit's first step.
  const auto mask_bytes = static_cast<std::size_t>((geometry.pixels() + 7) / 8);
  std::vector<std::uint8_t> masks(static_cast<std::size_t>(n) * mask_bytes);
  const auto mask_of = [&](long j) {
    return std::span(masks).subspan(static_cast<std::size_t>(j) * mask_bytes, mask_bytes);
  };
  oneapi::tbb::parallel_for(0L, n, [&](long j) {
    const auto bits = pack_mask(
        frame_mask(frames.col(j), factor_, model_.V.row(j).transpose(), seed_threshold_, geometry_, mask_options_));
    std::copy(bits.begin(), bits.end(), mask_of(j).begin());
  });
  refit_->add(frames, masks);
  const Eigen::MatrixXd refit_factor = refit_->pixel_factor();
  refit_factor_ = refit_factor.cast<float>();
  Eigen::MatrixXd frame_factor(n, k);
  oneapi::tbb::parallel_for(0L, n, [&](long j) {
    frame_factor.row(j) =
        refit_->frame_factor(refit_factor_, frames.col(j), mask_of(j), model_.V.row(j).transpose().cast<double>())
            .transpose();
  });
  refit_background_ = to_svd(refit_factor, frame_factor);
  // P v = U S w for the refit's U and S, so w = S^-1 U^T P v.
  const Eigen::VectorXd s = refit_background_.singular_values.cast<double>();
  const Eigen::VectorXd inverse = (s.array() > 0).select(s.cwiseInverse(), 0.0);
  to_stored_ = (inverse.asDiagonal() * refit_background_.U.transpose().cast<double>() * refit_factor).cast<float>();
}

FrameSplit FittedSplitter::split(const Eigen::Ref<const FrameColumnLevels>& levels, const SplitExtras& extras) const {
  const Eigen::VectorXf coordinates = fit_frame(factor_, levels, band_, start_, 1);  // more refits: highway F +0.0002
  FrameSplit frame;
  frame.mask = frame_mask(levels, factor_, coordinates, seed_threshold_, geometry_, mask_options_);
  frame.refit = refit_->frame_factor(refit_factor_, levels, frame.mask, coordinates.cast<double>());
  if (extras.mask_bits) frame.mask_bits = pack_mask(frame.mask);
  if (extras.background) frame.background = factor_ * coordinates;
  return frame;
}

}  // namespace cleanplate::stages
