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

// Frames come as 8-bit levels (cameras and files) or as floats in [0, 1].
using detail::magnitude;
using detail::shown_magnitude;
using detail::value_scale;
using detail::with_channels;
template <typename Value>
using FrameColumn = Eigen::Ref<const Eigen::Matrix<Value, Eigen::Dynamic, 1>>;
template <typename Value>
auto values_of(const FrameColumn<Value>& column, Eigen::Index first, Eigen::Index count) {
  return column.segment(first, count).template cast<float>() * value_scale<Value>;
}

// A pixel's seed level (stages::seed_threshold) from its running mean magnitude: `sigmas` times its
// noise level, floored at the frame-wide level and at one grey level; or the options' fixed level.
struct SeedRule {
  float to_sigma, global_sigma, sigmas, fixed;  // fixed > 0: the options' threshold, at least a level
  float level(float mean_magnitude) const {
    return fixed > 0 ? fixed : std::max(std::max(mean_magnitude * to_sigma, global_sigma) * sigmas, level_step);
  }
};

// Each pixel's seed level, computed for a block where it is used, not stored for the frame.
class PixelLevels {
 public:
  PixelLevels(const MaskOptions& options, const float* mean_magnitude, double magnitude_per_sigma, double global_sigma)
      : hysteresis(static_cast<float>(options.hysteresis)),
        rule{.to_sigma = static_cast<float>(1 / magnitude_per_sigma),
             .global_sigma = static_cast<float>(global_sigma),
             .sigmas = static_cast<float>(options.sigmas),
             .fixed = options.threshold > 0 ? std::max(static_cast<float>(options.threshold), level_step) : 0.0f},
        mean_magnitude_(mean_magnitude) {}

  using Block = std::array<float, block_pixels>;
  void seeds(Eigen::Index first, Eigen::Index count, Block& seed) const {
    const SeedRule local = rule;  // a copy: the stores below cannot alias it, and the loop vectorizes
    const float* mean = mean_magnitude_ + first;
    for (Eigen::Index i = 0; i < count; ++i) seed[i] = local.level(mean[i]);
  }
  const float* mean_magnitude() const { return mean_magnitude_; }
  const float hysteresis;  // the grow level, as a fraction of the seed level
  const SeedRule rule;

 private:
  const float* mean_magnitude_;
};

// detail::finish_mask with each pixel's own seed level.
template <typename Value>
cv::Mat finish_mask(cv::Mat seeds, const cv::Mat& grow, const FrameColumn<Value>& column, int channels,
                    const PixelLevels& levels, const float* background, const MaskOptions& options) {
  cv::Mat mask;
  with_channels(channels, [&](auto c) {
    mask = detail::finish_mask<decltype(c)::value>(
        std::move(seeds), grow, column.data(), background,
        [rule = levels.rule, mean = levels.mean_magnitude()](Eigen::Index pixel) { return rule.level(mean[pixel]); },
        options);
  });
  return mask;
}

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
  const Eigen::Index k = U.cols(), pixels = column.size() / Channels;
  const Eigen::Index step = linalg::sampling_step(pixels, block_pixels, 1 << 16);
  const auto sum_over_fitted = [&](const auto& partial) {
    return linalg::sum_over_row_blocks(pixels, block_pixels, partial, step);
  };
  // Least squares over the fitted pixels, U^T W U c = U^T W x. A basis vector that lives where no
  // pixel counts (an object's edge the basis learned, now all outliers) cannot be fitted there: a
  // small ridge holds its coordinate at `prior`, and the others are still fitted.
  const double ridge = 1e-3 / static_cast<double>(step);
  const auto solve = [&](Eigen::MatrixXd gram, Eigen::VectorXd right, const Eigen::VectorXd& prior) {
    if (gram.diagonal().minCoeff() <= ridge) {
      gram.diagonal().array() += ridge;
      right += ridge * prior;
    }
    return Eigen::VectorXd(gram.ldlt().solve(right));
  };
  // The plain fit on every fitted pixel (U^T U is the identity when they are all the frame's).
  const Eigen::MatrixXd plain = sum_over_fitted([&](Eigen::Index first, Eigen::Index count) {
    const auto U_block = U.middleRows(first * Channels, count * Channels);
    Eigen::MatrixXf sums(k, k + 1);
    sums << U_block.transpose() * U_block, U_block.transpose() * values_of(column, first * Channels, count * Channels);
    return sums;
  });
  const Eigen::VectorXd projection = solve(plain.leftCols(k), plain.col(k), Eigen::VectorXd::Zero(k));
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
    coordinates = solve(normal.leftCols(k), normal.col(k), projection).template cast<float>();
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
                  std::uint16_t settle_age, float* __restrict mean, std::uint16_t* __restrict age,
                  float* __restrict clean) {
  int settled = 0;
  for (Eigen::Index i = 0; i < count; ++i) {
    const bool out = (grown[i] | masked[i]) != 0;
    const float step = mean_rate * (shown_magnitude<C>(x + i * C, background + i * C) - mean[i]);
    mean[i] += out ? 0.0f : step;
    const std::uint16_t older = out ? age[i] + 1 : 0;  // below settle_age before: no overflow
    const bool young = out && older < settle_age;
    age[i] = young ? older : 0;  // a settled pixel starts again
    // Unrolled before the vectorizer looks: an inner loop would keep the pixel loop scalar.
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) clean[i * C + c] = young ? background[i * C + c] : x[i * C + c] * value_scale<Value>;
    settled += (out && !young) ? 1 : 0;  // a select: a sum of bools does not vectorize
  }
  return settled;
}

// The memory of one frame's update: the options', or 1 / learning_rate frames as OpenCV's
// subtractors take it. The pixels' noise levels learn over at most 50 of them.
double update_memory(double learning_rate, double options_memory) {
  return learning_rate > 0 ? std::max(1 / learning_rate, 1.0) : options_memory;
}
float level_rate(double memory) { return static_cast<float>(1.0 / std::min(memory, 50.0)); }
// The foreground age at which a pixel settles: `memory` frames, at most 65535 (36 minutes at 30 fps),
// as the ages are 16 bits: half the bytes of floats, and the per-pixel passes are bound by memory.
std::uint16_t settle_age(double memory) { return static_cast<std::uint16_t>(std::min(std::ceil(memory), 65535.0)); }

// The model's block side for a frame. Frames of at most 2^18 pixels (320x240, 512x512) keep every
// pixel; larger ones take the smallest side that leaves at most 2^16 block means (3 at 640x480, 4 at
// 1280x720, 6 at 1920x1080, 12 at 3840x2160), so the model's passes cost less than a 320x240 frame's.
// A cost limit: on the synthetic scenes of those four sizes the masks came out better with these
// sides than with the sides that left 2^18 means (README, Benchmarks).
int block_for(const FrameGeometry& geometry, int requested) {
  if (requested < 0) throw Error("OnlineBackground: the model's block side must not be negative");
  if (requested > std::min(geometry.width, geometry.height))
    throw Error("the model's block side (" + std::to_string(requested) +
                ") must not exceed the frame's width or height (" + std::to_string(geometry.width) + "x" +
                std::to_string(geometry.height) + ")");
  if (requested > 0) return requested;
  constexpr Eigen::Index every_pixel_up_to = 1 << 18, most_means = 1 << 16;
  if (Eigen::Index{geometry.width} * geometry.height <= every_pixel_up_to) return 1;
  int block = 2;
  while (Eigen::Index{geometry.width / block} * (geometry.height / block) > most_means) ++block;
  return block;
}

// The model's frame: one value per whole block; the pixels right and below the last whole blocks
// (fewer than `block` columns or rows) belong to the last ones.
FrameGeometry block_geometry(const FrameGeometry& geometry, int block) {
  return {geometry.width / block, geometry.height / block, geometry.channels};
}

// Calls `body` with the block side as a compile-time constant for sides 2 to 6 (the per-pixel loops
// over a block unroll; 640x480 to 1080p get 3 to 6), or 0 for any other side (4K's 12: its passes
// are bound by memory, not by the loops).
template <typename Body>
void with_block_side(int block, const Body& body) {
  switch (block) {
    case 2:
      return body(std::integral_constant<int, 2>{});
    case 3:
      return body(std::integral_constant<int, 3>{});
    case 4:
      return body(std::integral_constant<int, 4>{});
    case 5:
      return body(std::integral_constant<int, 5>{});
    case 6:
      return body(std::integral_constant<int, 6>{});
    default:
      return body(std::integral_constant<int, 0>{});
  }
}

// The means of the frame's whole blocks, per channel, as values in [0, 1] (a mean of levels keeps
// its fraction): a block row's pixel rows summed down their columns (a loop that vectorizes), then
// across each block.
template <int C, int Block, typename Value>
void block_row_means(const Value* frame, int width, int block_row, int block, int block_count, float scale,
                     float* __restrict column_sums, float* __restrict means) {
  const int side = Block > 0 ? Block : block, values = width * C;
  const Value* first = frame + Eigen::Index{block_row} * side * values;
  for (int i = 0; i < values; ++i) column_sums[i] = static_cast<float>(first[i]);
  for (int y = 1; y < side; ++y) {
    const Value* __restrict row = first + Eigen::Index{y} * values;
    for (int i = 0; i < values; ++i) column_sums[i] += static_cast<float>(row[i]);
  }
  for (int b = 0; b < block_count; ++b)
    for (int c = 0; c < C; ++c) {
      float sum = 0;
      for (int x = 0; x < side; ++x) sum += column_sums[(b * side + x) * C + c];
      means[b * C + c] = sum * scale;
    }
}
template <typename Value>
Eigen::VectorXf block_means(const Value* frame, const FrameGeometry& geometry, int block) {
  const FrameGeometry blocks = block_geometry(geometry, block);
  Eigen::VectorXf means(blocks.values());
  const float scale = value_scale<Value> / static_cast<float>(block * block);
  with_channels(geometry.channels, [&](auto channels) {
    with_block_side(block, [&](auto side) {
      linalg::for_each_row_block(blocks.height, 16, [&](Eigen::Index first, Eigen::Index count) {
        std::vector<float> column_sums(static_cast<std::size_t>(geometry.width * geometry.channels));
        for (Eigen::Index by = first; by < first + count; ++by)
          block_row_means<decltype(channels)::value, decltype(side)::value>(
              frame, geometry.width, static_cast<int>(by), block, blocks.width, scale, column_sums.data(),
              means.data() + by * blocks.width * blocks.channels);
      });
    });
  });
  return means;
}

// A row of block values spread over the `width` pixels they cover (the last block over the rest).
template <int C, int Block, typename T>
void expand_row(const T* __restrict blocks, int block_count, int block, int width, T* __restrict pixels) {
  const int side = Block > 0 ? Block : block;
  for (int b = 0; b < block_count; ++b)
    for (int x = 0; x < side; ++x)
      for (int c = 0; c < C; ++c) pixels[(b * side + x) * C + c] = blocks[b * C + c];
  for (int x = block_count * side; x < width; ++x)
    for (int c = 0; c < C; ++c) pixels[x * C + c] = blocks[(block_count - 1) * C + c];
}

// A pixel's detail is relative to its block's background: light and the camera's gain scale both
// (over at least a level, where a block is black).
inline float detail_unit(float block_background) { return std::max(block_background, level_step); }

// The full-resolution pass of a frame modelled on block means, for `count` pixels: each one's
// background (its block's plus its detail), the seed and grow tests as in `compare_with_seeds`, and
// the pixel's own updates as `update_pixels` makes them: below the hysteresis level, its running
// mean magnitude and its detail (the latter over `memory` frames, as the basis learns); above it for
// `settle_age` frames in a row, its detail takes the new value at once. Rates of 0 learn nothing.
// One pass, where the full-resolution model makes three: split into loops that each stream the row
// (backgrounds, `compare_with_seeds`, updates), `live` ran 7% slower at 1080p.
struct DetailRates {
  float mean, detail;
  std::uint16_t settle_age;
};
template <int C, typename Value>
void detail_pixels(Eigen::Index count, const Value* __restrict x, const float* __restrict block_background,
                   SeedRule rule, float hysteresis, DetailRates rates, float* __restrict detail, float* __restrict mean,
                   std::uint16_t* __restrict age, float* __restrict background, std::uint8_t* __restrict seeds,
                   std::uint8_t* __restrict grow) {
  const std::uint16_t aging = rates.detail > 0 ? 1 : 0;
  for (Eigen::Index i = 0; i < count; ++i) {
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c)
      background[i * C + c] =
          block_background[i * C + c] + detail_unit(block_background[i * C + c]) * detail[i * C + c];
    const float m = shown_magnitude<C>(x + i * C, background + i * C);
    const float seed = rule.level(mean[i]);
    const bool above = m > seed * hysteresis;
    seeds[i] = m > seed ? 255 : 0;
    grow[i] = above ? 255 : 0;
    mean[i] += above ? 0.0f : rates.mean * (m - mean[i]);
    // A pixel above the hysteresis level for `settle_age` frames in a row takes its new value at once,
    // as the full-resolution model's pixels do.
    const std::uint16_t older = above ? age[i] + aging : 0;
    const bool settled = older >= rates.settle_age;
    age[i] = settled ? 0 : older;
    const float rate = settled ? 1.0f : above ? 0.0f : rates.detail;
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c)
      detail[i * C + c] += rate * ((x[i * C + c] * value_scale<Value> - block_background[i * C + c]) /
                                       detail_unit(block_background[i * C + c]) -
                                   detail[i * C + c]);
  }
}

// The noise levels of a few frames against their mode. The residuals understate the frame-wide
// level, as the mode sits on one of the few values of each pixel; the differences of consecutive
// frames do not (sqrt(2) times the noise where both show background), and floor every pixel's level.
NoiseModel warmup_noise(const FramesRef& frames, const Eigen::VectorXf& mode, const FrameGeometry& geometry) {
  const Eigen::Index values = frames.rows(), pairs = frames.cols() - 1;
  const Eigen::Index stride = std::max<Eigen::Index>(1, values * pairs >> 20) | 1;  // about a million
  std::vector<float> differences;
  for (Eigen::Index j = 1; j <= pairs; ++j)
    for (Eigen::Index i = j % stride; i < values; i += stride)
      differences.push_back((static_cast<float>(frames(i, j)) - static_cast<float>(frames(i, j - 1))) * level_step);
  NoiseModel noise = estimate_noise(frames, mode, geometry);
  noise.global_sigma = std::max(noise.global_sigma, inlier_scale(std::move(differences)) / std::sqrt(2.0));
  noise.pixel_sigma = cv::max(noise.pixel_sigma, noise.global_sigma);
  return noise;
}

}  // namespace

OnlineBackground::OnlineBackground(const FrameGeometry& geometry, const OnlineOptions& options)
    : geometry_(geometry), options_(options), block_(block_for(geometry, options.model_block)) {
  if (options.warmup < 1) throw Error("the warm-up must be at least one frame");
  if (!(options.memory >= 1)) throw Error("--memory must be at least one frame");
  if (block_ > 1) {
    OnlineOptions block_options = options;
    block_options.model_block = 1;
    block_options.background = true;          // the pixels' backgrounds are made from it
    block_options.mask.neighbour_radius = 0;  // the pixels are tested against their neighbours, not the blocks
    block_options.mask.shadows = false;       // and for shadows
    block_model_ = std::make_unique<OnlineBackground>(block_geometry(geometry, block_), block_options);
  } else {
    basis_.emplace(linalg::IncrementalSvdOptions{.rank = options.rank,
                                                 .forgetting_factor = std::exp(-1 / std::max(options.memory, 1.0))},
                   geometry.values());
  }
}

// The warm-up frames' per-pixel mode seeds the basis: what the camera shows most often, which
// leaves moving across the lens or a lecturer in front of a board do not move as they move a median.
// The residuals against it seed the noise levels, each pixel's and the frame-wide one, by MSSE as in
// `separate` (stages/mask.hpp): a MAD breaks down where the foreground covers half the frames. They
// are floored as the warm-up masks' are (warmup_noise): against a mode of 25 frames, the residuals of
// water understated its level, and surfers' masks went from a tenth of the frame to four fifths when
// the warm-up ended. A block model warms up on the frames' block means; each pixel's detail starts as the mode minus
// its block's.
Eigen::VectorXf OnlineBackground::finish_warmup() {
  const bool fitted = warmup_fit_.frames == frames_;  // by warmup_split, on every frame kept
  const Eigen::VectorXf mode =
      fitted ? Eigen::VectorXf(warmup_fit_.background.col(0)) : background_mode(warmup_frames_);
  const NoiseModel noise = fitted ? warmup_fit_.noise : warmup_noise(warmup_frames_, mode, geometry_);
  if (block_model_) {
    auto& model = *block_model_;
    model.warmup_frames_.resize(model.geometry_.values(), warmup_frames_.cols());
    for (Eigen::Index j = 0; j < warmup_frames_.cols(); ++j)
      model.warmup_frames_.col(j) =
          (block_means(warmup_frames_.col(j).data(), geometry_, block_) * 255).array().round().cast<std::uint8_t>();
    model.frames_ = frames_;
    const Eigen::VectorXf block_mode = model.finish_warmup();
    detail_.resize(geometry_.values());
    const int C = geometry_.channels, row_values = geometry_.width * C, block_row_values = model.geometry_.width * C;
    with_channels(C, [&](auto channels) {
      for (int y = 0; y < geometry_.height; ++y) {
        float* row = detail_.data() + Eigen::Index{y} * row_values;
        const int by = std::min(y / block_, model.geometry_.height - 1);
        expand_row<decltype(channels)::value, 0>(block_mode.data() + Eigen::Index{by} * block_row_values,
                                                 model.geometry_.width, block_, geometry_.width, row);
        for (int i = 0; i < row_values; ++i)
          row[i] = (mode[Eigen::Index{y} * row_values + i] - row[i]) / detail_unit(row[i]);
      }
    });
  } else {
    for (Eigen::Index j = 0; j < warmup_frames_.cols(); ++j)
      basis_->update(mode);  // the weight of the frames it stands for
  }
  foreground_age_.setZero(geometry_.pixels());
  global_sigma_ = noise.global_sigma;
  const cv::Mat mean_magnitude = noise.pixel_sigma * magnitude_per_sigma(geometry_.channels);
  mean_magnitude_ = Eigen::Map<const Eigen::VectorXf>(mean_magnitude.ptr<float>(), geometry_.pixels());
  warmup_frames_.resize(0, 0);
  warmup_fit_ = {};
  return mode;
}

// Frames up to 1280x720 get masks during the warm-up. A fit of a 1080p warm-up takes about 150 ms on
// 2 cores, five frames of a 30 fps camera: its masks would cost dropped frames.
constexpr Eigen::Index most_warmup_mask_pixels = 1 << 20;

// A warm-up frame against the frames seen so far, this one included, fitted as the warm-up's end
// fits them: their mode, the frame's gain on it (fit_frame), the noise levels of their residuals.
// The fit is redone each time their number has grown by half (at 3, 4, 6, 9, 13, 19 ... frames), so
// all the fits cost about three warm-up fits. Two frames have no majority: their masks are empty.
FrameSplit OnlineBackground::warmup_split() {
  const long seen = frames_;
  const auto levels = warmup_frames_.col(seen - 1);
  FrameSplit frame;
  frame.warming_up = true;
  if (seen < 3 || geometry_.pixels() > most_warmup_mask_pixels) {
    frame.background = frame_values(levels);
    frame.mask = cv::Mat::zeros(geometry_.height, geometry_.width, CV_8U);
    return frame;
  }
  WarmupFit& fit = warmup_fit_;
  if (seen == options_.warmup || seen >= fit.frames + std::max(1L, fit.frames / 2)) {  // the last is the model's
    const auto frames = warmup_frames_.leftCols(seen);
    fit.frames = seen;
    fit.background = background_mode(frames);
    fit.noise = warmup_noise(frames, fit.background.col(0), geometry_);
    fit.seed_threshold = seed_threshold(options_.mask, fit.noise);
    fit.band = static_cast<float>(3 * fit.noise.global_sigma);
  }
  const Eigen::VectorXf coordinates = fit_frame(fit.background, levels, fit.band, Eigen::VectorXf::Ones(1), 1);
  frame.mask = frame_mask(levels, fit.background, coordinates, fit.seed_threshold, geometry_, options_.mask);
  frame.background = fit.background * coordinates;
  return frame;
}

FrameSplit OnlineBackground::split(const Eigen::Ref<const FrameColumnLevels>& levels, double learning_rate) {
  return process_values<std::uint8_t>(levels, learning_rate);
}

FrameSplit OnlineBackground::split(const Eigen::Ref<const Eigen::VectorXf>& column, double learning_rate) {
  return process_values<float>(column, learning_rate);
}

template <typename Value>
FrameSplit OnlineBackground::process_values(const FrameColumn<Value>& column, double learning_rate) {
  if (column.size() != geometry_.values()) throw Error("OnlineBackground: the frame does not match the geometry");
  if (!(learning_rate <= 1)) throw Error("OnlineBackground: the learning rate must be at most 1");
  ++frames_;
  if (mean_magnitude_.size() == 0) {  // warming up
    if (warmup_frames_.size() == 0) warmup_frames_.resize(geometry_.values(), options_.warmup);
    if constexpr (std::is_integral_v<Value>)
      warmup_frames_.col(frames_ - 1) = column;
    else
      warmup_frames_.col(frames_ - 1) =
          (column.array() * 255).round().cwiseMax(0).cwiseMin(255).template cast<std::uint8_t>();
    FrameSplit frame = warmup_split();
    if (frames_ == options_.warmup) finish_warmup();  // the mode holds this frame already: no update
    return frame;
  }
  if (block_model_) return process_with_block_model<Value>(column, learning_rate);

  FrameSplit frame;
  // Every per-pixel step runs in blocks of pixels on all cores, with the levels computed where they
  // are used: a 1080p frame is streamed a few times, not once per step.
  const PixelLevels levels(options_.mask, mean_magnitude_.data(), magnitude_per_sigma(geometry_.channels),
                           global_sigma_);
  const Eigen::MatrixXf& U = basis_->U();
  const Eigen::Index pixels = geometry_.pixels();
  cv::Mat seeds(geometry_.height, geometry_.width, CV_8U), grow(geometry_.height, geometry_.width, CV_8U);
  settled_.clear();
  Eigen::VectorXf coordinates;
  Eigen::VectorXf& background = background_;
  background.resize(column.size());
  // The frame's background goes out with it if asked for; otherwise its buffer serves the next frame.
  const auto finished = [&] {
    if (options_.background) frame.background = std::move(background_);
    return std::move(frame);
  };
  with_channels(geometry_.channels, [&](auto channels) {
    constexpr int C = decltype(channels)::value;
    coordinates = fit_coordinates<C>(U, column, levels);
    for_each_block(pixels, [&](Eigen::Index first, Eigen::Index count) {
      auto block = background.segment(first * C, count * C);
      // A lazy product: for k of 1 to 3, GEMV's call and its zeroing of the result cost more than the arithmetic.
      block = U.middleRows(first * C, count * C).lazyProduct(coordinates);
      PixelLevels::Block seed;
      levels.seeds(first, count, seed);
      detail::compare_with_seeds<C>(count, column.data() + first * C, block.data(), seed.data(), levels.hysteresis,
                                    seeds.data + first, grow.data + first);
    });
  });
  // What the updates leave out ("excluded"): the mask, and every pixel above the hysteresis level
  // (the opening trims an object's corners from the mask; they must not leak into the background).
  frame.mask =
      finish_mask(std::move(seeds), grow, column, geometry_.channels, levels, background.data(), options_.mask);
  if (learning_rate == 0) return finished();  // frozen: the model learns nothing from this frame
  const double memory = update_memory(learning_rate, options_.memory);
  const auto excluded = [&](Eigen::Index pixel) { return (grow.data[pixel] | frame.mask.data[pixel]) != 0; };

  // Each background pixel's running mean magnitude. The robust update: the foreground pixels enter
  // as their background while young. A pixel that has been foreground for `memory` frames in a row
  // takes its new value at once (a parked car, or the ghost an object leaves where it stood during
  // the warm-up): left to the forgetting factor alone, the old value would fade over several more
  // `memory` spans.
  const float rate = level_rate(memory);
  clean_.resize(column.size());
  // The pixels that settled, found in each block while it is in cache, listed in block order.
  std::vector<std::vector<Eigen::Index>> settled_pixels(
      static_cast<std::size_t>(linalg::row_blocks(pixels, block_pixels)));
  with_channels(geometry_.channels, [&](auto channels) {
    constexpr int C = decltype(channels)::value;
    for_each_block(pixels, [&](Eigen::Index first, Eigen::Index count) {
      const int settled =
          update_pixels<C>(count, column.data() + first * C, background.data() + first * C, grow.data + first,
                           frame.mask.data + first, rate, settle_age(memory), mean_magnitude_.data() + first,
                           foreground_age_.data() + first, clean_.data() + first * C);
      if (settled == 0) return;
      auto& found = settled_pixels[static_cast<std::size_t>(first / block_pixels)];
      for (Eigen::Index p = first; p < first + count; ++p)
        if (excluded(p) && foreground_age_[p] == 0) found.push_back(p);
    });
  });

  const Eigen::Index channels = geometry_.channels;
  update_global_sigma<Value>(
      column, [&](Eigen::Index i) { return background[i]; }, grow, frame.mask, rate);

  std::vector<Eigen::Index> rows;  // of the settled pixels' values
  for (const auto& found : settled_pixels)
    for (const Eigen::Index p : found) {
      settled_.push_back(p);
      for (Eigen::Index c = 0; c < channels; ++c) rows.push_back(p * channels + c);
    }
  if (!rows.empty()) basis_->reset_rows(rows, coordinates, column(rows).template cast<float>() * value_scale<Value>);
  basis_->set_forgetting_factor(std::exp(-1 / memory));
  basis_->update(clean_);
  return finished();
}

// The frame-wide level by MSSE over about 4,000 background residuals. (A median of the pixels'
// levels would follow the foreground up where it covers most of the frame, and the masks would
// vanish.)
template <typename Value, typename BackgroundOf>
void OnlineBackground::update_global_sigma(const FrameColumn<Value>& column, const BackgroundOf& background_of,
                                           const cv::Mat& grow, const cv::Mat& mask, float rate) {
  std::vector<float> residuals;
  const Eigen::Index channels = geometry_.channels, stride = std::max<Eigen::Index>(1, geometry_.values() / 4096) | 1;
  for (Eigen::Index i = 0; i < geometry_.values(); i += stride)
    if ((grow.data[i / channels] | mask.data[i / channels]) == 0)
      residuals.push_back(column[i] * value_scale<Value> - background_of(i));
  if (residuals.size() >= 100) global_sigma_ += rate * (inlier_scale(std::move(residuals)) - global_sigma_);
}

// A frame of a block model: the model separates the frame's block means, then every pixel is tested
// against its block's background plus its own detail, and learns as the full-resolution model's do.
template <typename Value>
FrameSplit OnlineBackground::process_with_block_model(const FrameColumn<Value>& column, double learning_rate) {
  OnlineBackground& model = *block_model_;
  const Eigen::VectorXf means = block_means(column.data(), geometry_, block_);
  const FrameSplit blocks = model.process_values<float>(means, learning_rate);
  const double memory = update_memory(learning_rate, options_.memory);
  // The levels learn as the model's pixels do; the detail as the basis does, over `memory` frames.
  const DetailRates rates{.mean = learning_rate == 0 ? 0.0f : level_rate(memory),
                          .detail = learning_rate == 0 ? 0.0f : static_cast<float>(1.0 / memory),
                          .settle_age = settle_age(memory)};
  const PixelLevels levels(options_.mask, mean_magnitude_.data(), magnitude_per_sigma(geometry_.channels),
                           global_sigma_);
  const int width = geometry_.width, block_width = model.geometry_.width;
  FrameSplit frame;
  // The frame's background goes out with it if asked for; the neighbour test reads it in any case.
  Eigen::VectorXf& background = options_.background ? frame.background : background_;
  background.resize(column.size());
  cv::Mat seeds(geometry_.height, width, CV_8U), grow(geometry_.height, width, CV_8U);
  with_channels(geometry_.channels, [&](auto channels) {
    with_block_side(block_, [&](auto side) {
      constexpr int C = decltype(channels)::value;
      // Bands of whole block rows, of about `block_pixels` pixels or one block row.
      const Eigen::Index band = block_ * std::max(1, static_cast<int>(block_pixels) / (width * block_));
      linalg::for_each_row_block(geometry_.height, band, [&](Eigen::Index first, Eigen::Index count) {
        std::vector<float> block_background(static_cast<std::size_t>(width * C));
        for (Eigen::Index y = first, expanded = -1; y < first + count; ++y) {
          const Eigen::Index by = std::min<Eigen::Index>(y / block_, model.geometry_.height - 1), at = y * width;
          if (by != expanded)  // the rows of a block share its row of backgrounds
            expand_row<C, decltype(side)::value>(blocks.background.data() + by * block_width * C, block_width, block_,
                                                 width, block_background.data());
          expanded = by;
          detail_pixels<C>(width, column.data() + at * C, block_background.data(), levels.rule, levels.hysteresis,
                           rates, detail_.data() + at * C, mean_magnitude_.data() + at, foreground_age_.data() + at,
                           background.data() + at * C, seeds.data + at, grow.data + at);
        }
      });
    });
  });
  frame.mask =
      finish_mask(std::move(seeds), grow, column, geometry_.channels, levels, background.data(), options_.mask);
  if (learning_rate == 0) return frame;
  const int C = geometry_.channels, block_height = model.geometry_.height;
  update_global_sigma<Value>(
      column, [&](Eigen::Index value) { return background[value]; }, grow, frame.mask, rates.mean);
  // The blocks that settled took their new mean at once; their pixels take their new detail with it.
  for (const Eigen::Index settled : model.settled_) {
    const int bx = static_cast<int>(settled % block_width), by = static_cast<int>(settled / block_width);
    const int right = bx + 1 < block_width ? (bx + 1) * block_ : width;  // the last blocks hold the rest
    const int bottom = by + 1 < block_height ? (by + 1) * block_ : geometry_.height;
    for (int y = by * block_; y < bottom; ++y)
      for (int x = bx * block_; x < right; ++x)
        for (int c = 0; c < C; ++c) {
          const Eigen::Index value = (Eigen::Index{y} * width + x) * C + c;
          const float mean = means[settled * C + c];
          detail_[value] = (column[value] * value_scale<Value> - mean) / detail_unit(mean);
        }
  }
  return frame;
}

}  // namespace cleanplate::stages
