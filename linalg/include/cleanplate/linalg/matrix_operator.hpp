// Matrix operators: what randomized_svd (and anything else that only needs block products) works on.
//
// An operator is any object with rows(), cols(), multiply(X) = A X and adjoint_multiply(Y) = A^T Y
// (Spectra's idea), so a matrix that is dense, lives on disk or is re-decoded from video plugs in
// without touching the algorithm. An operator may also offer multiply_and_adjoint(X), returning
// {A X, A^T (A X)} from one pass over A; algorithms use it when present to halve memory traffic.
// DenseOperator wraps an Eigen matrix (of the products' type, or of 8-bit values scaled on the fly)
// and runs those products in parallel with oneTBB; GeneratedRowsOperator does the same for a matrix
// made a block of rows at a time.
#pragma once
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <concepts>
#include <type_traits>
#include <utility>
#include <vector>

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

namespace detail {

// Runs body(first, count) over [0, total) in blocks of `block`, in parallel.
template <typename Body>
void for_blocks(Eigen::Index total, Eigen::Index block, Body&& body) {
  const Eigen::Index blocks = (total + block - 1) / block;
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<Eigen::Index>(0, blocks), [&](const auto& range) {
    for (Eigen::Index b = range.begin(); b != range.end(); ++b) body(b * block, std::min(block, total - b * block));
  });
}

// for_blocks where each run of consecutive blocks adds into its own rows x width sum (body(first,
// count, sum)), the sums added in order at the end: the same result on every run, whichever thread
// took which blocks (per-thread sums made the fits, and so the masks, differ in the last bits).
template <typename Scalar, typename Body>
Matrix<Scalar> sum_over_blocks(Eigen::Index total, Eigen::Index block, Eigen::Index rows, Eigen::Index width,
                               Body&& body) {
  constexpr Eigen::Index most_runs = 64;  // enough to balance many cores; few sums to keep
  const Eigen::Index blocks = (total + block - 1) / block, runs = std::clamp<Eigen::Index>(blocks, 1, most_runs);
  std::vector<Matrix<Scalar>> partial(static_cast<std::size_t>(runs), Matrix<Scalar>::Zero(rows, width));
  oneapi::tbb::parallel_for(Eigen::Index{0}, runs, [&](Eigen::Index run) {
    for (Eigen::Index b = run * blocks / runs; b < (run + 1) * blocks / runs; ++b)
      body(b * block, std::min(block, total - b * block), partial[static_cast<std::size_t>(run)]);
  });
  Matrix<Scalar> sum = Matrix<Scalar>::Zero(rows, width);
  for (const auto& p : partial) sum += p;
  return sum;
}

inline void check_inner(Eigen::Index got, Eigen::Index want, const char* what) {
  if (got != want)
    throw Error(std::string(what) + ": shapes do not match (" + std::to_string(got) + " rows, expected " +
                std::to_string(want) + ")");
}

// Rows or columns per block: about 1 MiB of A (an L2 cache), a multiple of 16 (whole cache lines
// and SIMD registers), given the bytes of one row or column.
inline Eigen::Index block_size(Eigen::Index bytes_each) {
  const Eigen::Index target = (1024 * 1024) / std::max<Eigen::Index>(bytes_each, 1);
  return std::clamp<Eigen::Index>(target / 16 * 16, 16, 8192);
}

}  // namespace detail

namespace detail {

// The products of an operator that hands out its rows a block at a time: Derived::with_rows(r0, n,
// body) calls body with rows r0 .. r0 + n as a Scalar matrix, Derived::block() gives the rows per
// block. Blocks run in parallel and are sized to stay in cache, so the fused product reads each
// element of A from memory once.
template <typename Derived, typename ScalarType>
class RowBlockProducts {
 public:
  using Scalar = ScalarType;

  Matrix<Scalar> multiply(const Matrix<Scalar>& x) const {
    check_inner(x.rows(), self().cols(), "multiply");
    Matrix<Scalar> y(self().rows(), x.cols());
    const Matrix<Scalar> xt = x.transpose();
    for_blocks(self().rows(), self().block(), [&](Eigen::Index r0, Eigen::Index n) {
      self().with_rows(r0, n, [&](const auto& rows_block) { skinny_product(rows_block, xt, y.middleRows(r0, n)); });
    });
    return y;
  }

  Matrix<Scalar> adjoint_multiply(const Matrix<Scalar>& y) const {
    check_inner(y.rows(), self().rows(), "adjoint_multiply");
    return sum_over_blocks<Scalar>(self().rows(), self().block(), self().cols(), y.cols(),
                                   [&](Eigen::Index r0, Eigen::Index n, Matrix<Scalar>& sum) {
                                     self().with_rows(r0, n, [&](const auto& rows_block) {
                                       skinny_adjoint_accumulate(rows_block, y.middleRows(r0, n), sum);
                                     });
                                   });
  }

  ProductPair<Scalar> multiply_and_adjoint(const Matrix<Scalar>& x) const {
    check_inner(x.rows(), self().cols(), "multiply_and_adjoint");
    ProductPair<Scalar> out;
    out.product.resize(self().rows(), x.cols());
    const Matrix<Scalar> xt = x.transpose();
    out.adjoint_product =
        sum_over_blocks<Scalar>(self().rows(), self().block(), self().cols(), x.cols(),
                                [&](Eigen::Index r0, Eigen::Index n, Matrix<Scalar>& sum) {
                                  self().with_rows(r0, n, [&](const auto& rows_block) {
                                    auto y = out.product.middleRows(r0, n);
                                    skinny_product(rows_block, xt, y);
                                    skinny_adjoint_accumulate(rows_block, y, sum);  // the block is still in cache
                                  });
                                });
    return out;
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace detail

// A dense column-major matrix, viewed without a copy. Products run over blocks of rows in parallel.
// Best for tall matrices: a row of a wide one is a long strided read (TransposedDenseOperator).
//
// The matrix may be stored in another type than the products' (StoredType, such as the 8-bit
// levels of video frames): it then stands for `scale` x its values, and each block is converted
// to Scalar while in cache, so memory traffic is that of the stored type.
template <typename ScalarType, typename StoredType = ScalarType>
class DenseOperator : public detail::RowBlockProducts<DenseOperator<ScalarType, StoredType>, ScalarType> {
 public:
  using Scalar = ScalarType;
  using Ref = Eigen::Ref<const Matrix<StoredType>>;

  // Constructed straight from the matrix: copying an Eigen::Ref that holds a temporary would dangle.
  template <typename Derived>
  explicit DenseOperator(const Eigen::MatrixBase<Derived>& a, Scalar scale = Scalar(1))
      : a_(a.derived()), scale_(scale) {
    static_assert(std::is_same_v<StoredType, Scalar> || !std::is_floating_point_v<StoredType>,
                  "store floats as the products' type");
  }
  DenseOperator(const DenseOperator&) = delete;
  DenseOperator& operator=(const DenseOperator&) = delete;

  Eigen::Index rows() const { return a_.rows(); }
  Eigen::Index cols() const { return a_.cols(); }
  const Ref& matrix() const { return a_; }

  // Rows r0 .. r0 + n of A as Scalar: a view, or a converted copy of the block.
  template <typename Body>
  void with_rows(Eigen::Index r0, Eigen::Index n, Body&& body) const {
    if constexpr (converts) {
      const Matrix<Scalar> converted = a_.middleRows(r0, n).template cast<Scalar>() * scale_;
      body(converted);
    } else {
      body(a_.middleRows(r0, n));
    }
  }

  // A converted block is held as Scalar too, so its size counts.
  Eigen::Index block() const {
    return detail::block_size(static_cast<Eigen::Index>(sizeof(Scalar) + (converts ? sizeof(StoredType) : 0)) * cols());
  }

 private:
  static constexpr bool converts = !std::is_same_v<StoredType, Scalar>;

  Ref a_;
  Scalar scale_;
};

// A matrix that is never held whole: make_rows(r0, n) returns rows r0 .. r0 + n (an n x cols
// Matrix<Scalar>), made while a block is in cache, such as frames with their outliers replaced
// (the robust fit's start), which as a copy would take a gigabyte at 1080p.
template <typename ScalarType, typename MakeRows>
class GeneratedRowsOperator : public detail::RowBlockProducts<GeneratedRowsOperator<ScalarType, MakeRows>, ScalarType> {
 public:
  using Scalar = ScalarType;

  GeneratedRowsOperator(Eigen::Index rows, Eigen::Index cols, MakeRows make_rows)
      : rows_(rows), cols_(cols), make_rows_(std::move(make_rows)) {}

  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }

  template <typename Body>
  void with_rows(Eigen::Index r0, Eigen::Index n, Body&& body) const {
    const Matrix<Scalar> block_rows = make_rows_(r0, n);
    body(block_rows);
  }
  Eigen::Index block() const { return detail::block_size(static_cast<Eigen::Index>(sizeof(Scalar)) * cols_); }

 private:
  Eigen::Index rows_, cols_;
  MakeRows make_rows_;
};

// A^T for a dense column-major A, viewed without a copy: a block of A^T's rows is a block of A's
// columns, contiguous in memory. randomized_svd runs on it for a wide A (more columns than rows, such
// as frames x pixels stored as numpy's C order): 3-4x faster there than DenseOperator's strided rows.
template <typename ScalarType>
class TransposedDenseOperator {
 public:
  using Scalar = ScalarType;
  using Ref = Eigen::Ref<const Matrix<Scalar>>;

  template <typename Derived>
  explicit TransposedDenseOperator(const Eigen::MatrixBase<Derived>& a) : a_(a.derived()) {}
  TransposedDenseOperator(const TransposedDenseOperator&) = delete;
  TransposedDenseOperator& operator=(const TransposedDenseOperator&) = delete;

  Eigen::Index rows() const { return a_.cols(); }
  Eigen::Index cols() const { return a_.rows(); }

  Matrix<Scalar> multiply(const Matrix<Scalar>& x) const {  // A^T X, a block of its rows per block of A's columns
    detail::check_inner(x.rows(), cols(), "TransposedDenseOperator::multiply");
    Matrix<Scalar> y = Matrix<Scalar>::Zero(rows(), x.cols());
    detail::for_blocks(rows(), block(), [&](Eigen::Index c0, Eigen::Index n) {
      detail::skinny_adjoint_accumulate(a_.middleCols(c0, n), x, y.middleRows(c0, n));
    });
    return y;
  }

  Matrix<Scalar> adjoint_multiply(const Matrix<Scalar>& y) const {  // A Y, summed over blocks of A's columns
    detail::check_inner(y.rows(), rows(), "TransposedDenseOperator::adjoint_multiply");
    const Matrix<Scalar> yt = y.transpose();
    return detail::sum_over_blocks<Scalar>(
        rows(), block(), cols(), y.cols(), [&](Eigen::Index c0, Eigen::Index n, Matrix<Scalar>& sum) {
          detail::skinny_product(a_.middleCols(c0, n), yt.middleCols(c0, n), sum, true);
        });
  }

  ProductPair<Scalar> multiply_and_adjoint(const Matrix<Scalar>& x) const {
    detail::check_inner(x.rows(), cols(), "TransposedDenseOperator::multiply_and_adjoint");
    ProductPair<Scalar> out;
    out.product = Matrix<Scalar>::Zero(rows(), x.cols());
    out.adjoint_product = detail::sum_over_blocks<Scalar>(
        rows(), block(), cols(), x.cols(), [&](Eigen::Index c0, Eigen::Index n, Matrix<Scalar>& sum) {
          auto columns = a_.middleCols(c0, n);
          auto y = out.product.middleRows(c0, n);
          detail::skinny_adjoint_accumulate(columns, x, y);
          const Matrix<Scalar> yt = y.transpose();
          detail::skinny_product(columns, yt, sum, true);  // the block is still in cache
        });
    return out;
  }

 private:
  Eigen::Index block() const { return detail::block_size(static_cast<Eigen::Index>(sizeof(Scalar)) * cols()); }

  Ref a_;
};

}  // namespace cleanplate::linalg
