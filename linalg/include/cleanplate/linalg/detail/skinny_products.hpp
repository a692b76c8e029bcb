// Register-blocked kernels for a tall block of A times a skinny matrix (a few to a few dozen
// columns), the shape of every product in a randomized SVD. General GEMM packs A and is tuned for
// square-ish shapes; here each element of A is loaded once into a register and used for all
// columns of the skinny side. Written on Eigen's packet layer, so they follow its SIMD width.
#pragma once
#include <Eigen/Core>
#include <array>
#include <utility>

namespace cleanplate::linalg::detail {

constexpr int skinny_group = 12;  // columns per kernel call: 2 x 12 accumulators fit 32 vector registers
// Beyond this many columns the skinny side is no longer skinny: Eigen's blocked GEMM, which packs
// both sides, beats re-reading the block once per group of 12 (robust PCA's sketches reach hundreds).
constexpr Eigen::Index skinny_limit = 48;

// y(0:rows, 0:G) (+)= A(0:rows, 0:n) Z(0:n, 0:G).  A column-major (stride lda), zt = Z^T column-major
// (stride ldzt, so a row of Z is contiguous), y column-major (stride ldy); `accumulate` adds to y.
template <typename Scalar, int G>
Eigen::Index product_kernel(const Scalar* a, Eigen::Index lda, Eigen::Index rows, Eigen::Index n, const Scalar* zt,
                            Eigen::Index ldzt, Scalar* y, Eigen::Index ldy, bool accumulate) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Eigen::Index width = packet_traits<Scalar>::size;
  Eigen::Index i = 0;
  for (; i + 2 * width <= rows; i += 2 * width) {
    Packet top[G], bottom[G];
    for (int c = 0; c < G; ++c) top[c] = bottom[c] = pset1<Packet>(Scalar(0));
    for (Eigen::Index j = 0; j < n; ++j) {
      const Scalar* column = a + j * lda + i;
      const Packet a0 = ploadu<Packet>(column), a1 = ploadu<Packet>(column + width);
      const Scalar* z = zt + j * ldzt;
      for (int c = 0; c < G; ++c) {
        const Packet zc = pset1<Packet>(z[c]);
        top[c] = pmadd(a0, zc, top[c]);
        bottom[c] = pmadd(a1, zc, bottom[c]);
      }
    }
    for (int c = 0; c < G; ++c) {
      Scalar* out = y + c * ldy + i;
      if (accumulate) {
        top[c] = padd(ploadu<Packet>(out), top[c]);
        bottom[c] = padd(ploadu<Packet>(out + width), bottom[c]);
      }
      pstoreu(out, top[c]);
      pstoreu(out + width, bottom[c]);
    }
  }
  return i;  // rows done; the caller finishes the tail
}

// w(j, 0:G) += sum_i A(i, j) y(i, 0:G) for j < n, over rows 0:rows (w column-major, stride ldw).
template <typename Scalar, int G>
Eigen::Index adjoint_kernel(const Scalar* a, Eigen::Index lda, Eigen::Index rows, Eigen::Index n, const Scalar* y,
                            Eigen::Index ldy, Scalar* w, Eigen::Index ldw) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Eigen::Index width = packet_traits<Scalar>::size;
  const Eigen::Index full_rows = rows / width * width;
  Eigen::Index j = 0;
  for (; j + 2 <= n; j += 2) {
    Packet left[G], right[G];
    for (int c = 0; c < G; ++c) left[c] = right[c] = pset1<Packet>(Scalar(0));
    const Scalar* column0 = a + j * lda;
    const Scalar* column1 = column0 + lda;
    for (Eigen::Index i = 0; i < full_rows; i += width) {
      const Packet a0 = ploadu<Packet>(column0 + i), a1 = ploadu<Packet>(column1 + i);
      for (int c = 0; c < G; ++c) {
        const Packet yc = ploadu<Packet>(y + c * ldy + i);
        left[c] = pmadd(a0, yc, left[c]);
        right[c] = pmadd(a1, yc, right[c]);
      }
    }
    for (int c = 0; c < G; ++c) {
      w[j + c * ldw] += predux(left[c]);
      w[j + 1 + c * ldw] += predux(right[c]);
    }
  }
  for (; j < n; ++j)  // odd last column
    for (int c = 0; c < G; ++c) {
      Scalar sum = 0;
      for (Eigen::Index i = 0; i < full_rows; ++i) sum += a[j * lda + i] * y[c * ldy + i];
      w[j + c * ldw] += sum;
    }
  return full_rows;
}

template <typename Scalar>
using ProductKernel = Eigen::Index (*)(const Scalar*, Eigen::Index, Eigen::Index, Eigen::Index, const Scalar*,
                                       Eigen::Index, Scalar*, Eigen::Index, bool);

// Kernels for 1..skinny_group columns, so a group of any width runs with its accumulators in registers.
template <typename Scalar, template <typename, int> class Kernel>
constexpr auto kernel_table() {
  return []<int... G>(std::integer_sequence<int, G...>) {
    return std::array<ProductKernel<Scalar>, sizeof...(G)>{&Kernel<Scalar, G + 1>::run...};
  }
  (std::make_integer_sequence<int, skinny_group>{});
}

template <typename Scalar, int G>
struct ProductKernelOf {
  static Eigen::Index run(const Scalar* a, Eigen::Index lda, Eigen::Index rows, Eigen::Index n, const Scalar* zt,
                          Eigen::Index ldzt, Scalar* y, Eigen::Index ldy, bool accumulate) {
    return product_kernel<Scalar, G>(a, lda, rows, n, zt, ldzt, y, ldy, accumulate);
  }
};
template <typename Scalar, int G>
struct AdjointKernelOf {
  static Eigen::Index run(const Scalar* a, Eigen::Index lda, Eigen::Index rows, Eigen::Index n, const Scalar* y,
                          Eigen::Index ldy, Scalar* w, Eigen::Index ldw, bool) {
    return adjoint_kernel<Scalar, G>(a, lda, rows, n, y, ldy, w, ldw);
  }
};

// Y (+)= A_block Z for a block of A. zt = Z^T (l x n, a matrix or a block of one); y: rows x l.
template <typename ABlock, typename ZtBlock, typename YBlock>
void skinny_product(const ABlock& a, const ZtBlock& zt, YBlock&& y, bool accumulate = false) {
  using Scalar = typename ABlock::Scalar;
  static constexpr auto kernels = kernel_table<Scalar, ProductKernelOf>();
  const Eigen::Index l = zt.rows(), rows = a.rows(), n = a.cols();
  Eigen::Index done = 0;  // rows the kernels did; Eigen does the rest (all of them past skinny_limit)
  for (Eigen::Index c0 = 0; l <= skinny_limit && c0 < l; c0 += skinny_group) {
    const Eigen::Index g = std::min<Eigen::Index>(skinny_group, l - c0);
    done = kernels[g - 1](a.data(), a.outerStride(), rows, n, zt.data() + c0, zt.outerStride(),
                          y.data() + c0 * y.outerStride(), y.outerStride(), accumulate);
  }
  if (done == rows) return;
  if (accumulate)
    y.bottomRows(rows - done).noalias() += a.bottomRows(rows - done) * zt.transpose();
  else
    y.bottomRows(rows - done).noalias() = a.bottomRows(rows - done) * zt.transpose();
}

// W += A_block^T Y_block (w: a.cols() x l, a matrix or a block of one).
template <typename ABlock, typename YBlock, typename WBlock>
void skinny_adjoint_accumulate(const ABlock& a, const YBlock& y, WBlock&& w) {
  using Scalar = typename ABlock::Scalar;
  static constexpr auto kernels = kernel_table<Scalar, AdjointKernelOf>();
  const Eigen::Index l = y.cols(), rows = a.rows(), n = a.cols();
  if (l > skinny_limit) {
    w.noalias() += a.transpose() * y;
    return;
  }
  Eigen::Index done = rows;
  for (Eigen::Index c0 = 0; c0 < l; c0 += skinny_group) {
    const Eigen::Index g = std::min<Eigen::Index>(skinny_group, l - c0);
    done = kernels[g - 1](a.data(), a.outerStride(), rows, n, y.data() + c0 * y.outerStride(), y.outerStride(),
                          w.data() + c0 * w.outerStride(), w.outerStride(), false);
  }
  if (done < rows) w.noalias() += a.bottomRows(rows - done).transpose() * y.bottomRows(rows - done);
}

}  // namespace cleanplate::linalg::detail
