#include "cleanplate/stages/robust_background.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cleanplate/linalg/eigen.hpp>
#include <cleanplate/linalg/row_blocks.hpp>
#include <cleanplate/linalg/svd.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/background_refit.hpp"
#include "cleanplate/stages/mask.hpp"
#include "normal_equations.hpp"

namespace cleanplate::stages {

namespace {

using Range = oneapi::tbb::blocked_range<Eigen::Index>;

// Rounded to the nearest level (a level is never negative; no lrint call in the histogram loop).
int grey_level(float level) { return std::min(static_cast<int>(level + 0.5f), 255); }

// What only chooses the mode's gains and window (the share of votes in the densest windows, the
// residuals' noise level) and the start's frame coordinates is global: large frames give it from an
// even sample of about 2^16 values, in runs of 16 (one group of mode_background's lanes), where each
// pass over a 1080p matrix is a few seconds. 2^16 values of 128 frames still give the million
// residuals residual_scale takes. Smaller frames: an empty matrix, and every value counts.
constexpr Eigen::Index sampled_values = 1 << 16;

// The sampled rows of `matrix` (the frames, or a vector of values).
template <typename Result, typename Matrix>
Result sample_values(const Matrix& matrix) {
  constexpr Eigen::Index sample_run = 16;
  if (matrix.rows() < 4 * sampled_values) return {};
  const Eigen::Index step = matrix.rows() / sampled_values * sample_run, runs = matrix.rows() / step;
  Result sample(runs * sample_run, matrix.cols());
  for (Eigen::Index r = 0; r < runs; ++r)
    sample.middleRows(r * sample_run, sample_run) = matrix.middleRows(r * step, sample_run);
  return sample;
}

// Weighted alternating least squares of X ~ P V^T, P stored as `factor` (values x k) and V^T as
// `coordinates` (k x frames), where an entry counts only while |x - its reference| < band. Both
// steps sum a block of values at a time as whole arrays (normal_equations.hpp), so they vectorize:
// this runs over every entry of the video once per step.
class TrimmedFit {
 public:
  TrimmedFit(const FramesRef& frames, float band) : frames_(frames), band_(band) {}

  // Each frame's coordinates over its values within the band of the reference fit
  // reference_factor * reference_coordinates.col(j) (which may be `factor` and `coordinates`). Large
  // frames are fitted on evenly spaced blocks of about 2^16 values, as fit_frame fits them: k
  // coordinates carry an error of sigma / sqrt(2^16) there, while the values' rows need every value.
  void fit_frames(const Eigen::MatrixXf& factor, Eigen::MatrixXf& coordinates,
                  const Eigen::Ref<const Eigen::MatrixXf>& reference_factor,
                  const Eigen::Ref<const Eigen::MatrixXf>& reference_coordinates) const {
    const Eigen::Index k = factor.cols(), values = factor.rows();
    constexpr Eigen::Index block = detail::normal_equations_block;
    const Eigen::Index step = linalg::sampling_step(values, block, sampled_values);
    oneapi::tbb::parallel_for(Range(0, frames_.cols(), 4), [&](const Range& range) {
      Eigen::ArrayXf weights(block), frame(block);
      Eigen::VectorXf fit(block);
      for (Eigen::Index j = range.begin(); j < range.end(); ++j) {
        const Eigen::VectorXf reference = reference_coordinates.col(j);
        Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(k, k);
        Eigen::VectorXd moment = Eigen::VectorXd::Zero(k);
        double inliers = 0;
        for (Eigen::Index b = 0; b < linalg::row_blocks(values, block, step); ++b) {
          const Eigen::Index first = linalg::row_block_first(b, block, step), n = std::min(block, values - first);
          auto x = frame.head(n);
          x = frame_values(frames_.col(j).segment(first, n)).array();
          fit.head(n).noalias() = reference_factor.middleRows(first, n) * reference;
          auto w = weights.head(n);
          detail::inlier_weights(x, fit.head(n), band_, w);
          detail::add_normal_equations(factor.middleRows(first, n), x, w, gram, moment);
          inliers += w.sum();
        }
        Eigen::VectorXd solution(k);
        if (inliers >= 2 * k && solve_normal(gram, moment, solution)) coordinates.col(j) = solution.cast<float>();
      }
    });
  }

  // Each value's row of the pixel factor over the frames where it is an inlier against the fit; a
  // value that is an inlier in fewer than 2k frames keeps its row.
  void fit_values(Eigen::MatrixXf& factor, const Eigen::MatrixXf& coordinates) const {
    const Eigen::Index k = factor.cols();
    // Blocks of at most 1,024 values (simple_partitioner), so the per-value sums stay in L1 while
    // every frame passes over them.
    oneapi::tbb::parallel_for(
        Range(0, frames_.rows(), 1024),
        [&](const Range& range) {
          const Eigen::Index first = range.begin(), n = static_cast<Eigen::Index>(range.size());
          const Eigen::MatrixXf start = factor.middleRows(first, n);
          // Per value, the sums over its inlier frames: grams column a * k + b (b <= a) of w v_a v_b,
          // moments column a of w x v_a.
          Eigen::ArrayXXd grams = Eigen::ArrayXXd::Zero(n, k * k), moments = Eigen::ArrayXXd::Zero(n, k);
          Eigen::ArrayXd inliers = Eigen::ArrayXd::Zero(n), w(n), weighted_x(n);
          Eigen::ArrayXf x(n);
          Eigen::VectorXf fit(n);
          for (Eigen::Index j = 0; j < frames_.cols(); ++j) {
            const auto v = coordinates.col(j);
            x = frame_values(frames_.col(j).segment(first, n)).array();
            fit.noalias() = start * v;
            detail::inlier_weights(x, fit, band_, w);
            weighted_x = w * x.cast<double>();
            inliers += w;
            for (Eigen::Index a = 0; a < k; ++a) {
              moments.col(a) += static_cast<double>(v[a]) * weighted_x;
              for (Eigen::Index b = 0; b <= a; ++b) grams.col(a * k + b) += (static_cast<double>(v[a]) * v[b]) * w;
            }
          }
          Eigen::MatrixXd gram(k, k);
          Eigen::VectorXd solution(k);
          for (Eigen::Index i = 0; i < n; ++i) {
            if (inliers[i] < 2 * k) continue;
            gram = grams.row(i).reshaped(k, k).transpose();  // the lower triangle, as solve_normal reads it
            if (solve_normal(gram, moments.row(i).transpose().matrix(), solution))
              factor.row(first + i) = solution.transpose().cast<float>();
          }
        },
        oneapi::tbb::simple_partitioner());
  }

 private:
  const FramesRef& frames_;
  float band_;
};

}  // namespace

Eigen::VectorXf frame_gains(const FramesRef& frames) {
  // The reference: each pixel's temporal median over up to 63 evenly spaced frames, at about 4,000
  // evenly spaced values bright enough for a ratio to be steady.
  const std::vector<Eigen::Index> picked = evenly_spaced_frames(frames.cols(), 63);
  const Eigen::Index stride = std::max<Eigen::Index>(1, frames.rows() / 4096);
  std::vector<Eigen::Index> values;
  std::vector<float> reference, levels(picked.size());
  for (Eigen::Index i = 0; i < frames.rows(); i += stride) {
    for (std::size_t s = 0; s < picked.size(); ++s) levels[s] = frames(i, picked[s]) * level_step;
    const auto middle = levels.begin() + static_cast<std::ptrdiff_t>(levels.size() / 2);
    std::nth_element(levels.begin(), middle, levels.end());
    if (*middle >= 0.1f) values.push_back(i), reference.push_back(*middle);
  }
  Eigen::VectorXf gains = Eigen::VectorXf::Ones(frames.cols());
  if (values.size() < 64) return gains;  // too dark to tell: no correction
  // The densest ratio, not the median: where the foreground covers most of a frame, or lingers
  // over a pixel (so its median is not background), ratios scatter, while the values that show the
  // background share their frame's gain. Bins of 0.5% in log ratio; the peak's window of +-1.25%.
  constexpr float bin = 0.005f;
  constexpr int bins = 560, half_window = 2;  // gains within a factor of 4 either way
  std::vector<int> histogram(bins);
  for (Eigen::Index j = 0; j < frames.cols(); ++j) {
    std::fill(histogram.begin(), histogram.end(), 0);
    for (std::size_t s = 0; s < values.size(); ++s) {
      const int b = static_cast<int>(
                        std::floor(std::log(std::max(frames(values[s], j) * level_step, 1e-3f) / reference[s]) / bin)) +
                    bins / 2;
      if (b >= 0 && b < bins) ++histogram[static_cast<std::size_t>(b)];
    }
    int best = 0, best_sum = -1;
    for (int b = half_window; b < bins - half_window; ++b) {
      int sum = 0;
      for (int w = -half_window; w <= half_window; ++w) sum += histogram[static_cast<std::size_t>(b + w)];
      if (sum > best_sum) best_sum = sum, best = b;
    }
    double weighted = 0;
    for (int w = -half_window; w <= half_window; ++w)
      weighted += (best + w - bins / 2 + 0.5) * histogram[static_cast<std::size_t>(best + w)];
    gains[j] = best_sum > 0 ? std::exp(static_cast<float>(weighted / best_sum) * bin) : 1.0f;
  }
  return gains;
}

// The histograms of `lanes` values side by side, level-major (h[level * lanes + lane]), so that the
// densest-window scan runs over every lane at once: a pass over the levels the 16 values span, where
// one value at a time made the scan cost 256 steps per value (seconds for a 1080p warm-up).
Mode mode_background(const FramesRef& frames, int window, int max_frames, const Eigen::VectorXf& gains) {
  if (frames.cols() == 0 || window < 1) throw Error("mode_background: no frames, or an empty window");
  const std::vector<Eigen::Index> picked = evenly_spaced_frames(frames.cols(), max_frames);
  constexpr int lanes = 16;
  const int half = window / 2;
  const Eigen::Index rows = frames.rows(), groups = (rows + lanes - 1) / lanes;
  Eigen::VectorXf mode(rows);
  std::atomic<long> votes_inside{0};  // over all values, in their densest windows
  oneapi::tbb::parallel_for(Range(0, groups, 16), [&](const Range& range) {
    long inside = 0;
    std::vector<std::int32_t> histograms(256 * lanes, 0);  // zero again after each group's scan
    for (Eigen::Index group = range.begin(); group < range.end(); ++group) {
      const Eigen::Index first = group * lanes;
      const int count = static_cast<int>(std::min<Eigen::Index>(lanes, rows - first));
      std::int32_t* h = histograms.data();
      int lowest = 255, highest = 0;  // the group's levels
      const auto vote = [&](int l, int level) {
        ++h[level * lanes + l];
        lowest = std::min(lowest, level), highest = std::max(highest, level);
      };
      for (const Eigen::Index j : picked) {
        const std::uint8_t* x = frames.col(j).data() + first;
        if (gains.size() == 0 || gains[j] == 1) {
          for (int l = 0; l < count; ++l) vote(l, x[l]);
        } else {
          const float scale = 1 / gains[j];
          for (int l = 0; l < count; ++l) vote(l, grey_level(x[l] * scale));
        }
      }
      // Sliding sums over [level - half, level + half]; the first densest window wins. Windows that
      // hold none of the group's levels hold nothing: the scan covers only those that may.
      std::array<std::int32_t, lanes> sum{}, best, best_level{};
      best.fill(-1);
      const int scan_from = std::max(0, lowest - half), scan_to = std::min(255, highest + half);
      for (int level = std::max(0, scan_from - half); level < std::min(scan_from + half, 256); ++level)
        for (int l = 0; l < lanes; ++l) sum[l] += h[level * lanes + l];
      for (int level = scan_from; level <= scan_to; ++level) {
        const std::int32_t* enters = level + half < 256 ? h + (level + half) * lanes : nullptr;
        const std::int32_t* leaves = level - half - 1 >= 0 ? h + (level - half - 1) * lanes : nullptr;
        for (int l = 0; l < lanes; ++l) {
          sum[l] += (enters ? enters[l] : 0) - (leaves ? leaves[l] : 0);
          const bool denser = sum[l] > best[l];
          best[l] = denser ? sum[l] : best[l];
          best_level[l] = denser ? level : best_level[l];
        }
      }
      for (int l = 0; l < count; ++l) {
        double weighted = 0, total = 0;
        for (int level = std::max(0, best_level[l] - half); level <= std::min(255, best_level[l] + half); ++level)
          weighted += static_cast<double>(level) * h[level * lanes + l], total += h[level * lanes + l];
        mode[first + l] = static_cast<float>(weighted / total / 255);
        inside += best[l];
      }
      std::fill(h + lowest * lanes, h + (highest + 1) * lanes, 0);
    }
    votes_inside += inside;
  });
  return {mode, static_cast<double>(votes_inside) / (static_cast<double>(rows) * static_cast<double>(picked.size()))};
}

double residual_scale(const FramesRef& frames, const Eigen::VectorXf& background, const Eigen::VectorXf& gains) {
  // About a million residuals of up to 128 evenly spaced frames, as estimate_noise takes.
  const std::vector<Eigen::Index> sampled = evenly_spaced_frames(frames.cols(), 128);
  const Eigen::Index total = frames.rows() * static_cast<Eigen::Index>(sampled.size());
  const Eigen::Index stride = std::max<Eigen::Index>(1, total >> 20) | 1;
  std::vector<float> residuals;
  residuals.reserve(static_cast<std::size_t>(total / stride + 1));
  for (Eigen::Index t = 0; t < total; t += stride) {
    const Eigen::Index i = t % frames.rows(), j = sampled[static_cast<std::size_t>(t / frames.rows())];
    residuals.push_back(frames(i, j) * level_step - (gains.size() > 0 ? gains[j] : 1.0f) * background[i]);
  }
  return inlier_scale(std::move(residuals));
}

namespace {

// The second mode's window: +-1 noise level of the residuals against a first mode taken in windows
// of 3 grey levels (the narrowest that rounding cannot split).
int refined_window(double first_scale) { return 2 * std::max(1, static_cast<int>(std::lrint(first_scale * 255))) + 1; }

}  // namespace

Eigen::VectorXf background_mode(const FramesRef& frames, int max_frames, const Eigen::VectorXf& gains) {
  const auto value_sample = sample_values<FrameLevels>(frames);
  const FramesRef few = value_sample.size() > 0 ? FramesRef(value_sample) : frames;
  const double first_scale = residual_scale(few, mode_background(few, 3, max_frames, gains).levels, gains);
  return mode_background(frames, refined_window(first_scale), max_frames, gains).levels;
}

Eigen::VectorXf fit_frame(const Eigen::MatrixXf& pixel_factor, const Eigen::Ref<const FrameColumnLevels>& levels,
                          float band, const Eigen::VectorXf& start, int rounds) {
  const Eigen::Index k = pixel_factor.cols();
  if (levels.size() != pixel_factor.rows() || start.size() != k)
    throw Error("fit_frame: the frame does not match the factor");
  // TrimmedFit::fit_frames for one frame, where the better half of the values always counts (least
  // trimmed squares), so a frame whose light moved beyond the band from `start` is still fitted.
  constexpr Eigen::Index block = detail::normal_equations_block;
  const Eigen::Index values = levels.size(), stride = std::max<Eigen::Index>(1, values / 4096);
  const Eigen::Index step = linalg::sampling_step(values, block, sampled_values);
  Eigen::VectorXf coordinates = start;
  Eigen::ArrayXf x(block), fit(block), weights(block);
  std::vector<float> spread;  // about 4,000 residuals give the median
  for (int round = 0; round <= rounds; ++round) {
    spread.clear();
    for (Eigen::Index i = 0; i < values; i += stride)
      spread.push_back(std::abs(levels[i] * level_step - pixel_factor.row(i).dot(coordinates)));
    const auto median = spread.begin() + static_cast<std::ptrdiff_t>(spread.size() / 2);
    std::nth_element(spread.begin(), median, spread.end());
    const float threshold = std::max(band, *median);
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(k, k);
    Eigen::VectorXd moment = Eigen::VectorXd::Zero(k);
    double inliers = 0;
    for (Eigen::Index b = 0; b < linalg::row_blocks(values, block, step); ++b) {
      const Eigen::Index first = linalg::row_block_first(b, block, step), n = std::min(block, values - first);
      const auto p = pixel_factor.middleRows(first, n);
      x.head(n) = frame_values(levels.segment(first, n)).array();
      fit.head(n).matrix().noalias() = p * coordinates;
      detail::inlier_weights(x.head(n), fit.head(n), threshold, weights.head(n));
      detail::add_normal_equations(p, x.head(n), weights.head(n), gram, moment);
      inliers += weights.head(n).sum();
    }
    Eigen::VectorXd solution(k);
    if (inliers < 2 * k || !solve_normal(gram, moment, solution)) break;
    coordinates = solution.cast<float>();
  }
  return coordinates;
}

BackgroundModel robust_background(const FramesRef& frames, const RobustBackgroundOptions& options) {
  const Eigen::Index k = options.rank, values = frames.rows();
  if (k < 1 || k > frames.cols()) throw Error("robust_background: the rank must be between 1 and the number of frames");
  // The mode of the frames brought to one light level: where the light takes a few levels (a
  // sample of a video, a flicker), each pixel's densest level is otherwise any of them.
  // Only where that makes the background repeat more often (more of the values in their densest
  // windows): gains that foreground over most of the frames made wrong scatter it instead.
  Eigen::VectorXf gains = frame_gains(frames);
  const auto value_sample = sample_values<FrameLevels>(frames);
  const FramesRef few = value_sample.size() > 0 ? FramesRef(value_sample) : frames;
  Mode first = mode_background(few, 3, options.mode_frames, gains);
  if (Mode plain = mode_background(few, 3, options.mode_frames); first.support <= plain.support) {
    gains.setOnes();
    first = std::move(plain);
  }
  const Eigen::VectorXf mode =
      mode_background(frames, refined_window(residual_scale(few, first.levels, gains)), options.mode_frames, gains)
          .levels;
  const float band = static_cast<float>(options.inlier_band * residual_scale(frames, mode, gains));

  // A start for rank k: the leading left singular vectors of the sampled frames with their outliers
  // replaced by the mode, made a block of rows at a time (a copy of 128 frames of 1080p would be a
  // gigabyte). Large frames: a randomized SVD whose test vectors are the k + 10 leading right
  // singular vectors of the sampled values (which set the mode's window too). Those are near the
  // right singular vectors of every value, so one pass Y = A V gives the start as Y's leading left
  // singular vectors (from the small Y^T Y), where Gaussian test vectors took three passes.
  const std::vector<Eigen::Index> sampled = evenly_spaced_frames(frames.cols(), 128);
  // The rows [first, first + n) of `source`'s sampled frames, their outliers replaced by `reference`.
  const auto cleaned_rows = [&](const FramesRef& source, const Eigen::VectorXf& reference) {
    return [&sampled, &gains, band, &source, &reference](Eigen::Index first, Eigen::Index n) {
      Eigen::MatrixXf rows(n, static_cast<Eigen::Index>(sampled.size()));
      for (std::size_t s = 0; s < sampled.size(); ++s) {
        const Eigen::Index j = sampled[s];
        const auto lit = reference.segment(first, n) * gains[j];
        const Eigen::VectorXf x = frame_values(source.col(j).segment(first, n));
        rows.col(static_cast<Eigen::Index>(s)) = ((x - lit).array().abs() < band).select(x, lit);
      }
      return rows;
    };
  };
  const auto every_row = cleaned_rows(frames, mode);
  const Eigen::Index columns = static_cast<Eigen::Index>(sampled.size());
  Eigen::MatrixXf start;  // values x at most k, orthonormal columns
  if (const Eigen::VectorXf sampled_mode = sample_values<Eigen::VectorXf>(mode); sampled_mode.size() > 0) {
    const auto sampled_row = cleaned_rows(few, sampled_mode);
    const linalg::GeneratedRowsOperator<float, decltype(sampled_row)> rows_sample(few.rows(), columns, sampled_row);
    const Eigen::MatrixXf test_vectors =
        linalg::randomized_svd(rows_sample, {.rank = std::min<Eigen::Index>(k + 10, columns)}).V;
    Eigen::MatrixXf y(values, test_vectors.cols());
    const Eigen::MatrixXd gram =
        linalg::sum_over_row_blocks(values, detail::normal_equations_block, [&](Eigen::Index first, Eigen::Index n) {
          auto block = y.middleRows(first, n);
          block.noalias() = every_row(first, n) * test_vectors;
          return (block.transpose() * block).eval();
        });
    // Y^T Y = W S^2 W^T, so Y W S^-1 are Y's left singular vectors. The lower triangle, mirrored:
    // the float products are symmetric only to their rounding.
    const auto top = linalg::symmetric_eigen(Eigen::MatrixXd(gram.selfadjointView<Eigen::Lower>()),
                                             std::min<Eigen::Index>(k, test_vectors.cols()));
    const Eigen::VectorXd s = top.eigenvalues.cwiseMax(0).cwiseSqrt();
    start = y * (top.eigenvectors * (s.array() > 0).select(s.cwiseInverse(), 0.0).asDiagonal()).cast<float>();
  } else {
    const linalg::GeneratedRowsOperator<float, decltype(every_row)> cleaned(values, columns, every_row);
    start = linalg::randomized_svd(cleaned, {.rank = std::min<Eigen::Index>(k, columns)}).U;
  }

  Eigen::MatrixXf factor = Eigen::MatrixXf::Zero(values, k);
  factor.leftCols(start.cols()) = start;
  // Kept by frames without inliers.
  Eigen::MatrixXf coordinates = (factor.transpose() * mode) * gains.transpose();
  const TrimmedFit fit(frames, band);
  fit.fit_frames(factor, coordinates, mode, gains.transpose());
  for (int round = 0; round < options.rounds; ++round) {
    fit.fit_values(factor, coordinates);
    fit.fit_frames(factor, coordinates, factor, coordinates);
  }
  BackgroundModel model;
  model.svd = to_svd(factor.cast<double>(), coordinates.transpose().cast<double>());
  model.iterations = options.rounds;
  return model;
}

}  // namespace cleanplate::stages
