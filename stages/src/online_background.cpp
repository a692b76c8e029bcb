#include "cleanplate/stages/online_background.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/robust_background.hpp"

namespace cleanplate::stages {

namespace {

// The mean of the residual magnitude (stages::residual_magnitude) in noise levels, for Gaussian
// noise: E|r| = sqrt(2 / pi) sigma for grey; the largest |r| of three channels averages 1.3264 sigma.
double magnitude_per_sigma(int channels) { return channels == 1 ? 0.7979 : 1.3264; }

}  // namespace

OnlineBackground::OnlineBackground(const FrameGeometry& geometry, const OnlineOptions& options)
    : geometry_(geometry),
      options_(options),
      basis_({.rank = options.rank, .forgetting_factor = std::exp(-1 / std::max(options.memory, 1.0))},
             geometry.values()) {
  if (options.warmup < 1) throw Error("the warm-up must be at least one frame");
  if (!(options.memory >= 1)) throw Error("--memory must be at least one frame");
}

// The warm-up frames' per-pixel mode seeds the basis: what the camera shows most often, which
// leaves moving across the lens or a lecturer in front of a board do not move as they move a median.
// The residuals against it seed the noise levels, each pixel's and the frame-wide one, by MSSE as in
// `separate` (stages/mask.hpp): a MAD breaks down where the foreground covers half the frames.
void OnlineBackground::finish_warmup() {
  const Eigen::VectorXf mode = background_mode(warmup_frames_);
  const NoiseModel noise = estimate_noise(frame_values(warmup_frames_).colwise() - mode, geometry_);
  for (Eigen::Index j = 0; j < warmup_frames_.cols(); ++j)
    basis_.update(mode);  // the weight of the frames it stands for
  global_sigma_ = noise.global_sigma;
  mean_magnitude_ = noise.pixel_sigma * magnitude_per_sigma(geometry_.channels);
  warmup_frames_.resize(0, 0);
}

// The coordinates of `column` in the basis, fitted on the pixels that look like background. The
// plain projection U^T x counts the objects too (a dark car darkens the whole background a little),
// so the fit is repeated a few times on the pixels whose residual lies within the hysteresis level,
// as least squares weighted by w (1 there, 0 elsewhere): U^T W U c = U^T W x. The better half of
// the pixels always counts, as in least trimmed squares (Rousseeuw, JASA 1984): when the camera's
// exposure shifts, every residual leaves the band at once and the frame must still follow it.
Eigen::VectorXf OnlineBackground::fit_coordinates(const Eigen::MatrixXf& U,
                                                  const Eigen::Ref<const Eigen::VectorXf>& column,
                                                  const cv::Mat& grow_levels) const {
  constexpr int refits = 3;
  Eigen::VectorXf coordinates = U.transpose() * column;
  Eigen::VectorXf weights(geometry_.values());
  for (int refit = 0; refit < refits; ++refit) {
    const cv::Mat magnitude = residual_magnitude(column - U * coordinates, geometry_);
    std::vector<float> sample;  // about 4,000 pixels give the median
    const float* m = magnitude.ptr<float>();
    const std::size_t pixels = magnitude.total(), stride = std::max<std::size_t>(1, pixels / 4096) | 1;
    for (std::size_t p = 0; p < pixels; p += stride) sample.push_back(m[p]);
    const auto median = sample.begin() + static_cast<std::ptrdiff_t>(sample.size() / 2);
    std::nth_element(sample.begin(), median, sample.end());
    cv::Mat inliers = (magnitude <= grow_levels) | (magnitude <= *median);
    if (cv::countNonZero(inliers) == static_cast<int>(pixels)) break;
    cv::Mat per_value(geometry_.height, geometry_.width, CV_32FC(geometry_.channels), weights.data());
    if (geometry_.channels > 1)
      cv::merge(std::vector<cv::Mat>(static_cast<std::size_t>(geometry_.channels), inliers), inliers);
    inliers.convertTo(per_value, CV_32F, 1.0 / 255);
    const Eigen::LDLT<Eigen::MatrixXf> normal(U.transpose() * weights.asDiagonal() * U);
    if (normal.info() != Eigen::Success || normal.vectorD().minCoeff() <= 1e-3f) break;
    coordinates = normal.solve(U.transpose() * weights.cwiseProduct(column));
  }
  return coordinates;
}

OnlineFrame OnlineBackground::process(const Eigen::Ref<const Eigen::VectorXf>& column, double learning_rate) {
  if (column.size() != geometry_.values()) throw Error("OnlineBackground: the frame does not match the geometry");
  if (!(learning_rate <= 1)) throw Error("OnlineBackground: the learning rate must be at most 1");
  ++frames_;
  OnlineFrame frame;
  if (mean_magnitude_.empty()) {  // warming up
    if (warmup_frames_.size() == 0) warmup_frames_.resize(geometry_.values(), options_.warmup);
    warmup_frames_.col(frames_ - 1) = (column.array() * 255).round().cwiseMax(0).cwiseMin(255).cast<std::uint8_t>();
    frame.warming_up = true;
    if (frames_ < options_.warmup) {
      frame.background = column;
      frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
      return frame;
    }
    finish_warmup();  // the mode holds this frame already: no update
    const Eigen::MatrixXf U = basis_.U();
    frame.background = U * (U.transpose() * column);
    frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
    return frame;
  }

  // Per-pixel levels from the running mean magnitude, floored at the frame-wide level.
  NoiseModel noise;
  noise.global_sigma = global_sigma_;
  noise.pixel_sigma = cv::max(mean_magnitude_ / magnitude_per_sigma(geometry_.channels), global_sigma_);
  const cv::Mat seeds = seed_threshold(options_.mask, noise), grow_levels = seeds * options_.mask.hysteresis;

  const Eigen::MatrixXf U = basis_.U();
  const Eigen::VectorXf coordinates = fit_coordinates(U, column, grow_levels);
  frame.background = U * coordinates;
  const cv::Mat magnitude = residual_magnitude(column - frame.background, geometry_);
  frame.mask = make_mask(magnitude, seeds, options_.mask);
  // What the updates leave out: the mask, and every pixel above the hysteresis level (the opening
  // trims an object's corners from the mask; they must not leak into the background either).
  cv::Mat excluded;
  cv::compare(magnitude, grow_levels, excluded, cv::CMP_GT);
  excluded |= frame.mask;
  if (learning_rate == 0) return frame;  // frozen: the model learns nothing from this frame
  const double memory = learning_rate > 0 ? std::max(1 / learning_rate, 1.0) : options_.memory;

  // Running levels over the background pixels: each pixel's mean magnitude, and the frame-wide level
  // by MSSE over about 4,000 of their residuals. (A median of the pixels' levels would follow the
  // foreground up where it covers most of the frame, and the masks would vanish.)
  const double rate = 1.0 / std::min(memory, 50.0);
  cv::Mat background_pixels;
  cv::bitwise_not(excluded, background_pixels);
  cv::accumulateWeighted(magnitude, mean_magnitude_, rate, background_pixels);
  std::vector<float> residuals;
  const Eigen::Index stride = std::max<Eigen::Index>(1, geometry_.values() / 4096) | 1;
  for (Eigen::Index i = 0; i < geometry_.values(); i += stride)
    if (background_pixels.data[i / geometry_.channels]) residuals.push_back(column[i] - frame.background[i]);
  if (residuals.size() >= 100) global_sigma_ += rate * (inlier_scale(std::move(residuals)) - global_sigma_);

  // Robust update: the foreground pixels enter as their background while young. A pixel that has
  // been foreground for `memory` frames in a row takes its new value at once (a parked car, or the
  // ghost an object leaves where it stood during the warm-up): left to the forgetting factor alone,
  // the old value would fade over several more `memory` spans.
  if (foreground_age_.empty()) foreground_age_ = cv::Mat::zeros(geometry_.height, geometry_.width, CV_32F);
  cv::add(foreground_age_, 1, foreground_age_, excluded);
  foreground_age_.setTo(0, background_pixels);
  cv::Mat young, settled;
  cv::compare(foreground_age_, memory, young, cv::CMP_LT);
  young &= excluded;
  cv::bitwise_xor(young, excluded, settled);
  if (const int count = cv::countNonZero(settled); count > 0) {
    std::vector<Eigen::Index> rows;
    rows.reserve(static_cast<std::size_t>(count * geometry_.channels));
    for (int p = 0; p < static_cast<int>(settled.total()); ++p)
      if (settled.data[p])
        for (int c = 0; c < geometry_.channels; ++c) rows.push_back(Eigen::Index{p} * geometry_.channels + c);
    basis_.reset_rows(rows, coordinates, column(rows));
    foreground_age_.setTo(0, settled);
  }
  Eigen::VectorXf clean = column;
  const int type = CV_32FC(geometry_.channels);
  cv::Mat(geometry_.height, geometry_.width, type, frame.background.data())
      .copyTo(cv::Mat(geometry_.height, geometry_.width, type, clean.data()), young);
  basis_.set_forgetting_factor(std::exp(-1 / memory));
  basis_.update(clean);
  return frame;
}

}  // namespace cleanplate::stages
