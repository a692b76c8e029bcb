#include "cleanplate/stages/online_background.hpp"

#include <algorithm>
#include <Eigen/Cholesky>
#include <cmath>
#include <opencv2/imgproc.hpp>

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

// One pass over the warm-up frames: per value the median (the background) and the median
// absolute deviation around it (the noise level, 1.4826 x MAD), which objects passing through
// barely move. (stages::estimate_noise does the same on residual columns, at several times the
// cost of this single pass, which would stall a live stream for half a second at 640x480.)
void OnlineBackground::finish_warmup() {
  const Eigen::Index values = geometry_.values(), n = static_cast<Eigen::Index>(warmup_frames_.size());
  const int channels = geometry_.channels;
  Eigen::VectorXf median(values);
  cv::Mat sigma(geometry_.height, geometry_.width, CV_32F, cv::Scalar(0));
  std::vector<float> samples(static_cast<std::size_t>(n));
  const auto middle = samples.begin() + n / 2;
  for (Eigen::Index i = 0; i < values; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) samples[static_cast<std::size_t>(j)] = warmup_frames_[static_cast<std::size_t>(j)][i];
    std::nth_element(samples.begin(), middle, samples.end());
    median[i] = *middle;
    for (auto& v : samples) v = std::abs(v - median[i]);
    std::nth_element(samples.begin(), middle, samples.end());
    float& level = sigma.at<float>(static_cast<int>(i / channels));  // the largest over the channels, like the magnitudes
    level = std::max(level, 1.4826f * *middle);
  }
  // The median enters with the weight of the frames it stands for.
  for (Eigen::Index j = 0; j < n; ++j) basis_.update(median);
  std::vector<float> levels(sigma.begin<float>(), sigma.end<float>());
  std::nth_element(levels.begin(), levels.begin() + static_cast<std::ptrdiff_t>(levels.size() / 2), levels.end());
  global_sigma_ = std::max(levels[levels.size() / 2], 0.5f / 255);  // a noiseless input still rounds
  mean_absolute_residual_ = cv::max(sigma, global_sigma_) / sigma_per_mean_absolute;
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
  const cv::Mat seeds = seed_threshold(options_.mask, noise), grow_levels = seeds * options_.mask.hysteresis;

  // The projection U U^T x counts the objects too (a dark car darkens the whole background a
  // little), so the coordinates are fitted again on the pixels the first residual calls background:
  // least squares weighted by w (1 there, 0 on the suspects), U^T W U c = U^T W x.
  const Eigen::MatrixXf U = basis_.U();
  Eigen::VectorXf coordinates = U.transpose() * column;
  cv::Mat suspects;
  cv::compare(residual_magnitude(column - U * coordinates, geometry_), grow_levels, suspects, cv::CMP_GT);
  if (cv::countNonZero(suspects) > 0) {
    Eigen::VectorXf weights(geometry_.values());
    cv::Mat per_value(geometry_.height, geometry_.width, CV_32FC(geometry_.channels), weights.data());
    if (geometry_.channels == 1) suspects.convertTo(per_value, CV_32F, -1.0 / 255, 1);  // in place: the sizes match
    else {
      cv::Mat per_pixel;
      suspects.convertTo(per_pixel, CV_32F, -1.0 / 255, 1);
      cv::merge(std::vector<cv::Mat>(static_cast<std::size_t>(geometry_.channels), per_pixel), per_value);
    }
    const Eigen::MatrixXf gram = U.transpose() * weights.asDiagonal() * U;
    const Eigen::LDLT<Eigen::MatrixXf> normal(gram);
    if (normal.info() == Eigen::Success && normal.vectorD().minCoeff() > 1e-3f) coordinates = normal.solve(U.transpose() * weights.cwiseProduct(column));
  }
  frame.background = U * coordinates;
  const cv::Mat magnitude = residual_magnitude(column - frame.background, geometry_);
  frame.mask = make_mask(magnitude, seeds, options_.mask);
  // What the updates leave out: the mask, and every pixel above the hysteresis level (the opening
  // trims an object's corners from the mask; they must not leak into the background either).
  cv::Mat excluded;
  cv::compare(magnitude, grow_levels, excluded, cv::CMP_GT);
  excluded |= frame.mask;

  // Running levels over the background pixels: each pixel's, and the frame-wide median of them.
  const double rate = 1.0 / std::min(options_.memory, 50.0);
  cv::Mat background_pixels;
  cv::bitwise_not(excluded, background_pixels);
  cv::accumulateWeighted(magnitude, mean_absolute_residual_, rate, background_pixels);
  std::vector<float> levels;  // a sample of about 4,000 pixels is plenty for a median
  const float* level = mean_absolute_residual_.ptr<float>();
  const std::size_t pixels = mean_absolute_residual_.total(), stride = std::max<std::size_t>(1, pixels / 4096) | 1;
  for (std::size_t p = 0; p < pixels; p += stride) levels.push_back(level[p]);
  std::nth_element(levels.begin(), levels.begin() + static_cast<std::ptrdiff_t>(levels.size() / 2), levels.end());
  global_sigma_ = sigma_per_mean_absolute * levels[levels.size() / 2];

  // Robust update: the foreground pixels enter as their background, unless they have stayed.
  if (foreground_age_.empty()) foreground_age_ = cv::Mat::zeros(geometry_.height, geometry_.width, CV_32F);
  cv::add(foreground_age_, 1, foreground_age_, excluded);
  foreground_age_.setTo(0, background_pixels);
  cv::Mat young;
  cv::compare(foreground_age_, options_.memory, young, cv::CMP_LT);
  young &= excluded;
  Eigen::VectorXf clean = column;
  const int type = CV_32FC(geometry_.channels);
  cv::Mat(geometry_.height, geometry_.width, type, frame.background.data()).copyTo(cv::Mat(geometry_.height, geometry_.width, type, clean.data()), young);
  basis_.update(clean);
  return frame;
}

}  // namespace cleanplate::stages
