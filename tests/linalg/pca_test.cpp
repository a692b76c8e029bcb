#include <gtest/gtest.h>

#include <cleanplate/linalg/pca.hpp>

#include "test_matrices.hpp"

namespace cleanplate {
namespace {

using linalg::Pca;
using linalg::PcaSolver;

// Correlated data: 3 strong directions plus small noise, shifted away from the origin.
Eigen::MatrixXd sample_data(Eigen::Index samples, Eigen::Index features, std::uint64_t seed) {
  Eigen::VectorXd s = Eigen::VectorXd::Constant(features, 0.01);
  s.head(3) << 30, 10, 3;
  Eigen::MatrixXd x = test::with_spectrum<double>(samples, features, s.head(std::min(samples, features)), seed);
  x.rowwise() += Eigen::RowVectorXd::LinSpaced(features, 1.0, 5.0);
  return x;
}

TEST(Pca, AllSolversAgreeWithSvdOfCentredData) {
  const Eigen::MatrixXd x = sample_data(400, 30, 1);
  const Eigen::MatrixXd centred = x.rowwise() - x.colwise().mean();
  Eigen::BDCSVD<Eigen::MatrixXd> reference(centred, Eigen::ComputeThinV);
  for (PcaSolver solver : {PcaSolver::exact, PcaSolver::randomized, PcaSolver::covariance}) {
    SCOPED_TRACE(static_cast<int>(solver));
    const auto pca = Pca<double>::fit(x, {.components = 3, .solver = solver});
    EXPECT_EQ(pca.solver(), solver);
    EXPECT_LE((pca.mean() - x.colwise().mean().transpose()).norm(), 1e-12);
    EXPECT_LE((pca.singular_values() - reference.singularValues().head(3)).norm(), 1e-8);
    EXPECT_LE((pca.explained_variance() - reference.singularValues().head(3).array().square().matrix() / 399).norm(),
              1e-8);
    // Components span the same directions (signs are fixed by convention, so compare projectors).
    const Eigen::MatrixXd c = pca.components();
    const Eigen::MatrixXd v = reference.matrixV().leftCols(3);
    EXPECT_LE((c.transpose() * c - v * v.transpose()).norm(), 1e-8);
    const double total = centred.squaredNorm() / 399;
    EXPECT_LE((pca.explained_variance_ratio() - pca.explained_variance() / total).norm(), 1e-12);
  }
}

TEST(Pca, CovarianceRouteMatchesExactIncludingSigns) {
  const Eigen::MatrixXd x = sample_data(500, 20, 2);
  // Three distinct directions (the rest are noise of equal variance, whose basis is arbitrary).
  const auto exact = Pca<double>::fit(x, {.components = 3, .solver = PcaSolver::exact});
  const auto covariance = Pca<double>::fit(x, {.components = 3, .solver = PcaSolver::covariance});
  EXPECT_LE((exact.components() - covariance.components()).norm(), 1e-6);
  EXPECT_LE((exact.transform(x) - covariance.transform(x)).norm(), 1e-6 * x.norm());
}

TEST(Pca, InverseTransformOfAllComponentsReturnsTheData) {
  const Eigen::MatrixXd x = sample_data(50, 12, 3);
  for (bool whiten : {false, true}) {
    const auto pca = Pca<double>::fit(x, {.whiten = whiten});
    EXPECT_EQ(pca.components().rows(), 12);
    EXPECT_LE((pca.inverse_transform(pca.transform(x)) - x).norm(), 1e-10 * x.norm());
    EXPECT_NEAR(pca.explained_variance_ratio().sum(), 1.0, 1e-12);
  }
}

TEST(Pca, WhitenedScoresHaveUnitVariance) {
  const Eigen::MatrixXd x = sample_data(300, 10, 4);
  const auto pca = Pca<double>::fit(x, {.components = 3, .whiten = true});
  const Eigen::MatrixXd scores = pca.transform(x);
  const Eigen::MatrixXd covariance = scores.transpose() * scores / 299;
  EXPECT_LE((covariance - Eigen::MatrixXd::Identity(3, 3)).norm(), 1e-10);
}

TEST(Pca, AutomaticSolverFollowsTheDocumentedRule) {
  EXPECT_EQ(Pca<float>::choose_solver(PcaSolver::automatic, 10000, 50, 5), PcaSolver::covariance);
  EXPECT_EQ(Pca<float>::choose_solver(PcaSolver::automatic, 300, 200, 5), PcaSolver::exact);
  EXPECT_EQ(Pca<float>::choose_solver(PcaSolver::automatic, 5000, 2000, 1700), PcaSolver::exact);
  EXPECT_EQ(Pca<float>::choose_solver(PcaSolver::automatic, 5000, 2000, 10), PcaSolver::randomized);
  EXPECT_EQ(Pca<float>::choose_solver(PcaSolver::exact, 10000, 50, 5), PcaSolver::exact);
  const auto pca = Pca<double>::fit(sample_data(100, 8, 5), {.components = 2});
  EXPECT_EQ(pca.solver(), PcaSolver::covariance);
}

TEST(Pca, WorksInFloat) {
  const Eigen::MatrixXf x = sample_data(400, 30, 6).cast<float>();
  const auto pca = Pca<float>::fit(x, {.components = 3, .solver = PcaSolver::randomized});
  const auto exact = Pca<float>::fit(x, {.components = 3, .solver = PcaSolver::exact});
  EXPECT_LE((pca.singular_values() - exact.singular_values()).norm(), 1e-4f * exact.singular_values()(0));
}

TEST(Pca, BadInputThrows) {
  const Eigen::MatrixXd x = sample_data(20, 5, 7);
  EXPECT_THROW(Pca<double>::fit(Eigen::MatrixXd(0, 3)), Error);
  EXPECT_THROW(Pca<double>::fit(Eigen::MatrixXd::Ones(1, 3)), Error);
  EXPECT_THROW(Pca<double>::fit(x, {.components = 6}), Error);
  Eigen::MatrixXd nan = x;
  nan(0, 0) = std::nan("");
  EXPECT_THROW(Pca<double>::fit(nan), Error);
  const auto pca = Pca<double>::fit(x, {.components = 2});
  EXPECT_THROW(pca.transform(Eigen::MatrixXd::Ones(3, 4)), Error);
  EXPECT_THROW(pca.inverse_transform(Eigen::MatrixXd::Ones(3, 3)), Error);
}

}  // namespace
}  // namespace cleanplate
