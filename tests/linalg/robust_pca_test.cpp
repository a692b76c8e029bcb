// Robust PCA: recovery of known low-rank + sparse parts, convergence reporting, bad input.
#include <gtest/gtest.h>

#include <cleanplate/linalg/robust_pca.hpp>
#include <random>

namespace cleanplate::linalg {
namespace {

template <typename Scalar>
struct LowRankPlusSparse {
  Matrix<Scalar> low, sparse;
};

// L0 = X Y^T with Gaussian factors; S0 with a fraction of entries of random sign and magnitude in
// [1, 10] (gross corruptions, the setting where principal component pursuit recovers both exactly).
template <typename Scalar>
LowRankPlusSparse<Scalar> make_problem(Eigen::Index m, Eigen::Index n, Eigen::Index rank, double density,
                                       std::uint64_t seed) {
  const Eigen::MatrixXd x = detail::gaussian_matrix<double>(m, rank, seed),
                        y = detail::gaussian_matrix<double>(n, rank, seed + 1);
  Eigen::MatrixXd sparse = Eigen::MatrixXd::Zero(m, n);
  std::mt19937_64 engine(seed + 2);
  std::uniform_real_distribution<double> coin(0, 1), magnitude(1, 10);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < m; ++i)
      if (coin(engine) < density) sparse(i, j) = (coin(engine) < 0.5 ? -1 : 1) * magnitude(engine);
  return {(x * y.transpose()).cast<Scalar>(), sparse.cast<Scalar>()};
}

template <typename Scalar>
long support_mismatches(const Matrix<Scalar>& found, const Matrix<Scalar>& truth, Scalar level) {
  return ((found.array().abs() > level) != (truth.array() != 0)).count();
}

TEST(RobustPca, RecoversLowRankAndSparsePartsInDouble) {
  const auto problem = make_problem<double>(300, 200, 5, 0.05, 11);
  const auto r = robust_pca(Eigen::MatrixXd(problem.low + problem.sparse));
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.relative_residual, 1e-7);
  EXPECT_LT(r.iterations, 100);
  EXPECT_EQ(r.low_rank.rank(), 5);
  EXPECT_LE((reconstruct(r.low_rank) - problem.low).norm() / problem.low.norm(), 1e-5);
  EXPECT_LE((r.sparse - problem.sparse).norm() / problem.sparse.norm(), 1e-5);
  EXPECT_EQ(support_mismatches<double>(r.sparse, problem.sparse, 1e-3), 0);
}

TEST(RobustPca, RecoversLowRankAndSparsePartsInFloat) {
  const auto problem = make_problem<float>(400, 150, 3, 0.08, 23);
  const auto r = robust_pca(Eigen::MatrixXf(problem.low + problem.sparse));
  EXPECT_TRUE(r.converged);
  EXPECT_LE((reconstruct(r.low_rank) - problem.low).norm() / problem.low.norm(), 1e-3);
  EXPECT_LE(support_mismatches<float>(r.sparse, problem.sparse, 0.05f), 0);
}

TEST(RobustPca, LowRankInputHasNoSparsePart) {
  const auto problem = make_problem<double>(120, 80, 4, 0.0, 5);
  const auto r = robust_pca(problem.low);
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.sparse.cwiseAbs().maxCoeff(), 1e-6 * problem.low.cwiseAbs().maxCoeff());
  EXPECT_LE((reconstruct(r.low_rank) - problem.low).norm() / problem.low.norm(), 1e-6);
}

TEST(RobustPca, RankBoundThatFitsChangesNothingAndIsRespected) {
  const auto fits = make_problem<double>(200, 120, 2, 0.05, 17);
  const auto r = robust_pca(Eigen::MatrixXd(fits.low + fits.sparse), {.max_rank = 2});
  EXPECT_TRUE(r.converged);
  EXPECT_LE((reconstruct(r.low_rank) - fits.low).norm() / fits.low.norm(), 1e-5);
  const auto larger = make_problem<double>(200, 120, 4, 0.05, 19);
  EXPECT_LE(
      robust_pca(Eigen::MatrixXd(larger.low + larger.sparse), {.max_iterations = 50, .max_rank = 1}).low_rank.rank(),
      1);
}

TEST(RobustPca, ZeroMatrixIsZeroPlusZero) {
  const auto r = robust_pca(Eigen::MatrixXd::Zero(10, 7));
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_EQ(r.low_rank.rank(), 0);
  EXPECT_EQ(r.sparse.norm(), 0);
}

TEST(RobustPca, ReportsWhenItStopsBeforeConverging) {
  const auto problem = make_problem<double>(100, 60, 3, 0.05, 7);
  const auto r = robust_pca(Eigen::MatrixXd(problem.low + problem.sparse), {.max_iterations = 3});
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.iterations, 3);
  EXPECT_GT(r.relative_residual, 1e-7);
}

TEST(RobustPca, IsReproducible) {
  const auto problem = make_problem<double>(80, 50, 2, 0.05, 3);
  const Eigen::MatrixXd d = problem.low + problem.sparse;
  EXPECT_EQ((robust_pca(d).sparse - robust_pca(d).sparse).norm(), 0);
}

TEST(RobustPca, BadInputThrows) {
  EXPECT_THROW(robust_pca(Eigen::MatrixXd(0, 3)), Error);
  Eigen::MatrixXd nan = Eigen::MatrixXd::Ones(4, 4);
  nan(1, 2) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(robust_pca(nan), Error);
  const Eigen::MatrixXd ones = Eigen::MatrixXd::Ones(4, 4);
  EXPECT_THROW(robust_pca(ones, {.lambda = -1}), Error);
  EXPECT_THROW(robust_pca(ones, {.max_iterations = 0}), Error);
  EXPECT_THROW(robust_pca(ones, {.penalty_growth = 1}), Error);
}

}  // namespace
}  // namespace cleanplate::linalg
