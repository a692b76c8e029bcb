#include <gtest/gtest.h>

#include <cleanplate/linalg/incremental_svd.hpp>

#include "test_matrices.hpp"

namespace cleanplate {
namespace {

using linalg::IncrementalSvd;

TEST(IncrementalSvd, WithoutForgettingMatchesBatchSvd) {
  // 200 rows: one block of the parallel passes; 10,001: three, the last one short. Reorthonormalized
  // every 7 updates, so that the Cholesky QR runs too.
  for (const Eigen::Index rows : {200, 10001}) {
    const Eigen::MatrixXd a = test::with_spectrum<double>(rows, 60, Eigen::Vector3d(10, 5, 2), 4);
    IncrementalSvd<double> incremental({.rank = 3, .reorthonormalize_every = 7}, rows);
    for (Eigen::Index j = 0; j < a.cols(); ++j) incremental.update(a.col(j));
    const auto exact = linalg::truncated_svd(a, 3);
    EXPECT_LE((incremental.singular_values() - exact.singular_values).norm(), 1e-10) << rows;
    const Eigen::MatrixXd u = incremental.U();
    EXPECT_LE((u * u.transpose() - exact.U * exact.U.transpose()).norm(), 1e-10) << rows;
  }
}

TEST(IncrementalSvd, TruncatedUpdatesTrackTheDominantSubspace) {
  // Rank 2 signal plus small noise; keep rank 2: the basis converges to the signal's subspace.
  const Eigen::MatrixXd signal = test::with_spectrum<double>(300, 400, Eigen::Vector2d(40, 20), 6);
  const Eigen::MatrixXd noise = 1e-3 * linalg::detail::gaussian_matrix<double>(300, 400, 7);
  IncrementalSvd<double> incremental({.rank = 2}, 300);
  for (Eigen::Index j = 0; j < 400; ++j) incremental.update((signal + noise).col(j));
  const auto exact = linalg::truncated_svd(signal, 2);
  const Eigen::MatrixXd u = incremental.U();
  EXPECT_LE((u * u.transpose() - exact.U * exact.U.transpose()).norm(), 1e-2);
}

TEST(IncrementalSvd, ForgettingFollowsAChangedBackground) {
  const Eigen::VectorXd first = Eigen::VectorXd::LinSpaced(100, 0, 1).normalized();
  const Eigen::VectorXd second = Eigen::VectorXd::LinSpaced(100, 1, -1).normalized();
  IncrementalSvd<double> incremental({.rank = 1, .forgetting_factor = 0.9}, 100);
  for (int i = 0; i < 50; ++i) incremental.update(first);
  EXPECT_NEAR(std::abs(incremental.U().col(0).dot(first)), 1.0, 1e-12);
  for (int i = 0; i < 200; ++i) incremental.update(second);
  EXPECT_NEAR(std::abs(incremental.U().col(0).dot(second)), 1.0, 1e-6);
}

TEST(IncrementalSvd, StepReportsCoefficientsAndResidual) {
  IncrementalSvd<double> incremental({.rank = 1}, 3);
  incremental.update(Eigen::Vector3d(1, 0, 0));
  const auto step = incremental.update(Eigen::Vector3d(2, 0, 5));
  ASSERT_EQ(step.coefficients.size(), 1);
  EXPECT_NEAR(std::abs(step.coefficients(0)), 2.0, 1e-14);
  EXPECT_NEAR(step.residual_norm, 5.0, 1e-14);
}

// A column x = U c in the span, with a few rows given new values: after reset_rows the basis spans
// the changed column exactly (the smallest change of those rows of U meets the values at c), stays
// orthonormal, and barely moves elsewhere.
TEST(IncrementalSvd, ResetRowsPutsTheChangedColumnInTheSpan) {
  const Eigen::MatrixXd a = test::with_spectrum<double>(200, 40, Eigen::Vector2d(10, 4), 8);
  IncrementalSvd<double> incremental({.rank = 2}, 200);
  for (Eigen::Index j = 0; j < a.cols(); ++j) incremental.update(a.col(j));
  const Eigen::MatrixXd before = incremental.U();
  const Eigen::Vector2d coefficients(3, -1);
  Eigen::VectorXd changed = before * coefficients;
  const std::vector<Eigen::Index> rows{5, 17, 120};
  const Eigen::Vector3d values(1, -2, 0.5);
  changed(rows) = values;
  incremental.reset_rows(rows, coefficients, values);
  const Eigen::MatrixXd after = incremental.U();
  EXPECT_LE((changed - after * (after.transpose() * changed)).norm(), 1e-12 * changed.norm());
  EXPECT_TRUE((after.transpose() * after).isIdentity(1e-12));
  EXPECT_EQ(incremental.singular_values().size(), 2);
  const Eigen::MatrixXd moved = after * after.transpose() - before * before.transpose();
  EXPECT_GT(moved.norm(), 0.01);  // the rows did change the subspace
  EXPECT_LE(moved.norm(), 2 * values.norm() / changed.norm());
  EXPECT_THROW(incremental.reset_rows({200}, coefficients, Eigen::VectorXd::Ones(1)), Error);
}

TEST(IncrementalSvd, ZeroColumnsAreHarmless) {
  IncrementalSvd<float> incremental({.rank = 2}, 10);
  incremental.update(Eigen::VectorXf::Zero(10));
  EXPECT_EQ(incremental.rank(), 0);
  incremental.update(Eigen::VectorXf::Ones(10));
  incremental.update(Eigen::VectorXf::Zero(10));
  EXPECT_EQ(incremental.rank(), 1);
  EXPECT_NEAR(incremental.singular_values()(0), std::sqrt(10.0f), 1e-5f);
}

// Float, 100,000 updates with forgetting: U stays orthonormal to 1e-5.
TEST(IncrementalSvd, StaysOrthonormalOverOneHundredThousandFloatUpdates) {
  const Eigen::Index m = 500;
  const Eigen::MatrixXf background = test::with_spectrum<float>(m, 3, Eigen::Vector3d(30, 10, 3), 12);
  const Eigen::MatrixXf noise = linalg::detail::gaussian_matrix<float>(m, 64, 13);
  IncrementalSvd<float> incremental({.rank = 3, .forgetting_factor = 0.995}, m);
  const auto clean = [&](int t) -> Eigen::VectorXf {
    const float phase = 0.001f * static_cast<float>(t);
    return background.col(0) + std::sin(phase) * background.col(1) + std::cos(3 * phase) * background.col(2);
  };
  const int updates = 100000;
  for (int t = 0; t < updates; ++t) incremental.update(clean(t) + 0.05f * noise.col(t % 64));
  const Eigen::MatrixXf u = incremental.U();
  EXPECT_LE((u.transpose() * u - Eigen::Matrix3f::Identity()).cwiseAbs().maxCoeff(), 1e-5f);
  // And it still follows the background: the latest clean column lies in the basis.
  const Eigen::VectorXf latest = clean(updates - 1);
  EXPECT_LE((latest - u * (u.transpose() * latest)).norm() / latest.norm(), 0.01f);
}

TEST(IncrementalSvd, BadInputThrows) {
  EXPECT_THROW(IncrementalSvd<double>({.rank = 0}, 10), Error);
  EXPECT_THROW(IncrementalSvd<double>({.rank = 1, .forgetting_factor = 0}, 10), Error);
  EXPECT_THROW(IncrementalSvd<double>({.rank = 1, .forgetting_factor = 1.5}, 10), Error);
  IncrementalSvd<double> incremental({.rank = 1}, 10);
  EXPECT_THROW(incremental.update(Eigen::VectorXd::Ones(9)), Error);
}

}  // namespace
}  // namespace cleanplate
