// Eigendecompositions.
//
//   symmetric_eigen(A)          all eigenpairs of a symmetric matrix, largest eigenvalue first
//   symmetric_eigen(A, k)       the k largest
//   eigen(A)                    a general real matrix: complex eigenvalues and eigenvectors
//                               (a rotation has none that are real)
//   diagonalize(A)              A = P D P^-1; refuses a defective matrix (too few independent eigenvectors)
//   matrix_power(A, p)          A^p through the diagonalization (p may be negative if A is invertible)
#pragma once
#include <Eigen/Eigenvalues>
#include <cmath>

#include "cleanplate/linalg/common.hpp"

namespace cleanplate::linalg {

template <typename Scalar>
struct SymmetricEigenResult {
  Vector<Scalar> eigenvalues;   // non-increasing
  Matrix<Scalar> eigenvectors;  // orthonormal columns, column i pairs with eigenvalue i
};

template <typename Scalar>
struct EigenResult {
  ComplexVector<Scalar> eigenvalues;
  ComplexMatrix<Scalar> eigenvectors;  // columns of unit norm
};

template <typename Scalar>
struct Diagonalization {
  ComplexMatrix<Scalar> P;  // eigenvectors as columns
  ComplexVector<Scalar> D;  // the diagonal of D
  ComplexMatrix<Scalar> P_inverse;
};

template <typename Derived>
SymmetricEigenResult<typename Derived::Scalar> symmetric_eigen(const Eigen::MatrixBase<Derived>& a,
                                                               Eigen::Index k = -1) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(a, "symmetric_eigen");
  detail::require_square(a, "symmetric_eigen");
  const Matrix<Scalar> m = a.derived();
  const Scalar tolerance = Scalar(100) * std::numeric_limits<Scalar>::epsilon() * std::max(m.norm(), Scalar(1));
  if ((m - m.transpose()).norm() > tolerance)
    throw Error("symmetric_eigen: the matrix is not symmetric (use eigen() for general matrices)");
  if (k == 0 || k > m.rows())
    throw Error("symmetric_eigen: k must be between 1 and " + std::to_string(m.rows()) + ", got " + std::to_string(k));
  const Eigen::Index count = k < 0 ? m.rows() : k;
  // The full tridiagonal QR solve costs O(n^3) and is exact; for a large operator whose top-k is
  // wanted, randomized_svd on a positive semi-definite operator is the faster route.
  Eigen::SelfAdjointEigenSolver<Matrix<Scalar>> solver(m);
  return {solver.eigenvalues().tail(count).reverse(), solver.eigenvectors().rightCols(count).rowwise().reverse()};
}

template <typename Derived>
EigenResult<typename Derived::Scalar> eigen(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  detail::require_usable(a, "eigen");
  detail::require_square(a, "eigen");
  Eigen::EigenSolver<Matrix<Scalar>> solver(a.derived());
  if (solver.info() != Eigen::Success) throw Error("eigen: the eigenvalue iteration did not converge");
  ComplexMatrix<Scalar> vectors = solver.eigenvectors();
  vectors.colwise().normalize();
  return {solver.eigenvalues(), vectors};
}

template <typename Derived>
Diagonalization<typename Derived::Scalar> diagonalize(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  auto e = eigen(a);
  // Defective means the eigenvectors do not span the space: P is (numerically) singular.
  Eigen::JacobiSVD<ComplexMatrix<Scalar>> svd(e.eigenvectors);
  const auto& s = svd.singularValues();
  const Scalar tolerance = std::sqrt(std::numeric_limits<Scalar>::epsilon()) * s(0);
  if (s(s.size() - 1) <= tolerance)
    throw Error(
        "diagonalize: the matrix is defective (its eigenvectors do not span the space), so A = P D P^-1 "
        "does not exist");
  return {e.eigenvectors, e.eigenvalues, e.eigenvectors.inverse()};
}

// A^p = P D^p P^-1. The imaginary parts of a real matrix's power cancel; only the real part is returned.
template <typename Derived>
Matrix<typename Derived::Scalar> matrix_power(const Eigen::MatrixBase<Derived>& a, int power) {
  using Scalar = typename Derived::Scalar;
  const auto d = diagonalize(a);
  if (power < 0 && (d.D.array().abs() == Scalar(0)).any())
    throw Error("matrix_power: a negative power needs an invertible matrix, and this one has eigenvalue 0");
  // Exact integer powers by repeated squaring (complex pow() goes through log and exp).
  const auto integer_power = [power](std::complex<Scalar> z) {
    std::complex<Scalar> result(1);
    for (unsigned e = static_cast<unsigned>(power < 0 ? -static_cast<long>(power) : power); e; e >>= 1, z *= z)
      if (e & 1u) result *= z;
    return power < 0 ? std::complex<Scalar>(1) / result : result;
  };
  const ComplexVector<Scalar> dp = d.D.unaryExpr(integer_power);
  return (d.P * dp.asDiagonal() * d.P_inverse).real();
}

}  // namespace cleanplate::linalg
