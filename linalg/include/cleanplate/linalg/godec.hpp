// GoDec (Zhou, Tao 2011): D = L + S + G with rank(L) <= k and at most `cardinality` non-zeros in S,
// by alternating projections: L is the rank-k truncated SVD of D - S (randomized, as the paper's
// bilateral random projections), S keeps the largest entries of D - L. Much cheaper per iteration
// than robust PCA's singular value thresholding, at the price of choosing k and the cardinality.
//
// Sized for video matrices: D is viewed, not copied; D - S enters the SVD as an operator (dense
// products minus sparse ones), and D - L is formed column by column, in parallel, when needed.
//
//   auto r = godec(D, {.rank = 1, .sparse_fraction = 0.05});   // r.low_rank, r.sparse
#pragma once
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <Eigen/SparseCore>
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
  int power_iterations = 1;  // of each randomized SVD
  std::uint64_t seed = 0;
};

template <typename Scalar>
struct GoDecResult {
  SvdResult<Scalar> low_rank;          // L = U diag(singular_values) V^T
  Eigen::SparseMatrix<Scalar> sparse;  // S, column-major
  int iterations = 0;
  double relative_residual = 0;  // ||D - L - S||_F / ||D||_F: the noise G
  bool converged = false;
};

namespace detail {

// D - S for a dense D and a sparse S, without forming it.
template <typename ScalarType>
class DenseMinusSparse {
 public:
  using Scalar = ScalarType;
  DenseMinusSparse(const Eigen::Ref<const Matrix<Scalar>>& dense, const Eigen::SparseMatrix<Scalar>& sparse)
      : dense_(dense), sparse_(sparse) {}
  Eigen::Index rows() const { return dense_.rows(); }
  Eigen::Index cols() const { return dense_.cols(); }
  Matrix<Scalar> multiply(const Matrix<Scalar>& x) const {
    Matrix<Scalar> y = dense_.multiply(x);
    y -= sparse_ * x;
    return y;
  }
  Matrix<Scalar> adjoint_multiply(const Matrix<Scalar>& y) const {
    Matrix<Scalar> x = dense_.adjoint_multiply(y);
    x -= sparse_.transpose() * y;
    return x;
  }

 private:
  DenseOperator<Scalar> dense_;
  const Eigen::SparseMatrix<Scalar>& sparse_;
};

// Calls body(j, r) for every column j, in parallel, with r = D.col(j) - (U S) V.row(j)^T.
template <typename Scalar, typename Body>
void for_each_remainder_column(const Eigen::Ref<const Matrix<Scalar>>& d, const SvdResult<Scalar>& low, Body&& body) {
  const Matrix<Scalar> us = low.U * low.singular_values.asDiagonal();
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<Eigen::Index>(0, d.cols()), [&](const auto& columns) {
    Vector<Scalar> r(d.rows());
    for (Eigen::Index j = columns.begin(); j != columns.end(); ++j) {
      r.noalias() = d.col(j) - us * low.V.row(j).transpose();
      body(j, r);
    }
  });
}

}  // namespace detail

template <typename Derived>
GoDecResult<typename Derived::Scalar> godec(const Eigen::MatrixBase<Derived>& input, const GoDecOptions& options = {}) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(input, "godec");
  if (options.rank < 1 || !(options.sparse_fraction >= 0 && options.sparse_fraction < 1) || !(options.tolerance >= 0) ||
      options.max_iterations < 1 || options.power_iterations < 0)
    throw Error(
        "godec: need rank >= 1, 0 <= sparse_fraction < 1, tolerance >= 0, max_iterations >= 1, power_iterations >= 0");
  const Eigen::Ref<const Matrix<Scalar>> d(input.derived());
  const Eigen::Index m = d.rows(), n = d.cols(), entries = d.size();
  const auto cardinality =
      static_cast<Eigen::Index>(std::llround(options.sparse_fraction * static_cast<double>(entries)));
  const double d_norm = d.template cast<double>().norm();

  GoDecResult<Scalar> result;
  result.sparse.resize(m, n);
  std::vector<Scalar> magnitudes(cardinality > 0 ? static_cast<std::size_t>(entries) : 0);
  std::vector<std::vector<std::pair<Eigen::Index, Scalar>>> kept(static_cast<std::size_t>(n));
  std::vector<double> column_residual(static_cast<std::size_t>(n));
  double previous = 0;
  for (result.iterations = 1; result.iterations <= options.max_iterations; ++result.iterations) {
    result.low_rank =
        randomized_svd(detail::DenseMinusSparse<Scalar>(d, result.sparse),
                       {.rank = options.rank, .power_iterations = options.power_iterations, .seed = options.seed});
    // S: the `cardinality` largest entries of D - L (ties at the cut may add a few).
    Scalar cut = std::numeric_limits<Scalar>::infinity();
    if (cardinality > 0) {
      detail::for_each_remainder_column(d, result.low_rank, [&](Eigen::Index j, const Vector<Scalar>& r) {
        Eigen::Map<Vector<Scalar>>(magnitudes.data() + j * m, m) = r.cwiseAbs();
      });
      const auto nth = magnitudes.begin() + (entries - cardinality);
      std::nth_element(magnitudes.begin(), nth, magnitudes.end());
      cut = *nth;
    }
    detail::for_each_remainder_column(d, result.low_rank, [&](Eigen::Index j, const Vector<Scalar>& r) {
      auto& column = kept[static_cast<std::size_t>(j)];
      column.clear();
      double rest = 0;
      for (Eigen::Index i = 0; i < m; ++i) {
        if (std::abs(r[i]) >= cut)
          column.emplace_back(i, r[i]);
        else
          rest += static_cast<double>(r[i]) * r[i];
      }
      column_residual[static_cast<std::size_t>(j)] = rest;
    });
    Eigen::VectorXi counts(n);
    for (Eigen::Index j = 0; j < n; ++j) counts[j] = static_cast<int>(kept[static_cast<std::size_t>(j)].size());
    result.sparse.setZero();
    result.sparse.reserve(counts);
    for (Eigen::Index j = 0; j < n; ++j)
      for (const auto& [i, v] : kept[static_cast<std::size_t>(j)]) result.sparse.insert(i, j) = v;
    result.sparse.makeCompressed();

    double squared = 0;
    for (double c : column_residual) squared += c;
    const double residual = std::sqrt(squared);
    result.relative_residual = d_norm > 0 ? residual / d_norm : 0;
    if (residual <= d_norm * options.tolerance ||
        (result.iterations > 1 && std::abs(previous - residual) <= previous * options.tolerance)) {
      result.converged = true;
      break;
    }
    previous = residual;
  }
  result.iterations = std::min(result.iterations, options.max_iterations);
  return result;
}

}  // namespace cleanplate::linalg
