// Incremental thin SVD (Brand, "Fast low-rank modifications of the thin SVD", LAA 2006).
//
//   IncrementalSvd<float> basis({.rank = 2, .forgetting_factor = 0.99f}, pixels);
//   for (each column x) { auto step = basis.update(x); ... step.coefficients, step.residual_norm }
//   basis.U(); basis.singular_values();
//
// Tracks the left singular vectors and singular values of all columns seen so far, each older
// column's weight multiplied by forgetting_factor at every update. The right singular vectors are
// not kept (they grow with every column); update() returns each column's coordinates instead.
//
// U is rotated in place, a block of rows at a time on every core: O(m k^2) flops, where Brand
// keeps U = U0 Up factored to change U0 by a rank-one term in O(m k). For the small ranks this is
// used with, both read and write U once and are bound by memory, and the explicit U is read without
// a product. An update reads U twice: once for the column's coordinates and residual norm together,
// once to rotate it. Every reorthonormalize_every updates U is re-orthonormalized, which keeps it
// orthonormal to single-precision rounding over any number of updates.
#pragma once
#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cleanplate/linalg/common.hpp"
#include "cleanplate/linalg/row_blocks.hpp"

namespace cleanplate::linalg {

struct IncrementalSvdOptions {
  Eigen::Index rank = 1;           // k, the number of components kept
  double forgetting_factor = 1.0;  // in (0, 1]; 1 remembers everything, 0.99 has a memory of ~100 columns
  int reorthonormalize_every = 100;
};

template <typename Scalar>
struct IncrementalSvdStep {
  Vector<Scalar> coefficients;  // U^T x before the update (k, or fewer while the basis is growing)
  Scalar residual_norm = 0;     // ||x - U U^T x||
};

template <typename Scalar>
class IncrementalSvd {
 public:
  IncrementalSvd(const IncrementalSvdOptions& options, Eigen::Index rows) : options_(options), rows_(rows) {
    if (options.rank < 1) throw Error("IncrementalSvd: rank must be at least 1, got " + std::to_string(options.rank));
    if (rows < 1) throw Error("IncrementalSvd: the columns must have at least one row");
    if (!(options.forgetting_factor > 0 && options.forgetting_factor <= 1))
      throw Error("IncrementalSvd: forgetting_factor must be in (0, 1]");
    if (options.reorthonormalize_every < 1) throw Error("IncrementalSvd: reorthonormalize_every must be >= 1");
    u_.resize(rows, 0);
  }

  // Coordinates of x in the current basis, without changing it: (U^T x).
  template <typename Derived>
  Vector<Scalar> project(const Eigen::MatrixBase<Derived>& x) const {
    check(x);
    const Eigen::Ref<const Vector<Scalar>> column = x;  // evaluated once if an expression
    return sum_over_row_blocks(rows_, block_rows,
                               [&](Eigen::Index first, Eigen::Index count) {
                                 return (u_.middleRows(first, count).transpose() * column.segment(first, count)).eval();
                               })
        .template cast<Scalar>();
  }

  // Add one column. Returns its coordinates in the basis as it was, and what the basis missed.
  template <typename Derived>
  IncrementalSvdStep<Scalar> update(const Eigen::MatrixBase<Derived>& x) {
    check(x);
    const Eigen::Index k = s_.size();
    IncrementalSvdStep<Scalar> step;
    const Eigen::Ref<const Vector<Scalar>> column = x;  // evaluated once if an expression
    // The residual r = x - U c is not stored: it is recomputed, a block at a time, where it is used.
    // Products with k x 1 or k x k factors are lazy: for small k, GEMV's and GEMM's calls, packing and
    // zeroing of the result cost more than the arithmetic.
    const auto residual_from = [&](const Vector<Scalar>& coefficients, Eigen::Index first, Eigen::Index count) {
      return (column.segment(first, count) - u_.middleRows(first, count).lazyProduct(coefficients)).eval();
    };
    // c = U^T x and ||r|| from one pass over U and x, by sums over d = x - U c0, where c0 are the
    // coordinates of the column before: consecutive columns are alike (video frames), so d is small
    // and little cancels. With G = U^T U and c = c0 + delta, delta = U^T d + (G - I) c0:
    //   ||r||^2 = d^T d - 2 delta^T U^T d + delta^T G delta.
    // The sums carry a few tens of roundings (eps d^T d each): where ||r||^2 is below 1e5 roundings,
    // so that its relative error could pass about 3e-4, r is summed directly.
    const Vector<Scalar> shift = previous_coefficients_.size() == k ? previous_coefficients_ : Vector<Scalar>::Zero(k);
    const Eigen::MatrixXd sums = sum_over_row_blocks(rows_, block_rows, [&](Eigen::Index first, Eigen::Index count) {
      return gram(u_.middleRows(first, count), residual_from(shift, first, count));
    });
    const Eigen::MatrixXd gram_u = sums.topLeftCorner(k, k);
    const Eigen::VectorXd u_d = sums.topRightCorner(k, 1);
    const double d_d = sums(k, k);
    const Eigen::VectorXd c0 = shift.template cast<double>(), delta = u_d + gram_u * c0 - c0;
    step.coefficients = (c0 + delta).template cast<Scalar>();
    double squared = d_d - 2 * delta.dot(u_d) + delta.dot(gram_u * delta);
    if (squared < 1e5 * std::numeric_limits<Scalar>::epsilon() * d_d)
      squared = sum_over_row_blocks(rows_, block_rows, [&](Eigen::Index first, Eigen::Index count) {
        return Vector<Scalar>::Constant(1, residual_from(step.coefficients, first, count).squaredNorm());
      })(0, 0);
    step.residual_norm = static_cast<Scalar>(std::sqrt(std::max(squared, 0.0)));
    previous_coefficients_ = step.coefficients;
    const auto residual_of = [&](Eigen::Index first, Eigen::Index count) {
      return residual_from(step.coefficients, first, count);
    };

    // K = [f diag(s)  c; 0  p]; its SVD rotates [U, r/p] into the new basis.
    const Scalar f = static_cast<Scalar>(options_.forgetting_factor);
    Matrix<Scalar> kernel = Matrix<Scalar>::Zero(k + 1, k + 1);
    kernel.topLeftCorner(k, k).diagonal() = f * s_;
    kernel.topRightCorner(k, 1) = step.coefficients;
    kernel(k, k) = step.residual_norm;
    Eigen::JacobiSVD<Matrix<Scalar>> svd(kernel, Eigen::ComputeFullU);
    const Matrix<Scalar>& rotation = svd.matrixU();

    // A residual below what rounding leaves is no direction: the projection's sums over the rows
    // round to about eps sqrt(rows) of the scale. Taken as one, its noise would enter U as a vector
    // of neither unit length nor orthogonal to the rest, and the next columns would fit it.
    const Scalar tiny = std::numeric_limits<Scalar>::epsilon() * std::sqrt(static_cast<Scalar>(rows_)) *
                        std::max(s_.size() ? s_(0) : Scalar(0), step.residual_norm);
    const bool new_direction = step.residual_norm > tiny;
    if (k == 0 && !new_direction) {  // a zero column before any other: nothing to learn
      ++updates_;
      return step;
    }
    // The unit residual, or zero where x lies in the span: the extra row of the rotation multiplies nothing.
    const Scalar unit = new_direction ? 1 / step.residual_norm : 0;
    if (k < options_.rank && new_direction) {  // grow: U = [U r] rotation
      Matrix<Scalar> extended(rows_, k + 1);
      extended << u_, residual_of(0, rows_) * unit;
      u_ = extended * rotation;
      s_ = svd.singularValues();
    } else {  // keep rank k: U = U R_top + r R_bottom
      const Matrix<Scalar> top = rotation.topLeftCorner(k, k);
      const Eigen::Matrix<Scalar, 1, Eigen::Dynamic> bottom = unit * rotation.bottomLeftCorner(1, k);
      for_each_row_block(rows_, block_rows, [&](Eigen::Index first, Eigen::Index count) {
        const Vector<Scalar> residual = residual_of(first, count);  // before the block changes
        auto block = u_.middleRows(first, count);
        block = (block.lazyProduct(top) + residual * bottom).eval();
      });
      s_ = svd.singularValues().head(k);
    }
    if (++updates_ % options_.reorthonormalize_every == 0) reorthonormalize();
    return step;
  }

  // Moves the listed rows of U, each by the smallest change, so that U.row(i) * coefficients equals
  // values(i), then restores orthonormality. For a model whose rows must take a new value at once
  // rather than over the forgetting span: a background pixel that has changed for good.
  template <typename Derived>
  void reset_rows(const std::vector<Eigen::Index>& rows, const Vector<Scalar>& coefficients,
                  const Eigen::MatrixBase<Derived>& values) {
    const Eigen::Index k = s_.size();
    if (rows.empty() || k == 0) return;
    if (coefficients.size() != k || values.size() != static_cast<Eigen::Index>(rows.size()))
      throw Error("IncrementalSvd::reset_rows: the coefficients or values do not match");
    const Scalar squared_norm = coefficients.squaredNorm();
    if (!(squared_norm > 0)) return;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const Eigen::Index i = rows[r];
      if (i < 0 || i >= rows_) throw Error("IncrementalSvd::reset_rows: a row is out of range");
      const Scalar miss = values(static_cast<Eigen::Index>(r)) - u_.row(i).dot(coefficients);
      u_.row(i) += (miss / squared_norm) * coefficients.transpose();
    }
    reorthonormalize();
  }

  // From the next update on (a memory that changes over time).
  void set_forgetting_factor(double factor) {
    if (!(factor > 0 && factor <= 1)) throw Error("IncrementalSvd: forgetting_factor must be in (0, 1]");
    options_.forgetting_factor = factor;
  }

  const Matrix<Scalar>& U() const { return u_; }
  const Vector<Scalar>& singular_values() const { return s_; }
  Eigen::Index rank() const { return s_.size(); }
  long long updates() const { return updates_; }

 private:
  template <typename Derived>
  void check(const Eigen::MatrixBase<Derived>& x) const {
    if (x.rows() != rows_ || x.cols() != 1)
      throw Error("IncrementalSvd: expected a column of " + std::to_string(rows_) + " values, got " +
                  std::to_string(x.rows()) + "x" + std::to_string(x.cols()));
  }

  // Restores exact orthonormality: U S = Q (R S), re-diagonalized by a k x k SVD. Q R by Cholesky QR
  // (R^T R = U^T U): two passes over U in parallel blocks, where Householder's QR makes k serial
  // passes and as many more to form Q. Exact to rounding while U is nearly orthonormal, as it is
  // between these calls; Householder's QR when the Gram matrix is not positive definite.
  void reorthonormalize() {
    const Eigen::Index k = s_.size();
    if (k == 0) return;
    const Eigen::LLT<Eigen::MatrixXd> cholesky(
        sum_over_row_blocks(rows_, block_rows, [&](Eigen::Index first, Eigen::Index count) {
          return (u_.middleRows(first, count).transpose() * u_.middleRows(first, count)).eval();
        }));
    Eigen::MatrixXd r = cholesky.matrixU();  // U = Q R
    const bool householder = cholesky.info() != Eigen::Success;
    if (householder) {  // U becomes Q itself
      Eigen::HouseholderQR<Matrix<Scalar>> qr(u_);
      r = qr.matrixQR()
              .topLeftCorner(k, k)
              .template triangularView<Eigen::Upper>()
              .toDenseMatrix()
              .template cast<double>();
      u_ = qr.householderQ() * Matrix<Scalar>::Identity(rows_, k);
    }
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(r * s_.template cast<double>().asDiagonal(), Eigen::ComputeFullU);
    const Matrix<Scalar> transform =  // Q rotated by the SVD's left vectors: U R^-1 W, or Q W
        (householder ? svd.matrixU() : Eigen::MatrixXd(r.triangularView<Eigen::Upper>().solve(svd.matrixU())))
            .template cast<Scalar>();
    for_each_row_block(rows_, block_rows, [&](Eigen::Index first, Eigen::Index count) {
      auto block = u_.middleRows(first, count);
      block = (block * transform).eval();
    });
    s_ = svd.singularValues().template cast<Scalar>();
  }

  // [U d]^T [U d] over a block of rows: in Scalar over runs of 128 rows, each exact to a few
  // roundings, and in double across them.
  static Eigen::MatrixXd gram(const Eigen::Ref<const Matrix<Scalar>>& U, const Vector<Scalar>& d) {
    const Eigen::Index k = U.cols(), rows = d.size();
    Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(k + 1, k + 1);
    for (Eigen::Index first = 0; first < rows; first += 128) {
      const Eigen::Index count = std::min<Eigen::Index>(128, rows - first);
      const auto column = [&](Eigen::Index j) -> Eigen::Ref<const Vector<Scalar>> {
        if (j < k) return U.col(j).segment(first, count);
        return d.segment(first, count);
      };
      for (Eigen::Index i = 0; i <= k; ++i)
        for (Eigen::Index j = 0; j <= i; ++j) sums(i, j) += static_cast<double>(column(i).dot(column(j)));
    }
    return sums.selfadjointView<Eigen::Lower>();
  }

  static constexpr Eigen::Index block_rows = 4096;
  IncrementalSvdOptions options_;
  Eigen::Index rows_;
  Matrix<Scalar> u_;  // rows x k
  Vector<Scalar> s_;
  Vector<Scalar> previous_coefficients_;  // of the last column added: the shift of the next one's sums
  long long updates_ = 0;
};

}  // namespace cleanplate::linalg
