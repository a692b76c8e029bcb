// GoDec: recovery of known low-rank + sparse parts at the right rank and cardinality, noise
// reported as the residual, bad input.
#include <gtest/gtest.h>

#include <cleanplate/linalg/godec.hpp>
#include <random>

namespace cleanplate::linalg {
namespace {

// L0 = X Y^T (Gaussian factors) plus exactly `count` corruptions of magnitude 5..20 at random places.
struct Problem {
  Eigen::MatrixXd low, sparse;
};
Problem make_problem(Eigen::Index m, Eigen::Index n, Eigen::Index rank, Eigen::Index count, std::uint64_t seed) {
  Problem p{
      detail::gaussian_matrix<double>(m, rank, seed) * detail::gaussian_matrix<double>(n, rank, seed + 1).transpose(),
      Eigen::MatrixXd::Zero(m, n)};
  std::mt19937_64 engine(seed + 2);
  std::uniform_int_distribution<Eigen::Index> place(0, m * n - 1);
  std::uniform_real_distribution<double> magnitude(5, 20), coin(0, 1);
  for (Eigen::Index placed = 0; placed < count;) {
    double& entry = p.sparse.data()[place(engine)];
    if (entry != 0) continue;
    entry = (coin(engine) < 0.5 ? -1 : 1) * magnitude(engine);
    ++placed;
  }
  return p;
}

TEST(GoDec, RecoversLowRankAndSparseParts) {
  const Problem p = make_problem(300, 200, 4, 3000, 31);  // 5% of the entries
  const auto r = godec(Eigen::MatrixXd(p.low + p.sparse), {.rank = 4, .sparse_fraction = 0.05});
  EXPECT_TRUE(r.converged);
  EXPECT_LT(r.iterations, 100);
  EXPECT_LE((reconstruct(r.low_rank) - p.low).norm() / p.low.norm(), 1e-4);
  EXPECT_EQ(((Eigen::MatrixXd(r.sparse).array() != 0) != (p.sparse.array() != 0)).count(), 0);
  EXPECT_LE(r.relative_residual, 1e-4);
}

TEST(GoDec, ResidualIsTheDenseNoise) {
  const Problem p = make_problem(200, 150, 2, 600, 41);  // 2%
  const Eigen::MatrixXd noise = 0.01 * detail::gaussian_matrix<double>(200, 150, 43);
  const Eigen::MatrixXd d = p.low + p.sparse + noise;
  const auto r = godec(d, {.rank = 2, .sparse_fraction = 0.02});
  EXPECT_TRUE(r.converged);
  // L + S explains everything but the noise: the residual is about ||G|| (a little less, since
  // L and S absorb some of it), and L is within a few noise levels of L0.
  const double noise_share = noise.norm() / d.norm();
  EXPECT_LE(r.relative_residual, 1.01 * noise_share);
  EXPECT_GE(r.relative_residual, 0.8 * noise_share);
  EXPECT_LE((reconstruct(r.low_rank) - p.low).norm(), 3 * noise.norm());
}

TEST(GoDec, ZeroCardinalityIsTruncatedSvd) {
  const Problem p = make_problem(60, 40, 3, 0, 5);
  const auto r = godec(p.low, {.rank = 3, .sparse_fraction = 0});
  EXPECT_EQ(r.sparse.norm(), 0);
  EXPECT_LE((reconstruct(r.low_rank) - p.low).norm() / p.low.norm(), 1e-10);
}

TEST(GoDec, BadInputThrows) {
  const Eigen::MatrixXd ones = Eigen::MatrixXd::Ones(5, 5);
  EXPECT_THROW(godec(Eigen::MatrixXd(0, 5)), Error);
  EXPECT_THROW(godec(ones, {.rank = 0}), Error);
  EXPECT_THROW(godec(ones, {.sparse_fraction = 1.0}), Error);
  EXPECT_THROW(godec(ones, {.max_iterations = 0}), Error);
  Eigen::MatrixXd inf = ones;
  inf(0, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(godec(inf), Error);
}

}  // namespace
}  // namespace cleanplate::linalg
