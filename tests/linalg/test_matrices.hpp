// Test matrices of known spectrum: A = U diag(s) V^T with Haar-random orthonormal U and V.
#pragma once
#include <cleanplate/linalg/svd.hpp>

namespace cleanplate::test {

template <typename Scalar>
linalg::Matrix<Scalar> random_orthonormal(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  return linalg::detail::orthonormal_basis<Scalar>(linalg::detail::gaussian_matrix<Scalar>(rows, cols, seed));
}

// Computed in double and rounded once, so the float matrix has the stated spectrum to float rounding.
template <typename Scalar>
linalg::Matrix<Scalar> with_spectrum(Eigen::Index m, Eigen::Index n, const Eigen::VectorXd& s, std::uint64_t seed) {
  const Eigen::MatrixXd u = random_orthonormal<double>(m, s.size(), seed);
  const Eigen::MatrixXd v = random_orthonormal<double>(n, s.size(), seed + 1);
  return (u * s.asDiagonal() * v.transpose()).cast<Scalar>();
}

// s_i = decay^i: decay 0.5 is fast, 0.97 slow.
inline Eigen::VectorXd geometric_spectrum(Eigen::Index count, double decay) {
  Eigen::VectorXd s(count);
  for (Eigen::Index i = 0; i < count; ++i) s(i) = std::pow(decay, static_cast<double>(i));
  return s;
}

}  // namespace cleanplate::test
