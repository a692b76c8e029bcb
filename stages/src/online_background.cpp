#include "cleanplate/stages/online_background.hpp"

#include <algorithm>
#include <Eigen/Cholesky>
#include <cmath>

#include "cleanplate/error.hpp"

namespace cleanplate::stages {

namespace {

// For Gaussian noise, sigma = sqrt(pi / 2) x the mean absolute value.
constexpr double sigma_per_mean_absolute = 1.2533;

}  // namespace

OnlineBackground::OnlineBackground(const FrameGeometry& geometry, const OnlineOptions& options)
    : geometry_(geometry),
      options_(options),
      basis_({.rank = options.rank, .forgetting_factor = std::exp(-1.0 / std::max(options.memory, 1.0))}, geometry.values()) {
  if (options.warmup < 1) throw Error("the warm-up must be at least one frame");
  if (!(options.memory >= 1)) throw Error("--memory must be at least one frame");
}

void OnlineBackground::finish_warmup() {
  const Eigen::Index values = geometry_.values(), n = static_cast<Eigen::Index>(warmup_frames_.size());
  Eigen::VectorXf median(values);
  std::vector<float> samples(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < values; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) samples[static_cast<std::size_t>(j)] = warmup_frames_[static_cast<std::size_t>(j)][i];
    std::nth_element(samples.begin(), samples.begin() + n / 2, samples.end());
    median[i] = samples[static_cast<std::size_t>(n / 2)];
  }
  // The median enters with the weight of the frames it stands for.
  for (Eigen::Index j = 0; j < n; ++j) basis_.update(median);
  Eigen::MatrixXf residuals(values, n);
  for (Eigen::Index j = 0; j < n; ++j) residuals.col(j) = warmup_frames_[static_cast<std::size_t>(j)] - median;
  const NoiseModel noise = estimate_noise(residuals, geometry_);
  global_sigma_ = noise.global_sigma;
  mean_absolute_residual_ = noise.pixel_sigma / sigma_per_mean_absolute;
  warmup_frames_.clear();
  warmup_frames_.shrink_to_fit();
}

OnlineFrame OnlineBackground::process(const Eigen::Ref<const Eigen::VectorXf>& column) {
  if (column.size() != geometry_.values()) throw Error("OnlineBackground: the frame does not match the geometry");
  ++frames_;
  OnlineFrame frame;
  if (mean_absolute_residual_.empty()) {  // warming up
    warmup_frames_.push_back(column);
    frame.warming_up = true;
    if (static_cast<long>(warmup_frames_.size()) < options_.warmup) {
      frame.background = column;
      frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
      return frame;
    }
    finish_warmup();  // the median holds this frame already: no update
    const Eigen::MatrixXf U = basis_.U();
    frame.background = U * (U.transpose() * column);
    frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
    return frame;
  }

  // Per-pixel levels from the running mean absolute residual, floored at the frame-wide level.
  NoiseModel noise;
  noise.global_sigma = global_sigma_;
  noise.pixel_sigma = cv::max(mean_absolute_residual_ * sigma_per_mean_absolute, global_sigma_);
  const cv::Mat seeds = seed_threshold(options_.mask, noise);

  // The projection U U^T x counts the objects too (a dark car darkens the whole background a
  // little), so the coordinates are fitted again on the pixels the first residual calls background.
  const Eigen::MatrixXf U = basis_.U();
  Eigen::VectorXf coordinates = U.transpose() * column;
  cv::Mat suspects;
  cv::compare(residual_magnitude(column - U * coordinates, geometry_), seeds * options_.mask.hysteresis, suspects, cv::CMP_GT);
  if (cv::countNonZero(suspects) > 0) {
    Eigen::MatrixXf gram = U.transpose() * U;
    Eigen::VectorXf moment = coordinates;
    const std::uint8_t* suspect = suspects.ptr<std::uint8_t>();
    for (Eigen::Index p = 0; p < geometry_.pixels(); ++p) {
      if (!suspect[p]) continue;
      const auto rows = U.middleRows(p * geometry_.channels, geometry_.channels);
      gram -= rows.transpose() * rows;
      moment -= rows.transpose() * column.segment(p * geometry_.channels, geometry_.channels);
    }
    const Eigen::LDLT<Eigen::MatrixXf> normal(gram);
    if (normal.info() == Eigen::Success && normal.vectorD().minCoeff() > 1e-3f) coordinates = normal.solve(moment);
  }
  frame.background = U * coordinates;
  const cv::Mat magnitude = residual_magnitude(column - frame.background, geometry_);
  frame.mask = make_mask(magnitude, seeds, options_.mask);
  // What the updates leave out: the mask, and every pixel above the hysteresis level (the opening
  // trims an object's corners from the mask; they must not leak into the background either).
  cv::Mat excluded;
  cv::compare(magnitude, seeds * options_.mask.hysteresis, excluded, cv::CMP_GT);
  excluded |= frame.mask;

  // Running levels over the background pixels: each pixel's, and the frame-wide median of them.
  const double rate = 1.0 / std::min(options_.memory, 50.0);
  cv::Mat background_pixels;
  cv::bitwise_not(excluded, background_pixels);
  cv::Mat updated;
  cv::addWeighted(mean_absolute_residual_, 1 - rate, magnitude, rate, 0, updated);
  updated.copyTo(mean_absolute_residual_, background_pixels);
  std::vector<float> levels(mean_absolute_residual_.begin<float>(), mean_absolute_residual_.end<float>());
  std::nth_element(levels.begin(), levels.begin() + levels.size() / 2, levels.end());
  global_sigma_ = sigma_per_mean_absolute * levels[levels.size() / 2];

  // Robust update: the foreground pixels enter as their background, unless they have stayed.
  if (foreground_age_.empty()) foreground_age_ = cv::Mat::zeros(geometry_.height, geometry_.width, CV_32S);
  Eigen::VectorXf clean = column;
  const int channels = geometry_.channels;
  const std::uint8_t* foreground = excluded.ptr<std::uint8_t>();
  int* age = foreground_age_.ptr<int>();
  for (Eigen::Index p = 0; p < geometry_.pixels(); ++p) {
    age[p] = foreground[p] ? age[p] + 1 : 0;
    if (foreground[p] && age[p] < options_.memory) clean.segment(p * channels, channels) = frame.background.segment(p * channels, channels);
  }
  basis_.update(clean);
  return frame;
}

}  // namespace cleanplate::stages
