// Robust PCA by principal component pursuit: D = L + S with L low-rank and S sparse, from
//   minimize ||L||_* + lambda ||S||_1  subject to  L + S = D      (Candès, Li, Ma, Wright 2011),
// solved with inexact augmented Lagrange multipliers (Lin, Chen, Ma 2010, Algorithm 5). Each
// iteration thresholds the singular values of D - S + Y/mu at 1/mu (a partial SVD by
// randomized_svd, at a rank that grows while every computed value survives the threshold), then
// soft-thresholds the entries of D - L + Y/mu at lambda/mu, and updates the multiplier Y.
//
//   auto r = robust_pca(D);            // r.low_rank (U, singular_values, V), r.sparse, r.iterations
#pragma once
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cleanplate/linalg/common.hpp"
#include "cleanplate/linalg/svd.hpp"

namespace cleanplate::linalg {

struct RobustPcaOptions {
  double lambda = 0;     // weight of ||S||_1; 0 = 1 / sqrt(max(m, n)), the paper's choice
  double tolerance = 0;  // stop at ||D - L - S||_F <= tolerance ||D||_F; 0 = 1e-7 (double), 1.2e-5 (float)
  int max_iterations = 500;
  double penalty_growth = 1.5;     // rho: mu grows by this factor each iteration (> 1)
  Eigen::Index initial_rank = 10;  // rank of the first partial SVD; grows as needed
  Eigen::Index max_rank = 0;       // bound on the rank of L (0: none). On video, noise would otherwise
                                   // keep adding components as mu grows; a static camera needs a few.
  std::uint64_t seed = 0;          // for the randomized SVDs: results are reproducible
};

template <typename Scalar>
struct RobustPcaResult {
  SvdResult<Scalar> low_rank;  // L = U diag(singular_values) V^T
  Matrix<Scalar> sparse;       // S
  int iterations = 0;
  double relative_residual = 0;  // ||D - L - S||_F / ||D||_F
  bool converged = false;        // relative_residual <= tolerance within max_iterations
};

template <typename Derived>
RobustPcaResult<typename Derived::Scalar> robust_pca(const Eigen::MatrixBase<Derived>& input,
                                                     const RobustPcaOptions& options = {}) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(input, "robust_pca");
  if (options.lambda < 0 || options.tolerance < 0 || options.max_iterations < 1 || !(options.penalty_growth > 1) ||
      options.initial_rank < 1 || options.max_rank < 0)
    throw Error(
        "robust_pca: need lambda >= 0, tolerance >= 0, max_iterations >= 1, penalty_growth > 1, initial_rank >= 1, "
        "max_rank >= 0");
  const Eigen::Ref<const Matrix<Scalar>> d(input.derived());  // viewed, not copied
  const Eigen::Index m = d.rows(), n = d.cols(), smaller = std::min(m, n);
  const Scalar lambda =
      static_cast<Scalar>(options.lambda > 0 ? options.lambda : 1 / std::sqrt(static_cast<double>(std::max(m, n))));
  const double tolerance =
      options.tolerance > 0 ? options.tolerance : std::max(1e-7, 100.0 * std::numeric_limits<Scalar>::epsilon());

  RobustPcaResult<Scalar> result;
  result.sparse = Matrix<Scalar>::Zero(m, n);
  result.low_rank = {Matrix<Scalar>::Zero(m, 0), Vector<Scalar>::Zero(0), Matrix<Scalar>::Zero(n, 0)};
  const double d_norm = d.template cast<double>().norm();
  if (d_norm == 0) {
    result.converged = true;
    return result;
  }

  // Start: Y = D / J(D) with J the dual norm max(||D||_2, ||D||_inf / lambda); mu = 1.25 / ||D||_2.
  const Scalar spectral =
      randomized_svd(d, {.rank = 1, .power_iterations = 4, .seed = options.seed}).singular_values(0);
  Matrix<Scalar> y = d / std::max(spectral, d.cwiseAbs().maxCoeff() / lambda);
  Scalar mu = Scalar(1.25) / spectral;
  const Scalar mu_max = mu * Scalar(1e7);
  const Eigen::Index rank_bound = options.max_rank > 0 ? std::min(options.max_rank, smaller) : smaller;
  Eigen::Index sketch_rank = std::min(options.initial_rank, rank_bound);
  const Eigen::Index rank_step = std::max<Eigen::Index>(1, std::lround(0.05 * static_cast<double>(smaller)));

  Matrix<Scalar> target(m, n);
  std::vector<double> column_residual(static_cast<std::size_t>(n));
  for (result.iterations = 1; result.iterations <= options.max_iterations; ++result.iterations) {
    // L: singular value thresholding of D - S + Y / mu at 1 / mu.
    const Scalar cut = 1 / mu;
    target = d - result.sparse + y / mu;
    SvdResult<Scalar> svd = randomized_svd(
        target, {.rank = sketch_rank, .seed = options.seed + static_cast<std::uint64_t>(result.iterations)});
    const Eigen::Index kept = (svd.singular_values.array() > cut).count();
    // Every computed value survived: more may lie above the cut, so ask for more next time.
    sketch_rank = kept < sketch_rank ? std::min(kept + 1, rank_bound) : std::min(sketch_rank + rank_step, rank_bound);
    result.low_rank = {svd.U.leftCols(kept), svd.singular_values.head(kept).array() - cut, svd.V.leftCols(kept)};

    // S, the residual and Y in one pass, column by column: L's column is formed on the fly,
    // S = soft-threshold(D - L + Y / mu, lambda / mu), Z = D - L - S, Y += mu Z.
    const Scalar shrink = lambda / mu;
    const Matrix<Scalar> us = result.low_rank.U * result.low_rank.singular_values.asDiagonal();
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<Eigen::Index>(0, n), [&](const auto& columns) {
      Vector<Scalar> low(m);
      for (Eigen::Index j = columns.begin(); j != columns.end(); ++j) {
        low.noalias() = us * result.low_rank.V.row(j).transpose();
        double squared = 0;
        for (Eigen::Index i = 0; i < m; ++i) {
          const Scalar v = d(i, j) - low[i] + y(i, j) / mu;
          const Scalar s = v > shrink ? v - shrink : v < -shrink ? v + shrink : Scalar(0);
          const Scalar z = d(i, j) - low[i] - s;
          result.sparse(i, j) = s;
          y(i, j) += mu * z;
          squared += static_cast<double>(z) * z;
        }
        column_residual[static_cast<std::size_t>(j)] = squared;
      }
    });
    mu = std::min(mu * static_cast<Scalar>(options.penalty_growth), mu_max);
    double squared = 0;
    for (double c : column_residual) squared += c;
    result.relative_residual = std::sqrt(squared) / d_norm;
    if (result.relative_residual <= tolerance) {
      result.converged = true;
      break;
    }
  }
  result.iterations = std::min(result.iterations, options.max_iterations);
  return result;
}

}  // namespace cleanplate::linalg
