#include <gtest/gtest.h>

#include <cleanplate/linalg/eigen.hpp>

#include "test_matrices.hpp"

namespace cleanplate {
namespace {

using Eigen::Matrix2d;
using Eigen::Vector2d;

// Is the complex vector v parallel to the real direction d?
bool parallel(const Eigen::Vector2cd& v, const Vector2d& d) {
  const Eigen::Vector2cd dn = d.normalized().cast<std::complex<double>>();
  return std::abs(std::abs(dn.dot(v)) - v.norm()) < 1e-12;
}

TEST(Eigen, TriangularExampleHasEigenvaluesOneAndTwo) {
  Matrix2d a;
  a << 1, 0, -1, 2;
  const auto e = linalg::eigen(a);
  for (int i = 0; i < 2; ++i) {
    const double lambda = e.eigenvalues(i).real();
    EXPECT_NEAR(e.eigenvalues(i).imag(), 0.0, 1e-14);
    // lambda = 1 along (1, 1), lambda = 2 along (0, 1).
    if (std::abs(lambda - 1) < 1e-12)
      EXPECT_TRUE(parallel(e.eigenvectors.col(i), Vector2d(1, 1)));
    else {
      EXPECT_NEAR(lambda, 2.0, 1e-12);
      EXPECT_TRUE(parallel(e.eigenvectors.col(i), Vector2d(0, 1)));
    }
  }
  const auto d = linalg::diagonalize(a);
  const Eigen::Matrix2cd pinv_a_p = d.P_inverse * a.cast<std::complex<double>>() * d.P;
  EXPECT_NEAR((pinv_a_p - Eigen::Matrix2cd(d.D.asDiagonal())).norm(), 0.0, 1e-12);
  Eigen::Vector2d sorted(d.D(0).real(), d.D(1).real());
  std::sort(sorted.data(), sorted.data() + 2);
  EXPECT_NEAR((sorted - Vector2d(1, 2)).norm(), 0.0, 1e-12);
}

TEST(Eigen, RotationHasNoRealEigenvectors) {
  Matrix2d rotation;
  rotation << 0, -1, 1, 0;
  const auto e = linalg::eigen(rotation);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(std::abs(e.eigenvalues(i).imag()), 1.0, 1e-14);
    EXPECT_NEAR(e.eigenvalues(i).real(), 0.0, 1e-14);
    EXPECT_GT(e.eigenvectors.col(i).imag().norm(), 0.5);  // no real multiple of it is an eigenvector
  }
  // Still diagonalizable over the complex numbers, and R^4 = I.
  EXPECT_NEAR((linalg::matrix_power(rotation, 4) - Matrix2d::Identity()).norm(), 0.0, 1e-12);
  EXPECT_NEAR((linalg::matrix_power(rotation, -1) - rotation.transpose()).norm(), 0.0, 1e-12);
}

TEST(Eigen, MatrixPowerMatchesRepeatedProduct) {
  Eigen::MatrixXd a(3, 3);
  a << 2, 1, 0, 1, 3, 1, 0, 1, 4;
  Eigen::MatrixXd product = Eigen::MatrixXd::Identity(3, 3);
  for (int p = 0; p <= 6; ++p) {
    EXPECT_LE((linalg::matrix_power(a, p) - product).norm(), 1e-10 * product.norm()) << "power " << p;
    product *= a;
  }
  EXPECT_LE((linalg::matrix_power(a, -2) * a * a - Eigen::MatrixXd::Identity(3, 3)).norm(), 1e-10);
}

TEST(Eigen, DefectiveMatrixIsRefused) {
  Matrix2d shear;
  shear << 1, 1, 0, 1;  // one eigenvalue, one eigenvector
  EXPECT_THROW(linalg::diagonalize(shear), Error);
  EXPECT_THROW(linalg::matrix_power(shear, 3), Error);
  Matrix2d singular;
  singular << 1, 0, 0, 0;
  EXPECT_THROW(linalg::matrix_power(singular, -1), Error);
}

TEST(Eigen, SymmetricFullAndTopKAgreeWithSelfAdjointSolver) {
  for (std::uint64_t seed : {1, 2}) {
    const Eigen::MatrixXd g = linalg::detail::gaussian_matrix<double>(60, 60, seed);
    const Eigen::MatrixXd a = g + g.transpose();
    const auto full = linalg::symmetric_eigen(a);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> reference(a);
    EXPECT_LE((full.eigenvalues - reference.eigenvalues().reverse()).norm(), 1e-10);
    for (int i = 0; i < 1; ++i) {
      // Residual ||A v - lambda v|| and orthonormality.
      EXPECT_LE((a * full.eigenvectors - full.eigenvectors * full.eigenvalues.asDiagonal()).norm(), 1e-9);
      EXPECT_LE((full.eigenvectors.transpose() * full.eigenvectors - Eigen::MatrixXd::Identity(60, 60)).norm(), 1e-10);
    }
    EXPECT_TRUE(std::is_sorted(full.eigenvalues.data(), full.eigenvalues.data() + 60, std::greater<>()));
    const auto top = linalg::symmetric_eigen(a, 5);
    ASSERT_EQ(top.eigenvalues.size(), 5);
    EXPECT_LE((top.eigenvalues - full.eigenvalues.head(5)).norm(), 1e-12);
    EXPECT_LE((a * top.eigenvectors - top.eigenvectors * top.eigenvalues.asDiagonal()).norm(), 1e-9);
  }
}

TEST(Eigen, FloatSymmetricWorks) {
  Eigen::Matrix2f a;
  a << 2, 1, 1, 2;
  const auto e = linalg::symmetric_eigen(a);
  EXPECT_NEAR(e.eigenvalues(0), 3.0f, 1e-6f);
  EXPECT_NEAR(e.eigenvalues(1), 1.0f, 1e-6f);
}

TEST(Eigen, BadInputThrows) {
  EXPECT_THROW(linalg::symmetric_eigen(Eigen::MatrixXd(0, 0)), Error);
  EXPECT_THROW(linalg::symmetric_eigen(Eigen::MatrixXd::Ones(2, 3)), Error);
  Matrix2d nonsymmetric;
  nonsymmetric << 1, 2, 3, 4;
  EXPECT_THROW(linalg::symmetric_eigen(nonsymmetric), Error);
  EXPECT_THROW(linalg::symmetric_eigen(Matrix2d::Identity().eval(), 3), Error);
  EXPECT_THROW(linalg::eigen(Eigen::MatrixXd::Ones(3, 2)), Error);
  Matrix2d nan = Matrix2d::Identity();
  nan(1, 0) = std::nan("");
  EXPECT_THROW(linalg::eigen(nan), Error);
}

}  // namespace
}  // namespace cleanplate
