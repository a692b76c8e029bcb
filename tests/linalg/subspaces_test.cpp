#include <gtest/gtest.h>

#include <cleanplate/linalg/subspaces.hpp>

#include "test_matrices.hpp"

namespace cleanplate {
namespace {

TEST(Subspaces, LinearMapSendsBasisVectorsToColumns) {
  Eigen::Matrix2d a;
  a << 1, 1, -1, 2;
  EXPECT_EQ(a * Eigen::Vector2d(1, 0), Eigen::Vector2d(1, -1));  // i-hat lands on the first column
  EXPECT_EQ(a * Eigen::Vector2d(0, 1), Eigen::Vector2d(1, 2));   // j-hat on the second
  EXPECT_NEAR(linalg::determinant(a), 3.0, 1e-14);               // areas scale by 1*2 - 1*(-1)
  EXPECT_DOUBLE_EQ(Eigen::Vector2d(1, 2).dot(Eigen::Vector2d(3, -1)), 1.0);
}

TEST(Subspaces, TallMatrixHasRankTwoAndOneDimensionalLeftNullSpace) {
  Eigen::Matrix<double, 3, 2> a;
  a << 1, 0, 5, 4, 2, 4;
  EXPECT_EQ(linalg::numerical_rank(a), 2);
  const auto f = linalg::fundamental_subspaces(a);
  EXPECT_EQ(f.rank, 2);
  EXPECT_EQ(f.column_space.cols(), 2);
  EXPECT_EQ(f.null_space.cols(), 0);  // the null space is {0}
  EXPECT_EQ(f.row_space.cols(), 2);
  ASSERT_EQ(f.left_null_space.cols(), 1);
  EXPECT_LE((a.transpose() * f.left_null_space).norm(), 1e-14);
  // Four subspaces: column space and left null space are orthogonal complements in R^3.
  EXPECT_LE((f.column_space.transpose() * f.left_null_space).norm(), 1e-14);

  // b is reachable exactly when it lies in the column space.
  const Eigen::Vector3d reachable = a * Eigen::Vector2d(2, -1);
  const auto exact = linalg::least_squares(a, reachable);
  EXPECT_LE((exact.solution - Eigen::Vector2d(2, -1)).norm(), 1e-12);
  EXPECT_NEAR(exact.residual_norm, 0.0, 1e-12);
  EXPECT_EQ(exact.method, linalg::LeastSquaresMethod::qr);

  const Eigen::Vector3d unreachable = reachable + 3 * f.left_null_space.col(0);
  const auto ls = linalg::least_squares(a, unreachable);
  EXPECT_NEAR(ls.residual_norm, 3.0, 1e-12);
  // A x is the projection of b onto the column space.
  EXPECT_LE((a * ls.solution - linalg::project_onto(a, unreachable)).norm(), 1e-12);
  EXPECT_LE((linalg::project_onto_complement(a, unreachable) - 3 * f.left_null_space.col(0)).norm(), 1e-12);
}

TEST(Subspaces, RankDeficientLeastSquaresGivesMinimumNormSolution) {
  Eigen::MatrixXd a(4, 3);
  a << 1, 2, 3, 2, 4, 6, 1, 0, 1, 0, 1, 1;  // column 3 = column 1 + column 2
  Eigen::VectorXd b(4);
  b << 1, 2, 3, 4;
  const auto r = linalg::least_squares(a, b);
  EXPECT_EQ(r.rank, 2);
  EXPECT_EQ(r.method, linalg::LeastSquaresMethod::svd);
  const Eigen::VectorXd reference = a.completeOrthogonalDecomposition().solve(b);  // pseudo-inverse solution
  EXPECT_LE((r.solution - reference).norm(), 1e-12);
  // Minimum norm: orthogonal to the null space.
  const auto f = linalg::fundamental_subspaces(a);
  ASSERT_EQ(f.null_space.cols(), 1);
  EXPECT_LE(std::abs(f.null_space.col(0).dot(r.solution.col(0))), 1e-12);
}

TEST(Subspaces, FundamentalSubspacesOfRandomLowRankMatrix) {
  const Eigen::MatrixXd a = test::with_spectrum<double>(30, 20, Eigen::Vector4d(5, 4, 3, 1e-3), 9);
  const auto f = linalg::fundamental_subspaces(a);
  EXPECT_EQ(f.rank, 4);
  EXPECT_EQ(f.null_space.cols(), 16);
  EXPECT_EQ(f.left_null_space.cols(), 26);
  EXPECT_LE((a * f.null_space).norm(), 1e-12);
  EXPECT_LE((a.transpose() * f.left_null_space).norm(), 1e-12);
  // Projecting A's columns onto its column space changes nothing.
  EXPECT_LE((linalg::project_onto(f.column_space, a) - a).norm(), 1e-12);
  EXPECT_LE(linalg::project_onto_complement(f.column_space, a).norm(), 1e-12);
}

TEST(Subspaces, DeterminantMatchesKnownValues) {
  EXPECT_NEAR(linalg::determinant(Eigen::Matrix3d::Identity() * 2), 8.0, 1e-14);
  Eigen::Matrix3f singular;
  singular << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  EXPECT_NEAR(linalg::determinant(singular), 0.0f, 1e-5f);
}

TEST(Subspaces, BadInputThrows) {
  EXPECT_THROW(linalg::determinant(Eigen::MatrixXd::Ones(2, 3)), Error);
  EXPECT_THROW(linalg::least_squares(Eigen::MatrixXd::Ones(3, 2), Eigen::VectorXd::Ones(4)), Error);
  EXPECT_THROW(linalg::project_onto(Eigen::MatrixXd::Ones(3, 1), Eigen::VectorXd::Ones(2)), Error);
  EXPECT_THROW(linalg::numerical_rank(Eigen::MatrixXd(0, 0)), Error);
  Eigen::MatrixXd inf = Eigen::MatrixXd::Ones(2, 2);
  inf(0, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(linalg::least_squares(inf, Eigen::VectorXd::Ones(2)), Error);
}

}  // namespace
}  // namespace cleanplate
