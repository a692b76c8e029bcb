// Shared vocabulary of cleanplate::linalg: matrix aliases and input checks.
#pragma once
#include <Eigen/Dense>
#include <string>

#include "cleanplate/error.hpp"

namespace cleanplate::linalg {

template <typename Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <typename Scalar>
using ComplexMatrix = Eigen::Matrix<std::complex<Scalar>, Eigen::Dynamic, Eigen::Dynamic>;
template <typename Scalar>
using ComplexVector = Eigen::Matrix<std::complex<Scalar>, Eigen::Dynamic, 1>;

namespace detail {

template <typename Derived>
void require_nonempty(const Eigen::MatrixBase<Derived>& a, const char* what) {
  if (a.rows() == 0 || a.cols() == 0)
    throw Error(std::string(what) + ": the matrix is empty (" + std::to_string(a.rows()) + "x" +
                std::to_string(a.cols()) + ")");
}

template <typename Derived>
void require_finite(const Eigen::MatrixBase<Derived>& a, const char* what) {
  if (!a.allFinite()) throw Error(std::string(what) + ": the input contains NaN or Inf");
}

template <typename Derived>
void require_usable(const Eigen::MatrixBase<Derived>& a, const char* what) {
  require_nonempty(a, what);
  require_finite(a, what);
}

template <typename Derived>
void require_square(const Eigen::MatrixBase<Derived>& a, const char* what) {
  if (a.rows() != a.cols())
    throw Error(std::string(what) + ": the matrix must be square, it is " + std::to_string(a.rows()) + "x" +
                std::to_string(a.cols()));
}

inline void require_same_rows(Eigen::Index a_rows, Eigen::Index b_rows, const char* what) {
  if (a_rows != b_rows)
    throw Error(std::string(what) + ": shapes do not match (" + std::to_string(a_rows) + " rows vs " +
                std::to_string(b_rows) + ")");
}

}  // namespace detail
}  // namespace cleanplate::linalg
