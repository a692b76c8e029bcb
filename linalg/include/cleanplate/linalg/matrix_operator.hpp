// Matrix operators: what randomized_svd (and anything else that only needs block products) works on.
//
// An operator is any object with rows(), cols(), multiply(X) = A X and adjoint_multiply(Y) = A^T Y
// (Spectra's idea), so a matrix that is dense, lives on disk or is re-decoded from video plugs in
// without touching the algorithm. An operator may also offer multiply_and_adjoint(X), returning
// {A X, A^T (A X)} from one pass over A; algorithms use it when present to halve memory traffic.
// DenseOperator wraps an Eigen matrix and runs those products in parallel with oneTBB.
#pragma once
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <concepts>

#include "cleanplate/linalg/common.hpp"
#include "cleanplate/linalg/detail/skinny_products.hpp"

namespace cleanplate::linalg {

template <typename Scalar>
struct ProductPair {
  Matrix<Scalar> product;          // A X
  Matrix<Scalar> adjoint_product;  // A^T (A X)
};

template <typename Op>
concept MatrixOperator = requires(const Op& op, const Matrix<typename Op::Scalar>& x) {
  typename Op::Scalar;
  { op.rows() } -> std::convertible_to<Eigen::Index>;
  { op.cols() } -> std::convertible_to<Eigen::Index>;
  { op.multiply(x) } -> std::convertible_to<Matrix<typename Op::Scalar>>;
  { op.adjoint_multiply(x) } -> std::convertible_to<Matrix<typename Op::Scalar>>;
};

template <typename Op>
concept FusedMatrixOperator = MatrixOperator<Op> && requires(const Op& op, const Matrix<typename Op::Scalar>& x) {
  { op.multiply_and_adjoint(x) } -> std::convertible_to<ProductPair<typename Op::Scalar>>;
};

// {A X, A^T A X}: one pass when the operator fuses them, two otherwise.
template <MatrixOperator Op>
ProductPair<typename Op::Scalar> multiply_and_adjoint(const Op& op, const Matrix<typename Op::Scalar>& x) {
  if constexpr (FusedMatrixOperator<Op>) {
    return op.multiply_and_adjoint(x);
  } else {
    ProductPair<typename Op::Scalar> pair{op.multiply(x), {}};
    pair.adjoint_product = op.adjoint_multiply(pair.product);
    return pair;
  }
}

// A dense column-major matrix, viewed without a copy. Products run over blocks of rows in parallel;
// a block is sized to stay in cache so the fused product reads each element of A from memory once.
template <typename ScalarType>
class DenseOperator {
 public:
  using Scalar = ScalarType;
  using Ref = Eigen::Ref<const Matrix<Scalar>>;

  // Constructed straight from the matrix: copying an Eigen::Ref that holds a temporary would dangle.
  template <typename Derived>
  explicit DenseOperator(const Eigen::MatrixBase<Derived>& a) : a_(a.derived()) {}
  DenseOperator(const DenseOperator&) = delete;
  DenseOperator& operator=(const DenseOperator&) = delete;

  Eigen::Index rows() const { return a_.rows(); }
  Eigen::Index cols() const { return a_.cols(); }
  const Ref& matrix() const { return a_; }

  Matrix<Scalar> multiply(const Matrix<Scalar>& x) const {
    check_inner(x.rows(), cols(), "multiply");
    Matrix<Scalar> y(rows(), x.cols());
    const Matrix<Scalar> xt = x.transpose();
    for_row_blocks([&](Eigen::Index r0, Eigen::Index n) {
      detail::skinny_product(a_.middleRows(r0, n), xt, y.middleRows(r0, n));
    });
    return y;
  }

  Matrix<Scalar> adjoint_multiply(const Matrix<Scalar>& y) const {
    check_inner(y.rows(), rows(), "adjoint_multiply");
    return sum_over_row_blocks(y.cols(), [&](Eigen::Index r0, Eigen::Index n, Matrix<Scalar>& acc) {
      detail::skinny_adjoint_accumulate(a_.middleRows(r0, n), y.middleRows(r0, n), acc);
    });
  }

  ProductPair<Scalar> multiply_and_adjoint(const Matrix<Scalar>& x) const {
    check_inner(x.rows(), cols(), "multiply_and_adjoint");
    ProductPair<Scalar> out;
    out.product.resize(rows(), x.cols());
    const Matrix<Scalar> xt = x.transpose();
    out.adjoint_product = sum_over_row_blocks(x.cols(), [&](Eigen::Index r0, Eigen::Index n, Matrix<Scalar>& acc) {
      auto block = a_.middleRows(r0, n);
      auto y = out.product.middleRows(r0, n);
      detail::skinny_product(block, xt, y);
      detail::skinny_adjoint_accumulate(block, y, acc);  // block is still in cache
    });
    return out;
  }

 private:
  static void check_inner(Eigen::Index got, Eigen::Index want, const char* what) {
    if (got != want)
      throw Error(std::string("DenseOperator::") + what + ": shapes do not match (" + std::to_string(got) +
                  " rows, expected " + std::to_string(want) + ")");
  }

  // Rows per block: about 1 MiB of A (an L2 cache), a multiple of 16 rows (whole cache lines and SIMD registers).
  Eigen::Index block_rows() const {
    const Eigen::Index target = (1024 * 1024) / (static_cast<Eigen::Index>(sizeof(Scalar)) * std::max<Eigen::Index>(cols(), 1));
    return std::clamp<Eigen::Index>(target / 16 * 16, 16, 8192);
  }

  template <typename Body>
  void for_row_blocks(Body&& body) const {
    const Eigen::Index block = block_rows();
    const Eigen::Index blocks = (rows() + block - 1) / block;
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<Eigen::Index>(0, blocks), [&](const auto& range) {
      for (Eigen::Index b = range.begin(); b != range.end(); ++b) {
        const Eigen::Index r0 = b * block;
        body(r0, std::min(block, rows() - r0));
      }
    });
  }

  // Each thread accumulates a cols() x width partial sum; the partials are added at the end.
  template <typename Body>
  Matrix<Scalar> sum_over_row_blocks(Eigen::Index width, Body&& body) const {
    oneapi::tbb::enumerable_thread_specific<Matrix<Scalar>> partial(
        [&] { return Matrix<Scalar>::Zero(cols(), width).eval(); });
    for_row_blocks([&](Eigen::Index r0, Eigen::Index n) { body(r0, n, partial.local()); });
    Matrix<Scalar> total = Matrix<Scalar>::Zero(cols(), width);
    for (const auto& p : partial) total += p;
    return total;
  }

  Ref a_;
};

}  // namespace cleanplate::linalg
