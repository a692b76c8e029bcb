// GoDec (Zhou, Tao 2011): D = L + S + G with rank(L) <= k and at most `cardinality` non-zeros in S,
// by alternating projections: L is the rank-k truncated SVD of D - S (randomized, as the paper's
// bilateral random projections), S keeps the largest entries of D - L. Much cheaper per iteration
// than robust PCA's singular value thresholding, at the price of choosing k and the cardinality.
//
//   auto r = godec(D, {.rank = 1, .sparse_fraction = 0.05});   // r.low_rank, r.sparse
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "cleanplate/linalg/common.hpp"
#include "cleanplate/linalg/svd.hpp"

namespace cleanplate::linalg {

struct GoDecOptions {
  Eigen::Index rank = 1;          // k, the rank of L
  double sparse_fraction = 0.05;  // the cardinality of S, as a fraction of the entries of D
  double tolerance = 1e-7;        // stop when ||D - L - S||_F changes by less than this fraction in an iteration
  int max_iterations = 100;
  int power_iterations = 1;       // of each randomized SVD
  std::uint64_t seed = 0;
};

template <typename Scalar>
struct GoDecResult {
  SvdResult<Scalar> low_rank;    // L = U diag(singular_values) V^T
  Matrix<Scalar> sparse;         // S
  int iterations = 0;
  double relative_residual = 0;  // ||D - L - S||_F / ||D||_F: the noise G
  bool converged = false;
};

template <typename Derived>
GoDecResult<typename Derived::Scalar> godec(const Eigen::MatrixBase<Derived>& input, const GoDecOptions& options = {}) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(input, "godec");
  if (options.rank < 1 || !(options.sparse_fraction >= 0 && options.sparse_fraction < 1) || !(options.tolerance >= 0) ||
      options.max_iterations < 1 || options.power_iterations < 0)
    throw Error("godec: need rank >= 1, 0 <= sparse_fraction < 1, tolerance >= 0, max_iterations >= 1, power_iterations >= 0");
  const Matrix<Scalar> d = input;
  const Eigen::Index entries = d.size();
  const auto cardinality = static_cast<Eigen::Index>(std::llround(options.sparse_fraction * static_cast<double>(entries)));
  const double d_norm = d.template cast<double>().norm();

  GoDecResult<Scalar> result;
  result.sparse = Matrix<Scalar>::Zero(d.rows(), d.cols());
  Matrix<Scalar> remainder(d.rows(), d.cols());
  std::vector<Scalar> magnitudes(static_cast<std::size_t>(entries));
  double previous = 0;
  for (result.iterations = 1; result.iterations <= options.max_iterations; ++result.iterations) {
    result.low_rank = randomized_svd(Matrix<Scalar>(d - result.sparse),
                                     {.rank = options.rank, .power_iterations = options.power_iterations, .seed = options.seed});
    remainder = d - reconstruct(result.low_rank);
    // S: the `cardinality` largest entries of D - L (ties at the cut may add a few).
    if (cardinality > 0) {
      std::transform(remainder.data(), remainder.data() + entries, magnitudes.begin(), [](Scalar v) { return std::abs(v); });
      const auto cut = magnitudes.begin() + (entries - cardinality);
      std::nth_element(magnitudes.begin(), cut, magnitudes.end());
      const Scalar smallest_kept = *cut;
      result.sparse = (remainder.array().abs() >= smallest_kept).select(remainder, Scalar(0));
    }
    const double residual = (remainder - result.sparse).template cast<double>().norm();
    result.relative_residual = d_norm > 0 ? residual / d_norm : 0;
    if (residual <= d_norm * options.tolerance || (result.iterations > 1 && std::abs(previous - residual) <= previous * options.tolerance)) {
      result.converged = true;
      break;
    }
    previous = residual;
  }
  result.iterations = std::min(result.iterations, options.max_iterations);
  return result;
}

}  // namespace cleanplate::linalg
