#include "cleanplate/stages/robust_background.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
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

int grey_level(float value) { return std::clamp(static_cast<int>(std::lrint(value * 255)), 0, 255); }

// The fit of value i in frame j: row i of the pixel factor (column i of `factor`) times row j of V.
inline float fitted(const float* p, const float* v, Eigen::Index k) {
  float sum = 0;
  for (Eigen::Index c = 0; c < k; ++c) sum += p[c] * v[c];
  return sum;
}

// Adds w p p^T (lower triangle) and w x p to k x k and k accumulators.
inline void accumulate(double* gram, double* moment, const float* p, double x, Eigen::Index k) {
  for (Eigen::Index r = 0; r < k; ++r) {
    moment[r] += x * p[r];
    for (Eigen::Index c = 0; c <= r; ++c) gram[r * k + c] += static_cast<double>(p[r]) * p[c];
  }
}

// solve_normal on the accumulators: `gram` holds the lower triangle row-major, which is the upper
// triangle of the column-major map, so LDLT reads its transpose.
void solve_small(const double* gram, const double* moment, Eigen::Index k, float* solution) {
  Eigen::VectorXd x(k);
  const Eigen::MatrixXd lower = Eigen::Map<const Eigen::MatrixXd>(gram, k, k).transpose();
  if (solve_normal(lower, Eigen::Map<const Eigen::VectorXd>(moment, k), x))
    Eigen::Map<Eigen::VectorXf>(solution, k) = x.cast<float>();
}

// One frame's coordinates on `factor` (k x values) by least squares over the values within
// `threshold` of `reference(i)`, in one pass; `gram` (k x k) and `moment` (k) are scratch. Left
// unchanged when fewer than 2k values count.
template <typename Reference>
void fit_inliers(const Eigen::MatrixXf& factor, const float* x, Reference reference, float threshold, double* gram,
                 double* moment, float* coordinates) {
  const Eigen::Index k = factor.rows(), values = factor.cols();
  std::fill(gram, gram + k * k, 0.0), std::fill(moment, moment + k, 0.0);
  Eigen::Index inliers = 0;
  for (Eigen::Index i = 0; i < values; ++i) {
    if (std::abs(x[i] - reference(i)) >= threshold) continue;
    accumulate(gram, moment, factor.col(i).data(), x[i], k);
    ++inliers;
  }
  if (inliers >= 2 * k) solve_small(gram, moment, k, coordinates);
}

// Weighted alternating least squares of X ~ P V^T, P stored as `factor` (k x values, each value's
// row contiguous) and V^T as `coordinates` (k x frames), where an entry counts only while
// |x - its reference| < band. Raw loops: k is small and this runs once per entry of the video.
class TrimmedFit {
 public:
  TrimmedFit(const Eigen::Ref<const Eigen::MatrixXf>& frames, float band) : frames_(frames), band_(band) {}

  // Each frame's coordinates over its inlier values, against `reference(j, i)`.
  template <typename Reference>
  void fit_frames(const Eigen::MatrixXf& factor, Eigen::MatrixXf& coordinates, Reference reference) const {
    const Eigen::Index k = factor.rows();
    oneapi::tbb::parallel_for(Range(0, frames_.cols(), 4), [&](const Range& range) {
      std::vector<double> gram(static_cast<std::size_t>(k * k)), moment(static_cast<std::size_t>(k));
      for (Eigen::Index j = range.begin(); j < range.end(); ++j)
        fit_inliers(
            factor, frames_.col(j).data(), [&](Eigen::Index i) { return reference(j, i); }, band_, gram.data(),
            moment.data(), coordinates.col(j).data());
    });
  }

  // Each value's row of the pixel factor over the frames where it is an inlier against the fit.
  void fit_values(Eigen::MatrixXf& factor, const Eigen::MatrixXf& coordinates) const {
    const Eigen::Index k = factor.rows();
    oneapi::tbb::parallel_for(Range(0, frames_.rows(), 512), [&](const Range& range) {
      const Eigen::Index first = range.begin(), count = static_cast<Eigen::Index>(range.size());
      std::vector<double> grams(static_cast<std::size_t>(count * k * k), 0.0),
          moments(static_cast<std::size_t>(count * k), 0.0);
      std::vector<Eigen::Index> inliers(static_cast<std::size_t>(count), 0);
      for (Eigen::Index j = 0; j < frames_.cols(); ++j) {
        const float* v = coordinates.col(j).data();
        const float* x = frames_.col(j).data() + first;
        for (Eigen::Index i = 0; i < count; ++i) {
          if (std::abs(x[i] - fitted(factor.col(first + i).data(), v, k)) >= band_) continue;
          accumulate(grams.data() + i * k * k, moments.data() + i * k, v, x[i], k);
          ++inliers[static_cast<std::size_t>(i)];
        }
      }
      for (Eigen::Index i = 0; i < count; ++i)  // a value covered nearly always keeps its start
        if (inliers[static_cast<std::size_t>(i)] >= 2 * k)
          solve_small(grams.data() + i * k * k, moments.data() + i * k, k, factor.col(first + i).data());
    });
  }

 private:
  const Eigen::Ref<const Eigen::MatrixXf>& frames_;
  float band_;
};

}  // namespace

Eigen::VectorXf frame_gains(const Eigen::Ref<const Eigen::MatrixXf>& frames) {
  // The reference: each pixel's temporal median over up to 63 evenly spaced frames, at about 4,000
  // evenly spaced values bright enough for a ratio to be steady.
  const std::vector<Eigen::Index> picked = evenly_spaced_frames(frames.cols(), 63);
  const Eigen::Index stride = std::max<Eigen::Index>(1, frames.rows() / 4096);
  std::vector<Eigen::Index> values;
  std::vector<float> reference, levels(picked.size());
  for (Eigen::Index i = 0; i < frames.rows(); i += stride) {
    for (std::size_t s = 0; s < picked.size(); ++s) levels[s] = frames(i, picked[s]);
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
      const int b =
          static_cast<int>(std::floor(std::log(std::max(frames(values[s], j), 1e-3f) / reference[s]) / bin)) + bins / 2;
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

Mode mode_background(const Eigen::Ref<const Eigen::MatrixXf>& frames, int window, int max_frames,
                     const Eigen::VectorXf& gains) {
  if (frames.cols() == 0 || window < 1) throw Error("mode_background: no frames, or an empty window");
  const std::vector<Eigen::Index> picked =
      evenly_spaced_frames(frames.cols(), std::min(max_frames, 65535));  // 16-bit counts
  const int half = window / 2;
  Eigen::VectorXf mode(frames.rows());
  std::atomic<long> votes_inside{0};  // over all values, in their densest windows
  oneapi::tbb::parallel_for(Range(0, frames.rows(), 256), [&](const Range& range) {
    long inside = 0;
    const Eigen::Index first = range.begin(), count = static_cast<Eigen::Index>(range.size());
    std::vector<std::uint16_t> histograms(static_cast<std::size_t>(count) * 256, 0);
    for (const Eigen::Index j : picked) {
      const float* x = frames.col(j).data() + first;
      const float scale = gains.size() > 0 ? 1 / gains[j] : 1.0f;
      for (Eigen::Index i = 0; i < count; ++i)
        ++histograms[static_cast<std::size_t>(i * 256 + grey_level(x[i] * scale))];
    }
    for (Eigen::Index i = 0; i < count; ++i) {
      const std::uint16_t* h = histograms.data() + i * 256;
      // Sliding sum over [level - half, level + half]; the first densest window wins.
      long sum = 0, best = -1;
      int best_level = 0;
      for (int l = 0; l < std::min(half, 255); ++l) sum += h[l];
      for (int level = 0; level < 256; ++level) {
        if (level + half < 256) sum += h[level + half];
        if (level - half - 1 >= 0) sum -= h[level - half - 1];
        if (sum > best) best = sum, best_level = level;
      }
      double weighted = 0, total = 0;
      for (int l = std::max(0, best_level - half); l <= std::min(255, best_level + half); ++l)
        weighted += static_cast<double>(l) * h[l], total += h[l];
      mode[first + i] = static_cast<float>(weighted / total / 255);
      inside += best;
    }
    votes_inside += inside;
  });
  return {mode, static_cast<double>(votes_inside) /
                    (static_cast<double>(frames.rows()) * static_cast<double>(picked.size()))};
}

double residual_scale(const Eigen::Ref<const Eigen::MatrixXf>& frames, const Eigen::VectorXf& background,
                      const Eigen::VectorXf& gains) {
  // About a million residuals of up to 128 evenly spaced frames, as estimate_noise takes.
  const std::vector<Eigen::Index> sampled = evenly_spaced_frames(frames.cols(), 128);
  const Eigen::Index total = frames.rows() * static_cast<Eigen::Index>(sampled.size());
  const Eigen::Index stride = std::max<Eigen::Index>(1, total >> 20) | 1;
  std::vector<float> residuals;
  residuals.reserve(static_cast<std::size_t>(total / stride + 1));
  for (Eigen::Index t = 0; t < total; t += stride) {
    const Eigen::Index i = t % frames.rows(), j = sampled[static_cast<std::size_t>(t / frames.rows())];
    residuals.push_back(frames(i, j) - (gains.size() > 0 ? gains[j] : 1.0f) * background[i]);
  }
  return inlier_scale(std::move(residuals));
}

namespace {

// The second mode: in windows of +-1 noise level of the residuals against the first, which was taken
// in windows of 3 grey levels (the narrowest that rounding cannot split).
Eigen::VectorXf refined_mode(const Eigen::Ref<const Eigen::MatrixXf>& frames, const Eigen::VectorXf& first,
                             int max_frames, const Eigen::VectorXf& gains) {
  const double first_scale = residual_scale(frames, first, gains);
  return mode_background(frames, 2 * std::max(1, static_cast<int>(std::lrint(first_scale * 255))) + 1, max_frames,
                         gains)
      .levels;
}

}  // namespace

Eigen::VectorXf background_mode(const Eigen::Ref<const Eigen::MatrixXf>& frames, int max_frames,
                                const Eigen::VectorXf& gains) {
  return refined_mode(frames, mode_background(frames, 3, max_frames, gains).levels, max_frames, gains);
}

Eigen::VectorXf fit_frame(const Eigen::MatrixXf& pixel_factor, const Eigen::Ref<const Eigen::VectorXf>& column,
                          float band, const Eigen::VectorXf& start, int rounds) {
  const Eigen::Index k = pixel_factor.cols();
  if (column.size() != pixel_factor.rows() || start.size() != k)
    throw Error("fit_frame: the frame does not match the factor");
  // TrimmedFit::fit_frames for one frame, where the better half of the values always counts (least
  // trimmed squares), so a frame whose light moved beyond the band from `start` is still fitted.
  constexpr Eigen::Index block = detail::normal_equations_block;
  const Eigen::Index values = column.size(), stride = std::max<Eigen::Index>(1, values / 4096);
  Eigen::VectorXf coordinates = start;
  Eigen::ArrayXf weights(block);
  std::vector<float> spread;  // about 4,000 residuals give the median
  for (int round = 0; round <= rounds; ++round) {
    spread.clear();
    for (Eigen::Index i = 0; i < values; i += stride)
      spread.push_back(std::abs(column[i] - pixel_factor.row(i).dot(coordinates)));
    const auto median = spread.begin() + static_cast<std::ptrdiff_t>(spread.size() / 2);
    std::nth_element(spread.begin(), median, spread.end());
    const float threshold = std::max(band, *median);
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(k, k);
    Eigen::VectorXd moment = Eigen::VectorXd::Zero(k);
    double inliers = 0;
    for (Eigen::Index first = 0; first < values; first += block) {
      const Eigen::Index n = std::min(block, values - first);
      const auto p = pixel_factor.middleRows(first, n);
      const auto x = column.segment(first, n).array();
      auto w = weights.head(n);
      w = ((x - (p * coordinates).array()).abs() < threshold).cast<float>();
      detail::add_normal_equations(p, x, w, gram, moment);
      inliers += w.sum();
    }
    Eigen::VectorXd solution(k);
    if (inliers < 2 * k || !solve_normal(gram, moment, solution)) break;
    coordinates = solution.cast<float>();
  }
  return coordinates;
}

BackgroundModel robust_background(const Eigen::Ref<const Eigen::MatrixXf>& frames,
                                  const RobustBackgroundOptions& options) {
  const Eigen::Index k = options.rank, values = frames.rows();
  if (k < 1 || k > frames.cols()) throw Error("robust_background: the rank must be between 1 and the number of frames");
  // The mode of the frames brought to one light level: where the light takes a few levels (a
  // sample of a video, a flicker), each pixel's densest level is otherwise any of them.
  // Only where that makes the background repeat more often (more of the values in their densest
  // windows): gains that foreground over most of the frames made wrong scatter it instead.
  Eigen::VectorXf gains = frame_gains(frames);
  Mode first = mode_background(frames, 3, options.mode_frames, gains);
  if (Mode plain = mode_background(frames, 3, options.mode_frames); first.support <= plain.support) {
    gains.setOnes();
    first = std::move(plain);
  }
  const Eigen::VectorXf mode = refined_mode(frames, first.levels, options.mode_frames, gains);
  const float band = static_cast<float>(options.inlier_band * residual_scale(frames, mode, gains));

  // A start for rank k: the SVD of the sampled frames with their outliers replaced by the mode.
  const std::vector<Eigen::Index> sampled = evenly_spaced_frames(frames.cols(), 128);
  Eigen::MatrixXf sample(values, static_cast<Eigen::Index>(sampled.size()));
  for (std::size_t s = 0; s < sampled.size(); ++s) {
    const Eigen::Index j = sampled[s];
    const auto lit = mode * gains[j];
    sample.col(static_cast<Eigen::Index>(s)) = ((frames.col(j) - lit).array().abs() < band).select(frames.col(j), lit);
  }
  const linalg::SvdResult<float> start =
      linalg::randomized_svd(sample, {.rank = std::min<Eigen::Index>(k, sample.cols())});

  Eigen::MatrixXf factor = Eigen::MatrixXf::Zero(k, values);  // k x values: each value's row contiguous
  factor.topRows(start.rank()) = start.U.transpose();
  // Kept by frames without inliers.
  Eigen::MatrixXf coordinates = (factor * mode) * gains.transpose();
  const TrimmedFit fit(frames, band);
  fit.fit_frames(factor, coordinates, [&](Eigen::Index j, Eigen::Index i) { return gains[j] * mode[i]; });
  for (int round = 0; round < options.rounds; ++round) {
    fit.fit_values(factor, coordinates);
    fit.fit_frames(factor, coordinates, [&](Eigen::Index j, Eigen::Index i) {
      return fitted(factor.col(i).data(), coordinates.col(j).data(), k);
    });
  }
  BackgroundModel model;
  model.svd = to_svd(factor.transpose().cast<double>(), coordinates.transpose().cast<double>());
  model.iterations = options.rounds;
  return model;
}

}  // namespace cleanplate::stages
