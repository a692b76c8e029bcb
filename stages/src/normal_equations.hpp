// The weighted normal equations of a least-squares fit x ~ P v, accumulated a block of values at a
// time: whole-array sums over contiguous columns vectorize where a loop over values does not.
#pragma once
#include <Eigen/Core>
#include <cmath>
#include <type_traits>

namespace cleanplate::stages::detail {

// Adds P^T W P (lower triangle) to `gram` and P^T W x to `moment`, W = diag(weights); the block's
// sums in its own precision, added in double.
template <typename Factor, typename Values, typename Weights>
void add_normal_equations(const Factor& p, const Values& x, const Weights& weights, Eigen::MatrixXd& gram,
                          Eigen::VectorXd& moment) {
  for (Eigen::Index a = 0; a < p.cols(); ++a) {
    const auto weighted = weights * p.col(a).array();
    moment(a) += static_cast<double>((weighted * x).sum());
    for (Eigen::Index b = 0; b <= a; ++b) gram(a, b) += static_cast<double>((weighted * p.col(b).array()).sum());
  }
}

// 1 where |x - fit| < band, else 0. A plain loop: it vectorizes, where Eigen's cast of a comparison
// does not.
template <typename Weights, typename Values, typename Fit>
void inlier_weights(const Values& x, const Fit& fit, float band, Weights&& weights) {
  using Scalar = typename std::decay_t<Weights>::Scalar;
  for (Eigen::Index i = 0; i < x.size(); ++i) weights[i] = std::abs(x[i] - fit[i]) < band ? Scalar(1) : Scalar(0);
}

constexpr Eigen::Index normal_equations_block = 4096;  // values per block: a few columns stay in L1

}  // namespace cleanplate::stages::detail
