#include "cleanplate/stages/online_background.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <array>
#include <atomic>
#include <cleanplate/linalg/row_blocks.hpp>
#include <cmath>
#include <type_traits>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/robust_background.hpp"
#include "residual_levels.hpp"

namespace cleanplate::stages {

namespace {

// The mean of the residual magnitude (stages::residual_magnitude) in noise levels, for Gaussian
// noise: E|r| = sqrt(2 / pi) sigma for grey; the largest |r| of three channels averages 1.3264 sigma.
double magnitude_per_sigma(int channels) { return channels == 1 ? 0.7979 : 1.3264; }

// Per-pixel passes work on blocks of pixels that stay in cache, on every core.
constexpr Eigen::Index block_pixels = 4096;
template <typename Work>
void for_each_block(Eigen::Index pixels, const Work& work) {
  linalg::for_each_row_block(pixels, block_pixels, work);
}

// Calls `body` with the number of channels as a compile-time constant: the per-pixel loops unroll
// over the channels and vectorize over the pixels.
template <typename Body>
void with_channels(int channels, const Body& body) {
  if (channels == 1)
    body(std::integral_constant<int, 1>{});
  else if (channels == 3)
    body(std::integral_constant<int, 3>{});
  else
    throw Error("OnlineBackground: frames have 1 or 3 channels");
}

// Frames come as 8-bit levels (cameras and files) or as floats in [0, 1].
using detail::magnitude;
using detail::value_scale;
template <typename Value>
using FrameColumn = Eigen::Ref<const Eigen::Matrix<Value, Eigen::Dynamic, 1>>;
template <typename Value>
auto values_of(const FrameColumn<Value>& column, Eigen::Index first, Eigen::Index count) {
  return column.segment(first, count).template cast<float>() * value_scale<Value>;
}

// Each pixel's seed level (stages::seed_threshold) from its running mean magnitude, floored at the
// frame-wide level: computed for a block where it is used, not stored for the frame.
class PixelLevels {
 public:
  PixelLevels(const MaskOptions& options, const float* mean_magnitude, double magnitude_per_sigma, double global_sigma)
      : hysteresis(static_cast<float>(options.hysteresis)),
        mean_magnitude_(mean_magnitude),
        to_sigma_(static_cast<float>(1 / magnitude_per_sigma)),
        global_sigma_(static_cast<float>(global_sigma)),
        sigmas_(static_cast<float>(options.sigmas)),
        threshold_(static_cast<float>(options.threshold)) {}

  using Block = std::array<float, block_pixels>;
  void seeds(Eigen::Index first, Eigen::Index count, Block& seed) const {
    constexpr float one_level = 1.0f / 255;
    if (threshold_ > 0) {
      std::fill_n(seed.begin(), count, std::max(threshold_, one_level));
      return;
    }
    const float* mean = mean_magnitude_ + first;
    for (Eigen::Index i = 0; i < count; ++i)
      seed[i] = std::max(std::max(mean[i] * to_sigma_, global_sigma_) * sigmas_, one_level);
  }
  const float hysteresis;  // the grow level, as a fraction of the seed level

 private:
  const float* mean_magnitude_;
  float to_sigma_, global_sigma_, sigmas_, threshold_;
};

// The coordinates of `column` in the basis, fitted on the pixels that look like background. The
// plain projection U^T x counts the objects too (a dark car darkens the whole background a little),
// so the fit is repeated a few times on the pixels whose residual lies within the hysteresis level,
// as least squares weighted by w (1 there, 0 elsewhere): U^T W U c = U^T W x. The better half of
// the pixels always counts, as in least trimmed squares (Rousseeuw, JASA 1984): when the camera's
// exposure shifts, every residual leaves the band at once and the frame must still follow it.
// Large frames are fitted on evenly spaced blocks of about 2^16 pixels in all: k coordinates fitted
// on n pixels carry an error of about sigma / sqrt(n), which is then 1/256 of the noise, and the
// work of the fit stops growing with the frame.
template <int Channels, typename Value>
Eigen::VectorXf fit_coordinates(const Eigen::MatrixXf& U, const FrameColumn<Value>& column, const PixelLevels& levels) {
  constexpr int refits = 3;
  constexpr Eigen::Index fitted_blocks = (1 << 16) / block_pixels;
  const Eigen::Index k = U.cols(), pixels = column.size() / Channels;
  const Eigen::Index step = std::max<Eigen::Index>(1, linalg::row_blocks(pixels, block_pixels) / fitted_blocks);
  const auto sum_over_fitted = [&](const auto& partial) {
    return linalg::sum_over_row_blocks(pixels, block_pixels, partial, step);
  };
  const Eigen::MatrixXd projection = sum_over_fitted([&](Eigen::Index first, Eigen::Index count) {
    return (U.middleRows(first * Channels, count * Channels).transpose() *
            values_of(column, first * Channels, count * Channels))
        .eval();
  });
  Eigen::VectorXf coordinates = projection.cast<float>();
  for (int refit = 0; refit < refits; ++refit) {
    std::vector<float> sample;  // about 4,000 pixels give the median
    const Eigen::Index stride = std::max<Eigen::Index>(1, pixels / 4096) | 1;
    for (Eigen::Index p = 0; p < pixels; p += stride) {
      float background[Channels];
      for (int c = 0; c < Channels; ++c) background[c] = U.row(p * Channels + c).dot(coordinates);
      sample.push_back(magnitude<Channels>(column.data() + p * Channels, background));
    }
    const auto middle = sample.begin() + static_cast<std::ptrdiff_t>(sample.size() / 2);
    std::nth_element(sample.begin(), middle, sample.end());
    const float median = *middle;
    std::atomic<Eigen::Index> outliers = 0;
    const Eigen::MatrixXd normal = sum_over_fitted([&](Eigen::Index first, Eigen::Index count) {
      const auto U_block = U.middleRows(first * Channels, count * Channels);
      const Eigen::VectorXf x_block = values_of(column, first * Channels, count * Channels);  // in cache
      const Eigen::VectorXf background = U_block.lazyProduct(coordinates);
      PixelLevels::Block seed;
      levels.seeds(first, count, seed);
      Eigen::VectorXf weights(count * Channels);
      int inliers = 0;  // an integer sum vectorizes; a float one must add in order
      for (Eigen::Index i = 0; i < count; ++i) {
        const float m = magnitude<Channels>(x_block.data() + i * Channels, background.data() + i * Channels);
        const bool inlier = (m <= median) | (m <= seed[i] * levels.hysteresis);
        for (int c = 0; c < Channels; ++c) weights[i * Channels + c] = inlier ? 1.0f : 0.0f;
        inliers += inlier ? 1 : 0;
      }
      outliers += count - inliers;
      // [U^T W U, U^T W x] of the block as dot products: for k of 1 to 3, a matrix product's packing
      // costs more than the arithmetic.
      Eigen::MatrixXf sums(k, k + 1);
      for (Eigen::Index j = 0; j < k; ++j) {
        const auto weighted = weights.cwiseProduct(U_block.col(j));
        for (Eigen::Index l = 0; l <= j; ++l) sums(l, j) = sums(j, l) = weighted.dot(U_block.col(l));
        sums(j, k) = weighted.dot(x_block);
      }
      return sums;
    });
    if (outliers == 0) break;
    const Eigen::LDLT<Eigen::MatrixXf> solver(normal.leftCols(k).cast<float>());
    if (solver.info() != Eigen::Success || solver.vectorD().minCoeff() <= 1e-3f) break;
    coordinates = solver.solve(normal.col(k).cast<float>());
  }
  return coordinates;
}

// The update of `count` pixels: each one's running mean magnitude (background pixels only), its
// foreground age, and the value the basis learns (its background while it is young foreground).
// Returns how many settled: foreground for `settle_age` frames, so they take their new value.
// Written so that GCC vectorizes the pixel loop (checked with -fopt-info-vec): the arrays as
// __restrict parameters, the channel loop unrolled first, the count as a select.
template <int C, typename Value>
int update_pixels(Eigen::Index count, const Value* __restrict x, const float* __restrict background,
                  const std::uint8_t* __restrict grown, const std::uint8_t* __restrict masked, float mean_rate,
                  float settle_age, float* __restrict mean, float* __restrict age, float* __restrict clean) {
  int settled = 0;
  for (Eigen::Index i = 0; i < count; ++i) {
    const bool out = (grown[i] | masked[i]) != 0;
    const float step = mean_rate * (magnitude<C>(x + i * C, background + i * C) - mean[i]);
    mean[i] += out ? 0.0f : step;
    const float older = out ? age[i] + 1 : 0.0f;
    const bool young = out && older < settle_age;
    age[i] = young ? older : 0.0f;  // a settled pixel starts again
    // Unrolled before the vectorizer looks: an inner loop would keep the pixel loop scalar.
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) clean[i * C + c] = young ? background[i * C + c] : x[i * C + c] * value_scale<Value>;
    settled += (out && !young) ? 1 : 0;  // a select: a sum of bools does not vectorize
  }
  return settled;
}

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
  const NoiseModel noise = estimate_noise(warmup_frames_, mode, geometry_);
  for (Eigen::Index j = 0; j < warmup_frames_.cols(); ++j)
    basis_.update(mode);  // the weight of the frames it stands for
  global_sigma_ = noise.global_sigma;
  const cv::Mat mean_magnitude = noise.pixel_sigma * magnitude_per_sigma(geometry_.channels);
  mean_magnitude_ = Eigen::Map<const Eigen::VectorXf>(mean_magnitude.ptr<float>(), geometry_.pixels());
  foreground_age_.setZero(geometry_.pixels());
  warmup_frames_.resize(0, 0);
}

OnlineFrame OnlineBackground::process(const Eigen::Ref<const FrameColumnLevels>& levels, double learning_rate) {
  return process_values<std::uint8_t>(levels, learning_rate);
}

OnlineFrame OnlineBackground::process(const Eigen::Ref<const Eigen::VectorXf>& column, double learning_rate) {
  return process_values<float>(column, learning_rate);
}

template <typename Value>
OnlineFrame OnlineBackground::process_values(const FrameColumn<Value>& column, double learning_rate) {
  if (column.size() != geometry_.values()) throw Error("OnlineBackground: the frame does not match the geometry");
  if (!(learning_rate <= 1)) throw Error("OnlineBackground: the learning rate must be at most 1");
  ++frames_;
  OnlineFrame frame;
  if (mean_magnitude_.size() == 0) {  // warming up
    if (warmup_frames_.size() == 0) warmup_frames_.resize(geometry_.values(), options_.warmup);
    if constexpr (std::is_integral_v<Value>)
      warmup_frames_.col(frames_ - 1) = column;
    else
      warmup_frames_.col(frames_ - 1) =
          (column.array() * 255).round().cwiseMax(0).cwiseMin(255).template cast<std::uint8_t>();
    frame.warming_up = true;
    if (frames_ < options_.warmup) {
      frame.background = values_of(column, 0, column.size());
      frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
      return frame;
    }
    finish_warmup();  // the mode holds this frame already: no update
    const Eigen::MatrixXf& U = basis_.U();
    frame.background = U * (U.transpose() * values_of(column, 0, column.size()));
    frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
    return frame;
  }

  // Every per-pixel step runs in blocks of pixels on all cores, with the levels computed where they
  // are used: a 1080p frame is streamed a few times, not once per step.
  const PixelLevels levels(options_.mask, mean_magnitude_.data(), magnitude_per_sigma(geometry_.channels),
                           global_sigma_);
  const Eigen::MatrixXf& U = basis_.U();
  const Eigen::Index pixels = geometry_.pixels();
  cv::Mat seeds(geometry_.height, geometry_.width, CV_8U), grow(geometry_.height, geometry_.width, CV_8U);
  Eigen::VectorXf coordinates;
  frame.background.resize(column.size());
  with_channels(geometry_.channels, [&](auto channels) {
    constexpr int C = decltype(channels)::value;
    coordinates = fit_coordinates<C>(U, column, levels);
    for_each_block(pixels, [&](Eigen::Index first, Eigen::Index count) {
      auto background = frame.background.segment(first * C, count * C);
      // A lazy product: for k of 1 to 3, GEMV's call and its zeroing of the result cost more than the arithmetic.
      background = U.middleRows(first * C, count * C).lazyProduct(coordinates);
      PixelLevels::Block seed;
      levels.seeds(first, count, seed);
      detail::compare_with_seeds<C>(count, column.data() + first * C, background.data(), seed.data(), levels.hysteresis,
                                    seeds.data + first, grow.data + first);
    });
  });
  // What the updates leave out ("excluded"): the mask, and every pixel above the hysteresis level
  // (the opening trims an object's corners from the mask; they must not leak into the background).
  frame.mask = grow_mask(std::move(seeds), options_.mask.hysteresis < 1 ? grow : cv::Mat(), options_.mask);
  if (learning_rate == 0) return frame;  // frozen: the model learns nothing from this frame
  const double memory = learning_rate > 0 ? std::max(1 / learning_rate, 1.0) : options_.memory;
  const auto excluded = [&](Eigen::Index pixel) { return (grow.data[pixel] | frame.mask.data[pixel]) != 0; };

  // Each background pixel's running mean magnitude. The robust update: the foreground pixels enter
  // as their background while young. A pixel that has been foreground for `memory` frames in a row
  // takes its new value at once (a parked car, or the ghost an object leaves where it stood during
  // the warm-up): left to the forgetting factor alone, the old value would fade over several more
  // `memory` spans.
  const float rate = static_cast<float>(1.0 / std::min(memory, 50.0));
  clean_.resize(column.size());
  // The pixels that settled, found in each block while it is in cache, listed in block order.
  std::vector<std::vector<Eigen::Index>> settled_pixels(
      static_cast<std::size_t>(linalg::row_blocks(pixels, block_pixels)));
  with_channels(geometry_.channels, [&](auto channels) {
    constexpr int C = decltype(channels)::value;
    for_each_block(pixels, [&](Eigen::Index first, Eigen::Index count) {
      const int settled =
          update_pixels<C>(count, column.data() + first * C, frame.background.data() + first * C, grow.data + first,
                           frame.mask.data + first, rate, static_cast<float>(memory), mean_magnitude_.data() + first,
                           foreground_age_.data() + first, clean_.data() + first * C);
      if (settled == 0) return;
      auto& found = settled_pixels[static_cast<std::size_t>(first / block_pixels)];
      for (Eigen::Index p = first; p < first + count; ++p)
        if (excluded(p) && foreground_age_[p] == 0) found.push_back(p);
    });
  });

  // The frame-wide level by MSSE over about 4,000 background residuals. (A median of the pixels'
  // levels would follow the foreground up where it covers most of the frame, and the masks would
  // vanish.)
  const Eigen::Index channels = geometry_.channels;
  std::vector<float> residuals;
  const Eigen::Index stride = std::max<Eigen::Index>(1, geometry_.values() / 4096) | 1;
  for (Eigen::Index i = 0; i < geometry_.values(); i += stride)
    if (!excluded(i / channels)) residuals.push_back(column[i] * value_scale<Value> - frame.background[i]);
  if (residuals.size() >= 100) global_sigma_ += rate * (inlier_scale(std::move(residuals)) - global_sigma_);

  std::vector<Eigen::Index> rows;  // of the settled pixels' values
  for (const auto& found : settled_pixels)
    for (const Eigen::Index p : found)
      for (Eigen::Index c = 0; c < channels; ++c) rows.push_back(p * channels + c);
  if (!rows.empty()) basis_.reset_rows(rows, coordinates, column(rows).template cast<float>() * value_scale<Value>);
  basis_.set_forgetting_factor(std::exp(-1 / memory));
  basis_.update(clean_);
  return frame;
}

}  // namespace cleanplate::stages
