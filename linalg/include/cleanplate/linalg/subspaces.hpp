// Subspaces, projections, least squares and determinants.
//
//   numerical_rank(A)             singular values above tol = max(m, n) eps s_max (NumPy's rule)
//   fundamental_subspaces(A)      orthonormal bases of the column, null, row and left null spaces
//   project_onto(basis, X)        the part of X in span(basis); project_onto_complement: the rest
//   least_squares(A, b)           QR when A has full column rank, else the minimum-norm SVD solution
//   determinant(A)
#pragma once
#include <Eigen/LU>
#include <Eigen/QR>
#include <Eigen/SVD>

#include "cleanplate/linalg/common.hpp"

namespace cleanplate::linalg {

template <typename Scalar>
struct FundamentalSubspaces {
  Eigen::Index rank = 0;
  Matrix<Scalar> column_space;     // m x r
  Matrix<Scalar> null_space;       // n x (n - r)
  Matrix<Scalar> row_space;        // n x r
  Matrix<Scalar> left_null_space;  // m x (m - r)
};

enum class LeastSquaresMethod { qr, svd };

template <typename Scalar>
struct LeastSquaresResult {
  Matrix<Scalar> solution;   // n x (columns of b)
  Scalar residual_norm = 0;  // ||A x - b||_F
  Eigen::Index rank = 0;     // numerical rank of A
  LeastSquaresMethod method = LeastSquaresMethod::qr;
};

template <typename Scalar>
Scalar rank_tolerance(const Vector<Scalar>& singular_values, Eigen::Index rows, Eigen::Index cols) {
  const Scalar largest = singular_values.size() ? singular_values(0) : Scalar(0);
  return static_cast<Scalar>(std::max(rows, cols)) * std::numeric_limits<Scalar>::epsilon() * largest;
}

template <typename Derived>
Eigen::Index numerical_rank(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(a, "numerical_rank");
  Eigen::BDCSVD<Matrix<Scalar>> svd(a.derived());
  const Vector<Scalar> s = svd.singularValues();
  return (s.array() > rank_tolerance<Scalar>(s, a.rows(), a.cols())).count();
}

template <typename Derived>
FundamentalSubspaces<typename Derived::Scalar> fundamental_subspaces(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(a, "fundamental_subspaces");
  const Eigen::Index m = a.rows(), n = a.cols();
  Eigen::BDCSVD<Matrix<Scalar>> svd(a.derived(), Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Vector<Scalar> s = svd.singularValues();
  const Eigen::Index r = (s.array() > rank_tolerance<Scalar>(s, m, n)).count();
  return {r, svd.matrixU().leftCols(r), svd.matrixV().rightCols(n - r), svd.matrixV().leftCols(r),
          svd.matrixU().rightCols(m - r)};
}

namespace detail {
// Orthonormal basis of span(basis), whatever the basis (dependent or zero columns are dropped).
template <typename Scalar>
Matrix<Scalar> orthonormal_span(const Matrix<Scalar>& basis) {
  if (basis.cols() == 0) return Matrix<Scalar>(basis.rows(), 0);
  return fundamental_subspaces(basis).column_space;
}
}  // namespace detail

// Orthogonal projection of the columns of x onto span(basis): Q Q^T x with Q an orthonormal basis.
template <typename DerivedBasis, typename Derived>
Matrix<typename Derived::Scalar> project_onto(const Eigen::MatrixBase<DerivedBasis>& basis,
                                              const Eigen::MatrixBase<Derived>& x) {
  using Scalar = typename Derived::Scalar;
  detail::require_same_rows(basis.rows(), x.rows(), "project_onto");
  const Matrix<Scalar> q = detail::orthonormal_span<Scalar>(basis.template cast<Scalar>());
  return q * (q.transpose() * x);
}

// x minus its projection: the part of x orthogonal to span(basis).
template <typename DerivedBasis, typename Derived>
Matrix<typename Derived::Scalar> project_onto_complement(const Eigen::MatrixBase<DerivedBasis>& basis,
                                                         const Eigen::MatrixBase<Derived>& x) {
  return x - project_onto(basis, x);
}

template <typename DerivedA, typename DerivedB>
LeastSquaresResult<typename DerivedA::Scalar> least_squares(const Eigen::MatrixBase<DerivedA>& a,
                                                            const Eigen::MatrixBase<DerivedB>& b) {
  using Scalar = typename DerivedA::Scalar;
  detail::require_usable(a, "least_squares");
  detail::require_usable(b, "least_squares");
  detail::require_same_rows(a.rows(), b.rows(), "least_squares");
  const Matrix<Scalar> m = a.derived();
  const Matrix<Scalar> rhs = b.template cast<Scalar>();
  LeastSquaresResult<Scalar> result;
  Eigen::ColPivHouseholderQR<Matrix<Scalar>> qr(m);
  result.rank = qr.rank();
  if (result.rank == m.cols()) {
    result.solution = qr.solve(rhs);
  } else {
    // Rank-deficient: infinitely many minimisers; the SVD gives the one of least norm.
    Eigen::BDCSVD<Matrix<Scalar>> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
    result.solution = svd.solve(rhs);
    result.method = LeastSquaresMethod::svd;
  }
  result.residual_norm = (m * result.solution - rhs).norm();
  return result;
}

template <typename Derived>
typename Derived::Scalar determinant(const Eigen::MatrixBase<Derived>& a) {
  detail::require_usable(a, "determinant");
  detail::require_square(a, "determinant");
  return a.derived().partialPivLu().determinant();
}

}  // namespace cleanplate::linalg
