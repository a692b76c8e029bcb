// Truncated singular value decompositions and the low-rank approximations they give.
//
//   randomized_svd(A, {.rank = k})  Halko, Martinsson, Tropp (SIAM Review 2011): a Gaussian test
//                                   matrix, oversampling, power iterations with re-orthonormalization.
//                                   A is an Eigen matrix or any MatrixOperator (matrix_operator.hpp).
//   truncated_svd(A, k)             the exact reference (Eigen's BDCSVD), same result type.
//   reconstruct / approximation_error / explained_energy   helpers on a result.
//
// Results follow Eigen's names: U (m x k), singular_values (largest first), V (n x k), A ~ U S V^T.
#pragma once
#include <Eigen/SVD>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "cleanplate/linalg/common.hpp"
#include "cleanplate/linalg/matrix_operator.hpp"

namespace cleanplate::linalg {

template <typename Scalar>
struct SvdResult {
  Matrix<Scalar> U;                // m x k, orthonormal columns
  Vector<Scalar> singular_values;  // k, non-increasing, >= 0
  Matrix<Scalar> V;                // n x k, orthonormal columns

  Eigen::Index rank() const { return singular_values.size(); }
};

struct RandomizedSvdOptions {
  Eigen::Index rank = 1;           // k, the number of components wanted (clamped to min(m, n))
  Eigen::Index oversampling = 10;  // extra random directions; the sketch has k + oversampling columns
  int power_iterations = 2;        // passes of (A A^T) that sharpen a slowly decaying spectrum
  std::uint64_t seed = 0;          // fixed by default, so results are reproducible
};

namespace detail {

template <typename Scalar>
Matrix<Scalar> gaussian_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal;
  Matrix<Scalar> g(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) g(i, j) = static_cast<Scalar>(normal(engine));
  return g;
}

template <typename Scalar>
struct ThinQr {
  Matrix<Scalar> Q;  // m x l, orthonormal columns
  Matrix<Scalar> R;  // l x l, upper triangular, Y = Q R
};

// Thin QR of a tall, skinny y. CholeskyQR2 (Fukaya et al. 2014), with the l x l Gram matrices in
// double: two passes over y, all in matrix products, several times faster than Householder on a
// tall matrix. When y is too ill-conditioned for it (cond > 1e6) or rank-deficient, Householder.
template <typename Scalar>
ThinQr<Scalar> thin_qr(const Matrix<Scalar>& y) {
  const Eigen::Index l = y.cols();
  Eigen::MatrixXd q = y.template cast<double>();
  Eigen::MatrixXd r = Eigen::MatrixXd::Identity(l, l);
  bool stable = true;
  for (int pass = 0; pass < 2 && stable; ++pass) {
    Eigen::LLT<Eigen::MatrixXd> cholesky(q.transpose() * q);
    const Eigen::VectorXd diagonal = cholesky.matrixU().toDenseMatrix().diagonal();
    stable = cholesky.info() == Eigen::Success && diagonal.minCoeff() > 1e-6 * diagonal.maxCoeff();
    if (!stable) break;
    cholesky.matrixU().template solveInPlace<Eigen::OnTheRight>(q);
    r = cholesky.matrixU() * r;
  }
  if (stable) return {q.cast<Scalar>(), r.cast<Scalar>()};
  Eigen::HouseholderQR<Matrix<Scalar>> qr(y);
  return {qr.householderQ() * Matrix<Scalar>::Identity(y.rows(), l),
          qr.matrixQR().topRows(l).template triangularView<Eigen::Upper>()};
}

// Orthonormal basis of the columns of y.
template <typename Scalar>
Matrix<Scalar> orthonormal_basis(const Matrix<Scalar>& y) {
  return thin_qr(y).Q;
}

template <typename Scalar>
SvdResult<Scalar> truncate(SvdResult<Scalar> r, Eigen::Index k) {
  k = std::min(k, r.singular_values.size());
  return {r.U.leftCols(k), r.singular_values.head(k), r.V.leftCols(k)};
}

inline void require_rank(Eigen::Index rank, const char* what) {
  if (rank < 1) throw Error(std::string(what) + ": rank must be at least 1, got " + std::to_string(rank));
}

}  // namespace detail

// Exact truncated SVD (BDCSVD, thin factors), the reference for everything else.
template <typename Derived>
SvdResult<typename Derived::Scalar> truncated_svd(const Eigen::MatrixBase<Derived>& a, Eigen::Index rank) {
  using Scalar = typename Derived::Scalar;
  detail::require_rank(rank, "truncated_svd");
  detail::require_usable(a, "truncated_svd");
  Eigen::BDCSVD<Matrix<Scalar>> svd(a.derived(), Eigen::ComputeThinU | Eigen::ComputeThinV);
  return detail::truncate<Scalar>({svd.matrixU(), svd.singularValues(), svd.matrixV()}, rank);
}

// Randomized truncated SVD of an operator. With q power iterations it makes q + 1 passes over A
// when the operator fuses A X with A^T (A X) (DenseOperator does), else 2q + 2.
//
// Each pass computes Y = A Z and W = A^T Y together; the range of W is that of A^T orth(Y), so the
// basis is re-orthonormalized after every A^T A product (Halko et al., Alg. 4.4, with the two
// products of one iteration fused). The last pass gives B = Q^T A = R^-T W^T from Y = Q R without
// another pass, unless R is too ill-conditioned for that in this precision; then B is formed directly.
template <MatrixOperator Op>
SvdResult<typename Op::Scalar> randomized_svd(const Op& a, const RandomizedSvdOptions& options = {}) {
  using Scalar = typename Op::Scalar;
  detail::require_rank(options.rank, "randomized_svd");
  if (options.oversampling < 0 || options.power_iterations < 0)
    throw Error("randomized_svd: oversampling and power_iterations must be >= 0");
  const Eigen::Index m = a.rows(), n = a.cols();
  if (m == 0 || n == 0)
    throw Error("randomized_svd: the matrix is empty (" + std::to_string(m) + "x" + std::to_string(n) + ")");
  const Eigen::Index rank = std::min(options.rank, std::min(m, n));
  // With as many test vectors as min(m, n), Q spans the whole range of A: the result is exact.
  const Eigen::Index width = std::min(rank + options.oversampling, std::min(m, n));

  Matrix<Scalar> z = detail::gaussian_matrix<Scalar>(n, width, options.seed);
  ProductPair<Scalar> pass;
  for (int i = 0; i <= options.power_iterations; ++i) {
    pass = multiply_and_adjoint(a, z);
    // NaN and Inf in A reach Y almost surely (the test matrix has no zeros): checking the sketch
    // costs nothing, checking A would cost a pass.
    if (i == 0 && !(pass.product.allFinite() && pass.adjoint_product.allFinite()))
      throw Error("randomized_svd: the input contains NaN or Inf (or overflows)");
    if (i < options.power_iterations) z = detail::orthonormal_basis<Scalar>(pass.adjoint_product);
  }

  const auto [q, r] = detail::thin_qr(pass.product);
  const Scalar largest = r.diagonal().cwiseAbs().maxCoeff();
  const Scalar smallest = r.diagonal().cwiseAbs().minCoeff();
  Matrix<Scalar> b_transposed;  // n x width
  if (smallest > largest * std::sqrt(std::numeric_limits<Scalar>::epsilon())) {
    b_transposed = r.template triangularView<Eigen::Upper>().template solve<Eigen::OnTheRight>(pass.adjoint_product);
  } else {
    b_transposed = a.adjoint_multiply(q);  // A^T Q: rank-deficient sketch, one more pass
  }

  // BDCSVD: divide and conquer for wide sketches (robust PCA reaches hundreds of columns), Jacobi below 16.
  Eigen::BDCSVD<Matrix<Scalar>> small(b_transposed, Eigen::ComputeThinU | Eigen::ComputeThinV);
  // B^T = Ub S Vb^T, so A ~ Q B = (Q Vb) S Ub^T.
  return {q * small.matrixV().leftCols(rank), small.singularValues().head(rank), small.matrixU().leftCols(rank)};
}

// Convenience overload for a dense Eigen matrix (viewed, not copied). A wide matrix is decomposed
// as its transpose, whose rows are its contiguous columns: A^T = V S U^T.
template <typename Derived>
SvdResult<typename Derived::Scalar> randomized_svd(const Eigen::MatrixBase<Derived>& a,
                                                   const RandomizedSvdOptions& options = {}) {
  detail::require_nonempty(a, "randomized_svd");
  if (a.cols() > a.rows()) {
    const TransposedDenseOperator<typename Derived::Scalar> op(a);
    auto transposed = randomized_svd(op, options);
    return {std::move(transposed.V), std::move(transposed.singular_values), std::move(transposed.U)};
  }
  const DenseOperator<typename Derived::Scalar> op(a);
  return randomized_svd(op, options);
}

// U S V^T using the first `components` terms (all of them by default).
template <typename Scalar>
Matrix<Scalar> reconstruct(const SvdResult<Scalar>& svd, Eigen::Index components = -1) {
  const Eigen::Index k = components < 0 ? svd.rank() : std::min(components, svd.rank());
  return svd.U.leftCols(k) * svd.singular_values.head(k).asDiagonal() * svd.V.leftCols(k).transpose();
}

// ||A - U S V^T||_F, without forming U S V^T as a whole (one column at a time).
template <typename Derived, typename Scalar = typename Derived::Scalar>
Scalar approximation_error(const Eigen::MatrixBase<Derived>& a, const SvdResult<Scalar>& svd) {
  detail::require_same_rows(a.rows(), svd.U.rows(), "approximation_error");
  if (a.cols() != svd.V.rows()) throw Error("approximation_error: the factors do not match the matrix's columns");
  const Matrix<Scalar> us = svd.U * svd.singular_values.asDiagonal();
  double sum = 0;
  for (Eigen::Index j = 0; j < a.cols(); ++j) sum += (a.col(j) - us * svd.V.row(j).transpose()).squaredNorm();
  return static_cast<Scalar>(std::sqrt(sum));
}

// Fraction of ||A||_F^2 captured by the components: sum s_i^2 / ||A||_F^2.
template <typename Derived, typename Scalar = typename Derived::Scalar>
Scalar explained_energy(const Eigen::MatrixBase<Derived>& a, const SvdResult<Scalar>& svd) {
  const double total = a.template cast<double>().squaredNorm();
  if (total == 0) return Scalar(1);
  return static_cast<Scalar>(svd.singular_values.template cast<double>().squaredNorm() / total);
}

}  // namespace cleanplate::linalg
