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

// Frame-like float columns (a background and noise of a level, several blocks of rows): each step's
// coordinates and residual, read from one pass's shifted sums, equal those computed in double from
// the basis before the step, and the basis stays orthonormal.
TEST(IncrementalSvd, FloatStepsMatchADoubleComputation) {
  const Eigen::Index rows = 20001;
  const auto gaussian = [&](std::uint64_t seed) -> Eigen::VectorXf {
    return linalg::detail::gaussian_matrix<double>(rows, 1, seed).cast<float>();
  };
  const Eigen::VectorXf background = (0.5f + 0.1f * gaussian(11).array()).matrix(), light = 0.02f * gaussian(12);
  IncrementalSvd<float> incremental({.rank = 2, .forgetting_factor = 0.98}, rows);
  for (int j = 0; j < 40; ++j) {
    const Eigen::VectorXf noise = gaussian(100 + static_cast<std::uint64_t>(j)) / 255;
    const Eigen::VectorXf x = background + std::sin(0.3f * static_cast<float>(j)) * light + noise;
    const Eigen::MatrixXd u = incremental.U().cast<double>();
    const Eigen::VectorXd expected = u.transpose() * x.cast<double>();
    const double expected_residual = (x.cast<double>() - u * expected).norm();
    const auto step = incremental.update(x);
    ASSERT_EQ(step.coefficients.size(), expected.size()) << j;
    EXPECT_LE((step.coefficients.cast<double>() - expected).norm(), 1e-5 * x.norm()) << j;
    EXPECT_NEAR(step.residual_norm, expected_residual, 1e-3 * expected_residual) << j;
  }
  const Eigen::MatrixXd u = incremental.U().cast<double>();
  EXPECT_LE((u.transpose() * u - Eigen::Matrix2d::Identity()).norm(), 1e-4);
}

// A column in the span right after the basis grew (no coordinates of a like column to shift the sums
// by): its residual is float rounding (about 1e-6 of it), where the one-pass sums cancel to about 1e-3.
TEST(IncrementalSvd, FloatColumnInTheSpanHasARoundingResidual) {
  const Eigen::Index rows = 20001;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    const Eigen::MatrixXf a = linalg::detail::gaussian_matrix<double>(rows, 3, 20 + seed).cast<float>();
    IncrementalSvd<float> incremental({.rank = 2}, rows);
    incremental.update(a.col(0));
    incremental.update(a.col(1));
    const Eigen::VectorXf in_span = incremental.U() * a.col(2).head(2) * 100;
    EXPECT_LE(incremental.update(in_span).residual_norm, 1e-5 * in_span.norm()) << seed;
  }
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
