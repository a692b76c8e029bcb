#include "cleanplate/stages/mask.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/decompose.hpp"
#include "noise_scales.hpp"
#include "residual_levels.hpp"

namespace cleanplate::stages {

namespace {

constexpr double growth = 2.5, gaussian_bias = 0.9365574;

// A low-discrepancy dither in [-0.5, 0.5) for the i-th value: no random state.
double dither(std::size_t i) {
  const double turns = static_cast<double>(i) * 0.6180339887498949;
  return turns - std::floor(turns) - 0.5;  // exactly fmod(turns, 1) - 0.5, without the call
}

// The scale from the sum of squares of the `kept` smallest values.
double scale_from(double sum_of_squares, std::size_t kept, double step) {
  const double variance =
      sum_of_squares / static_cast<double>(kept) / (gaussian_bias * gaussian_bias) - step * step / 12;
  return std::sqrt(std::max(variance, step * step / 4));  // half a level at least: the rounding itself
}

// Whether `value`, the k-th smallest, is past the inliers: above `growth` times the root mean square
// of the k before it. Squared, so that sixteen lanes at once need no square root.
template <typename T>
auto past_inliers(const T& value, const T& sum_of_squares, double k) {
  return value * value * k > growth * growth * sum_of_squares;
}

// Sorts non-negative floats by their bit patterns, which order as unsigned integers do: three
// counting passes of 11 bits, several times faster than a comparison sort on a million values.
void sort_magnitudes(std::vector<float>& values) {
  std::vector<std::uint32_t> keys(values.size()), sorted(values.size());
  std::transform(values.begin(), values.end(), keys.begin(), [](float v) { return std::bit_cast<std::uint32_t>(v); });
  for (int shift = 0; shift < 32; shift += 11) {
    std::array<std::size_t, 2048> start{};
    for (const std::uint32_t key : keys) ++start[(key >> shift) & 2047];
    std::exclusive_scan(start.begin(), start.end(), start.begin(), std::size_t{0});
    for (const std::uint32_t key : keys) sorted[start[(key >> shift) & 2047]++] = key;
    keys.swap(sorted);
  }
  std::transform(keys.begin(), keys.end(), values.begin(), [](std::uint32_t k) { return std::bit_cast<float>(k); });
}

}  // namespace

double inlier_scale(std::vector<float> values, double step) {
  if (values.empty()) return 0;
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(std::abs(values[i] + dither(i) * step));
  sort_magnitudes(values);
  const std::size_t n = values.size(), start = std::max<std::size_t>(1, n / 10);
  double sum_of_squares = 0;
  std::size_t k = 0;
  for (; k < n; ++k) {
    const double value = values[k];
    if (k >= start && past_inliers(value, sum_of_squares, static_cast<double>(k))) break;
    sum_of_squares += value * value;
  }
  return scale_from(sum_of_squares, k, step);
}

namespace {

// inlier_scale of each of `rows` rows of `n` samples, where load(i, first, count, out) writes the
// values of sample i in rows [first, first + count) to out: residuals need not exist as a matrix.
template <typename Load>
Eigen::VectorXd row_inlier_scales(Eigen::Index rows, Eigen::Index n, double step, const Load& load) {
  constexpr Eigen::Index lanes = 16;  // rows sorted together: one AVX-512 register of floats
  Eigen::VectorXd scales = Eigen::VectorXd::Zero(rows);
  if (n == 0) return scales;
  std::size_t padded = 1;  // the network sorts a power of two: +infinity fills the rest
  while (padded < static_cast<std::size_t>(n)) padded *= 2;
  std::vector<double> offsets(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < offsets.size(); ++i) offsets[i] = dither(i) * step;
  const std::size_t start = std::max<std::size_t>(1, static_cast<std::size_t>(n) / 10);
  oneapi::tbb::parallel_for(
      oneapi::tbb::blocked_range<Eigen::Index>(0, (rows + lanes - 1) / lanes), [&](const auto& blocks) {
        std::vector<float> data(padded * lanes);  // value i of lane l at i * lanes + l
        for (Eigen::Index block = blocks.begin(); block < blocks.end(); ++block) {
          const Eigen::Index first = block * lanes, count = std::min(lanes, rows - first);
          for (Eigen::Index i = 0; i < n; ++i) {  // a sample's lanes are contiguous: the loop vectorizes
            float* lane = &data[static_cast<std::size_t>(i * lanes)];
            load(i, first, count, lane);
            const double offset = offsets[static_cast<std::size_t>(i)];
            for (Eigen::Index l = 0; l < count; ++l) lane[l] = static_cast<float>(std::abs(lane[l] + offset));
            std::fill(lane + count, lane + lanes, 0.0f);
          }
          std::fill(data.begin() + n * lanes, data.end(), std::numeric_limits<float>::infinity());
          // Bitonic sorting network (Batcher 1968), every lane at once.
          using Lanes = Eigen::Array<float, lanes, 1>;
          for (std::size_t size = 2; size <= padded; size *= 2)
            for (std::size_t gap = size / 2; gap > 0; gap /= 2)
              for (std::size_t i = 0; i < padded; ++i) {
                const std::size_t j = i ^ gap;
                if (j <= i) continue;
                Eigen::Map<Lanes> low(&data[((i & size) == 0 ? i : j) * lanes]),
                    high(&data[((i & size) == 0 ? j : i) * lanes]);
                const Lanes smaller = low.min(high);
                high = low.max(high);
                low = smaller;
              }
          // inlier_scale's scan, every lane at once: `kept` 1 while a lane has not stopped.
          using Sums = Eigen::Array<double, lanes, 1>;
          Sums sum_of_squares = Sums::Zero(), kept = Sums::Zero(), active = Sums::Ones();
          for (std::size_t k = 0; k < static_cast<std::size_t>(n); ++k) {
            const Sums value = Eigen::Map<const Lanes>(&data[k * lanes]).cast<double>();
            if (k >= start)
              active = past_inliers(value, sum_of_squares, static_cast<double>(k)).select(Sums::Zero(), active);
            sum_of_squares += active * value * value;
            kept += active;
          }
          for (Eigen::Index l = 0; l < count; ++l)
            scales[first + l] = scale_from(sum_of_squares[l], static_cast<std::size_t>(kept[l]), step);
        }
      });
  return scales;
}

// The noise model of residuals given as a row loader (row_inlier_scales).
template <typename Load>
NoiseModel noise_model(Eigen::Index samples, const FrameGeometry& geometry, const Load& load) {
  NoiseModel noise;
  // The frame-wide level from about a million of the residuals, evenly spread.
  const Eigen::Index rows = geometry.values(), total = rows * samples;
  const Eigen::Index stride = std::max<Eigen::Index>(1, total >> 20) | 1;
  std::vector<float> spread(static_cast<std::size_t>((total + stride - 1) / stride));
  for (std::size_t k = 0; k < spread.size(); ++k) {
    const Eigen::Index t = static_cast<Eigen::Index>(k) * stride;
    load(t / rows, t % rows, 1, &spread[k]);
  }
  noise.global_sigma = inlier_scale(std::move(spread));
  noise.pixel_sigma.create(geometry.height, geometry.width, CV_32F);
  float* sigma = noise.pixel_sigma.ptr<float>();
  const Eigen::VectorXd scales = row_inlier_scales(rows, samples, 1.0 / 255, load);  // per value
  const Eigen::Index channels = geometry.channels;
  for (Eigen::Index p = 0; p < geometry.pixels(); ++p)
    sigma[p] = static_cast<float>(std::max(noise.global_sigma, scales.segment(p * channels, channels).maxCoeff()));
  return noise;
}

}  // namespace

Eigen::VectorXd inlier_scales(const Eigen::Ref<const Eigen::MatrixXf>& samples, double step) {
  return row_inlier_scales(samples.rows(), samples.cols(), step,
                           [&](Eigen::Index i, Eigen::Index first, Eigen::Index count, float* out) {
                             std::copy_n(samples.col(i).data() + first, count, out);
                           });
}

NoiseModel estimate_noise(const Eigen::Ref<const Eigen::MatrixXf>& residuals, const FrameGeometry& geometry) {
  if (residuals.rows() != geometry.values() || residuals.cols() == 0)
    throw Error("estimate_noise: the residuals do not match the frame geometry");
  return noise_model(residuals.cols(), geometry,
                     [&](Eigen::Index i, Eigen::Index first, Eigen::Index count, float* out) {
                       std::copy_n(residuals.col(i).data() + first, count, out);
                     });
}

NoiseModel estimate_noise(const FramesRef& frames, const Eigen::VectorXf& background, const FrameGeometry& geometry) {
  if (frames.rows() != geometry.values() || background.size() != frames.rows() || frames.cols() == 0)
    throw Error("estimate_noise: the frames or the background do not match the frame geometry");
  return noise_model(frames.cols(), geometry, [&](Eigen::Index i, Eigen::Index first, Eigen::Index count, float* out) {
    Eigen::Map<Eigen::VectorXf>(out, count) =
        frame_values(frames.col(i).segment(first, count)) - background.segment(first, count);
  });
}

NoiseModel estimate_noise(const FramesRef& frames, const Eigen::MatrixXf& basis, const Eigen::MatrixXf& weights,
                          const FrameGeometry& geometry, int sample_frames) {
  if (frames.rows() != geometry.values() || basis.rows() != frames.rows() || weights.rows() != basis.cols() ||
      weights.cols() != frames.cols() || frames.cols() == 0)
    throw Error("estimate_noise: the frames, the basis or the weights do not match");
  const std::vector<Eigen::Index> picked = evenly_spaced_frames(frames.cols(), sample_frames);
  return noise_model(static_cast<Eigen::Index>(picked.size()), geometry,
                     [&](Eigen::Index i, Eigen::Index first, Eigen::Index count, float* out) {
                       const Eigen::Index j = picked[static_cast<std::size_t>(i)];
                       Eigen::Map<Eigen::VectorXf>(out, count) = frame_values(frames.col(j).segment(first, count)) -
                                                                 basis.middleRows(first, count) * weights.col(j);
                     });
}

cv::Mat seed_threshold(const MaskOptions& options, const NoiseModel& noise) {
  cv::Mat seed;
  if (options.threshold > 0)
    seed = cv::Mat(noise.pixel_sigma.size(), CV_32F, cv::Scalar(options.threshold));
  else
    seed = noise.pixel_sigma * options.sigmas;
  return cv::max(seed, 1.0 / 255);
}

namespace {

// Adds to the seeds the pixels of `grow` 8-connected to a seed through `grow` or seeds (morphological
// reconstruction): the runs of each row where either is set, then from the runs that hold a seed,
// every run that touches a reached one in the row above or below. The work follows the runs, where
// a flood fill tested every pixel of a region a few times.
void reconstruct(cv::Mat& seeds, const cv::Mat& grow) {
  const int width = seeds.cols, height = seeds.rows;
  struct Run {
    int row, start, end;  // columns [start, end)
    bool reached;
  };
  // Kept by each thread between frames: a 1080p frame has tens of thousands of runs.
  thread_local std::vector<Run> runs;
  thread_local std::vector<std::size_t> row_start, pending;
  runs.clear();
  row_start.assign(static_cast<std::size_t>(height) + 1, 0);  // row y's runs from row_start[y]
  pending.clear();
  for (int y = 0; y < height; ++y) {
    row_start[static_cast<std::size_t>(y)] = runs.size();
    const std::uint8_t *seed = seeds.ptr<std::uint8_t>(y), *may = grow.ptr<std::uint8_t>(y);
    for (int x = detail::next_column(seed, may, 0, width, true), end = 0; x < width;
         x = detail::next_column(seed, may, end, width, true)) {
      end = detail::next_column(seed, may, x, width, false);
      const bool seeded = std::any_of(seed + x, seed + end, [](std::uint8_t b) { return b != 0; });
      if (seeded) pending.push_back(runs.size());
      runs.push_back({y, x, end, seeded});
    }
  }
  row_start.back() = runs.size();
  while (!pending.empty()) {
    const Run run = runs[pending.back()];
    pending.pop_back();
    for (const int next : {run.row - 1, run.row + 1}) {
      if (next < 0 || next >= height) continue;
      const auto first = runs.begin() + static_cast<std::ptrdiff_t>(row_start[static_cast<std::size_t>(next)]),
                 last = runs.begin() + static_cast<std::ptrdiff_t>(row_start[static_cast<std::size_t>(next) + 1]);
      // The runs of that row within one column of this one: diagonal neighbours touch.
      // A binary search without branches (conditional moves): which half holds it is a coin toss.
      auto other = first;
      if (first != last) {
        for (auto count = last - first; count > 1; count -= count / 2)
          other = other[count / 2].end < run.start ? other + count / 2 : other;
        other += other->end < run.start;
      }
      for (; other != last && other->start <= run.end; ++other)
        if (!other->reached) {
          other->reached = true;
          pending.push_back(static_cast<std::size_t>(other - runs.begin()));
        }
    }
  }
  // Every seed lies in a reached run, so the seeds with those runs filled are the result.
  for (const Run& run : runs)
    if (run.reached)
      std::memset(seeds.ptr<std::uint8_t>(run.row) + run.start, 255, static_cast<std::size_t>(run.end - run.start));
}

// One row of an erosion (the least of each pixel and its four neighbours) or a dilation (the
// greatest) by the 3 x 3 cross, OpenCV's 3 x 3 ellipse. `row` has a byte of padding either side, and
// pixels outside the frame count for nothing (OpenCV's default border for morphology): the padding
// and the rows beyond the frame hold the neutral value, 255 for an erosion, 0 for a dilation.
template <bool Dilate>
void cross_row(const std::uint8_t* __restrict above, const std::uint8_t* __restrict row,
               const std::uint8_t* __restrict below, int width, std::uint8_t* __restrict out) {
  const auto pick = [](std::uint8_t a, std::uint8_t b) { return Dilate ? std::max(a, b) : std::min(a, b); };
  for (int x = 0; x < width; ++x) out[x] = pick(pick(above[x], below[x]), pick(pick(row[x - 1], row[x]), row[x + 1]));
}

// Erosions and dilations by the 3 x 3 cross in sequence (`dilate[s]` for stage s), in place, in one
// pass over the mask: each stage keeps its input's last three rows in a ring and runs one row behind
// the stage before it, so the intermediate images never leave the cache. OpenCV's morphologyEx makes
// a pass per stage and copies every row to pad its borders: 5% of `live`'s time at 1080p.
void cross_stages(cv::Mat& mask, const std::vector<bool>& dilate) {
  const int width = mask.cols, height = mask.rows, stages = static_cast<int>(dilate.size());
  const std::size_t stride = static_cast<std::size_t>(width) + 2;  // a row and its padding
  const auto neutral = [&](int stage) {
    return dilate[static_cast<std::size_t>(stage)] ? std::uint8_t{0} : std::uint8_t{255};
  };
  // Per stage, its input's rows (ring[s]) and a row of its neutral value for rows beyond the frame.
  std::vector<std::vector<std::uint8_t>> ring, beyond;
  for (int stage = 0; stage < stages; ++stage) {
    ring.emplace_back(3 * stride, neutral(stage));
    beyond.emplace_back(stride, neutral(stage));
  }
  const auto input_row = [&](int stage, int y) {  // past the left padding
    const std::size_t s = static_cast<std::size_t>(stage);
    return (y < 0 || y >= height ? beyond[s].data() : ring[s].data() + static_cast<std::size_t>(y % 3) * stride) + 1;
  };
  // At step t the mask's row t enters; stage s makes its row t - 1 - s from its input rows up to t - s
  // and passes it on; the last stage writes it to the mask, whose row t - stages was read long before.
  for (int step = 0; step < height + stages; ++step) {
    if (step < height) std::memcpy(input_row(0, step), mask.ptr<std::uint8_t>(step), static_cast<std::size_t>(width));
    for (int stage = 0; stage < stages; ++stage) {
      const int y = step - 1 - stage;
      if (y < 0 || y >= height) continue;
      std::uint8_t* out = stage == stages - 1 ? mask.ptr<std::uint8_t>(y) : input_row(stage + 1, y);
      (dilate[static_cast<std::size_t>(stage)]
           ? cross_row<true>
           : cross_row<false>)(input_row(stage, y - 1), input_row(stage, y), input_row(stage, y + 1), width, out);
    }
  }
}

}  // namespace

cv::Mat grow_mask(cv::Mat seeds, const cv::Mat& grow, const MaskOptions& options) {
  CV_Assert(seeds.type() == CV_8U && seeds.isContinuous());
  cv::Mat mask = std::move(seeds);
  if (!grow.empty()) {
    CV_Assert(grow.type() == CV_8U && grow.isContinuous() && grow.size() == mask.size());
    reconstruct(mask, grow);
  }
  // The default 3 x 3 kernels in one pass of our own; other sizes by OpenCV.
  const auto small = [](int size) { return size <= 1 || size == 3; };
  if (small(options.open) && small(options.close)) {
    std::vector<bool> dilate;  // opening: erode, dilate; closing: dilate, erode
    if (options.open == 3) dilate.insert(dilate.end(), {false, true});
    if (options.close == 3) dilate.insert(dilate.end(), {true, false});
    if (!dilate.empty()) cross_stages(mask, dilate);
    return mask;
  }
  const auto morph = [&](int op, int size) {
    if (size > 1) cv::morphologyEx(mask, mask, op, cv::getStructuringElement(cv::MORPH_ELLIPSE, {size, size}));
  };
  morph(cv::MORPH_OPEN, options.open);
  morph(cv::MORPH_CLOSE, options.close);
  return mask;
}

std::vector<std::uint8_t> pack_mask(const cv::Mat& mask) {
  CV_Assert(mask.type() == CV_8U && mask.isContinuous());
  const std::size_t pixels = mask.total();  // out of line in OpenCV: not in the loop condition
  std::vector<std::uint8_t> bits((pixels + 7) / 8, 0);
  const std::uint8_t* on = mask.ptr<std::uint8_t>();
  for (std::size_t byte = 0; byte < pixels / 8; ++byte) {  // whole bytes, without a branch: they vectorize
    std::uint8_t eight = 0;
    for (std::size_t b = 0; b < 8; ++b) eight |= static_cast<std::uint8_t>((on[byte * 8 + b] != 0) << (7 - b));
    bits[byte] = eight;
  }
  for (std::size_t p = pixels / 8 * 8; p < pixels; ++p)
    if (on[p]) bits[p / 8] |= static_cast<std::uint8_t>(0x80 >> (p % 8));
  return bits;
}

cv::Mat frame_mask(const Eigen::Ref<const FrameColumnLevels>& levels, const Eigen::MatrixXf& pixel_factor,
                   const Eigen::VectorXf& coordinates, const cv::Mat& seed_threshold, const FrameGeometry& geometry,
                   const MaskOptions& options) {
  const Eigen::Index pixels = geometry.pixels(), channels = geometry.channels;
  if (levels.size() != geometry.values() || pixel_factor.rows() != levels.size() ||
      pixel_factor.cols() != coordinates.size() || seed_threshold.type() != CV_32F || !seed_threshold.isContinuous() ||
      seed_threshold.total() != static_cast<std::size_t>(pixels))
    throw Error("frame_mask: the frame, the factor and the seed levels do not match");
  cv::Mat seeds(geometry.height, geometry.width, CV_8U), grow(geometry.height, geometry.width, CV_8U), mask;
  constexpr Eigen::Index block = 4096;      // pixels: the block's levels, background and results stay in L1/L2
  thread_local Eigen::VectorXf background;  // for the neighbour and shadow tests; a frame's worth a thread
  background.resize(levels.size());
  const float hysteresis = static_cast<float>(options.hysteresis);
  const float* level = seed_threshold.ptr<float>();
  detail::with_channels(channels, [&](auto c) {
    constexpr int C = decltype(c)::value;
    for (Eigen::Index first = 0; first < pixels; first += block) {
      const Eigen::Index count = std::min(block, pixels - first), values = count * C;
      // A lazy product: for k of 1 to 3, GEMV's call costs more than the arithmetic.
      auto part = background.segment(first * C, values);
      part = pixel_factor.middleRows(first * C, values).lazyProduct(coordinates);
      detail::compare_with_seeds<C>(count, levels.data() + first * C, part.data(), level + first, hysteresis,
                                    seeds.data + first, grow.data + first);
    }
    mask = detail::finish_mask<C>(
        std::move(seeds), grow, levels.data(), background.data(), [level](Eigen::Index q) { return level[q]; },
        options);
  });
  return mask;
}

}  // namespace cleanplate::stages
