#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <cleanplate/linalg/svd.hpp>
#include <random>

#include "test_matrices.hpp"

namespace cleanplate {
namespace {

using linalg::Matrix;
using linalg::RandomizedSvdOptions;

template <typename Scalar>
Scalar orthonormality_error(const Matrix<Scalar>& q) {
  return (q.transpose() * q - Matrix<Scalar>::Identity(q.cols(), q.cols())).norm();
}

struct SpectrumCase {
  Eigen::Index rows, cols, rank;
  double decay;
  int power_iterations;
};

template <typename Scalar>
class RandomizedSvdSpectra : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RandomizedSvdSpectra, Scalars);

// Error within 1% of the optimum (Eckart-Young: the norm of the tail singular values), singular
// values equal to BDCSVD's, orthonormal factors: tall and wide, fast and slow decay.
TYPED_TEST(RandomizedSvdSpectra, ErrorWithinOnePercentOfOptimal) {
  using Scalar = TypeParam;
  const SpectrumCase cases[] = {{600, 200, 5, 0.5, 2},
                                {200, 600, 5, 0.5, 2},
                                {600, 200, 10, 0.9, 2},
                                {500, 300, 10, 0.97, 4},
                                {2000, 80, 1, 0.3, 2}};
  std::uint64_t seed = 7;
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.rows << "x" << c.cols << " rank " << c.rank << " decay " << c.decay);
    const Eigen::VectorXd s = test::geometric_spectrum(std::min(c.rows, c.cols), c.decay);
    const Matrix<Scalar> a = test::with_spectrum<Scalar>(c.rows, c.cols, s, seed += 2);
    const auto result = linalg::randomized_svd(a, {.rank = c.rank, .power_iterations = c.power_iterations});
    ASSERT_EQ(result.U.rows(), c.rows);
    ASSERT_EQ(result.V.rows(), c.cols);
    ASSERT_EQ(result.rank(), c.rank);

    const double optimal = s.tail(s.size() - c.rank).norm();
    const double rounding = 10 * std::numeric_limits<Scalar>::epsilon() * s.norm();
    EXPECT_LE(linalg::approximation_error(a, result), 1.01 * optimal + rounding);

    const auto exact = linalg::truncated_svd(a, c.rank);
    const double tolerance = std::max(0.01 * optimal, rounding);
    EXPECT_LE((result.singular_values - exact.singular_values).template cast<double>().norm(), tolerance);
    // Householder rounding grows like sqrt(rows) eps.
    EXPECT_LE(orthonormality_error(result.U), 10 * std::sqrt(c.rows) * std::numeric_limits<Scalar>::epsilon());
    EXPECT_LE(orthonormality_error(result.V), 10 * std::sqrt(c.cols) * std::numeric_limits<Scalar>::epsilon());
  }
}

// With a gap after k, the singular vectors are determined (up to sign): residuals ||A v - s u||
// vanish and the subspaces equal BDCSVD's.
TYPED_TEST(RandomizedSvdSpectra, SubspacesMatchExactWhenSpectrumHasGap) {
  using Scalar = TypeParam;
  Eigen::VectorXd s = test::geometric_spectrum(150, 0.9);
  s.head(3) << 100, 50, 25;
  const Matrix<Scalar> a = test::with_spectrum<Scalar>(900, 150, s, 42);
  const auto r = linalg::randomized_svd(a, {.rank = 3});
  const auto exact = linalg::truncated_svd(a, 3);
  const double scale = std::numeric_limits<Scalar>::epsilon() * s(0) * 100;
  const double optimal_tail = s.tail(147).norm();
  for (Eigen::Index i = 0; i < 3; ++i) {
    const double residual = (a * r.V.col(i) - r.singular_values(i) * r.U.col(i)).norm();
    EXPECT_LE(residual, 0.01 * optimal_tail + scale) << "component " << i;
  }
  // Same subspaces: U_r U_r^T = U_e U_e^T.
  const Matrix<Scalar> pu = r.U * r.U.transpose() - exact.U * exact.U.transpose();
  const Matrix<Scalar> pv = r.V * r.V.transpose() - exact.V * exact.V.transpose();
  EXPECT_LE(pu.norm(), 1e-3);
  EXPECT_LE(pv.norm(), 1e-3);
}

TEST(RandomizedSvd, RankAtLeastMinDimensionIsExact) {
  const Eigen::VectorXd s = test::geometric_spectrum(40, 0.8);
  const Eigen::MatrixXd a = test::with_spectrum<double>(70, 40, s, 3);
  for (Eigen::Index rank : {40, 55}) {
    const auto r = linalg::randomized_svd(a, {.rank = rank, .power_iterations = 0});
    ASSERT_EQ(r.rank(), 40);
    EXPECT_NEAR((r.singular_values - s).norm(), 0.0, 1e-12);
    EXPECT_NEAR(linalg::approximation_error(a, r), 0.0, 1e-11);
  }
}

TEST(RandomizedSvd, ZeroMatrixGivesZeroSingularValuesAndOrthonormalFactors) {
  const Eigen::MatrixXf zero = Eigen::MatrixXf::Zero(300, 50);
  const auto r = linalg::randomized_svd(zero, {.rank = 2});
  EXPECT_EQ(r.singular_values.norm(), 0.0f);
  EXPECT_LE(orthonormality_error(r.U), 1e-5f);
  EXPECT_LE(orthonormality_error(r.V), 1e-5f);
}

TEST(RandomizedSvd, RankDeficientMatrixIsRecoveredExactly) {
  // Rank 2 matrix, asked for rank 5 with oversampling: the sketch is rank-deficient.
  const Eigen::MatrixXd a = test::with_spectrum<double>(400, 120, Eigen::Vector2d(3.0, 1.0), 11);
  const auto r = linalg::randomized_svd(a, {.rank = 5});
  EXPECT_NEAR(r.singular_values(0), 3.0, 1e-10);
  EXPECT_NEAR(r.singular_values(1), 1.0, 1e-10);
  EXPECT_LE(r.singular_values.tail(3).norm(), 1e-10);
  EXPECT_LE(linalg::approximation_error(a, r), 1e-10);
  EXPECT_LE(orthonormality_error(r.U), 1e-12);
}

TEST(RandomizedSvd, FixedSeedIsReproducibleAndSeedsDiffer) {
  const Eigen::MatrixXf a = test::with_spectrum<float>(300, 100, test::geometric_spectrum(100, 0.95), 5);
  const auto first = linalg::randomized_svd(a, {.rank = 4, .power_iterations = 0});
  const auto second = linalg::randomized_svd(a, {.rank = 4, .power_iterations = 0});
  const auto other = linalg::randomized_svd(a, {.rank = 4, .power_iterations = 0, .seed = 99});
  EXPECT_EQ(first.U, second.U);
  EXPECT_EQ(first.singular_values, second.singular_values);
  EXPECT_NE(first.singular_values, other.singular_values);
}

// An operator that only offers the two products (no fused pass), counting how often it is applied.
struct CountingOperator {
  using Scalar = double;
  const Eigen::MatrixXd& a;
  mutable int products = 0;
  Eigen::Index rows() const { return a.rows(); }
  Eigen::Index cols() const { return a.cols(); }
  Eigen::MatrixXd multiply(const Eigen::MatrixXd& x) const {
    ++products;
    return a * x;
  }
  Eigen::MatrixXd adjoint_multiply(const Eigen::MatrixXd& y) const {
    ++products;
    return a.transpose() * y;
  }
};
static_assert(linalg::MatrixOperator<CountingOperator>);
static_assert(!linalg::FusedMatrixOperator<CountingOperator>);
static_assert(linalg::FusedMatrixOperator<linalg::DenseOperator<float>>);

TEST(RandomizedSvd, WorksOnAnyOperatorAndMatchesDense) {
  const Eigen::MatrixXd a = test::with_spectrum<double>(500, 90, test::geometric_spectrum(90, 0.7), 8);
  const CountingOperator op{a};
  const RandomizedSvdOptions options{.rank = 3, .power_iterations = 2};
  const auto via_operator = linalg::randomized_svd(op, options);
  const auto dense = linalg::randomized_svd(a, options);
  EXPECT_EQ(op.products, 2 * (options.power_iterations + 1));
  EXPECT_LE((via_operator.singular_values - dense.singular_values).norm(), 1e-12);
  EXPECT_NEAR(linalg::approximation_error(a, via_operator), linalg::approximation_error(a, dense), 1e-12);
}

static_assert(linalg::FusedMatrixOperator<linalg::TransposedDenseOperator<double>>);

// Both dense operators give the products Eigen gives, on odd sizes (kernel tails, partial blocks):
// DenseOperator A, TransposedDenseOperator A^T, fused or not.
TYPED_TEST(RandomizedSvdSpectra, DenseOperatorsMatchEigenProducts) {
  using Scalar = TypeParam;
  const Scalar tolerance = std::is_same_v<Scalar, float> ? Scalar(1e-4) : Scalar(1e-12);
  for (const auto& [rows, cols] : {std::pair<Eigen::Index, Eigen::Index>{37, 1001}, {1001, 37}, {5, 40000}}) {
    SCOPED_TRACE(::testing::Message() << rows << "x" << cols);
    const Matrix<Scalar> a = linalg::detail::gaussian_matrix<Scalar>(rows, cols, 3);
    // 13 columns: two kernel groups; 60: past skinny_limit, Eigen's GEMM.
    for (const Eigen::Index width : {13, 60}) {
      const Matrix<Scalar> x = linalg::detail::gaussian_matrix<Scalar>(cols, width, 4);
      const Matrix<Scalar> xt = linalg::detail::gaussian_matrix<Scalar>(rows, width, 5);
      const auto close = [&](const Matrix<Scalar>& got, const Matrix<Scalar>& want) {
        EXPECT_LE((got - want).norm(), tolerance * want.norm());
      };
      const linalg::DenseOperator<Scalar> dense(a);
      close(dense.multiply(x), a * x);
      close(dense.adjoint_multiply(xt), a.transpose() * xt);
      const auto pair = dense.multiply_and_adjoint(x);
      close(pair.product, a * x), close(pair.adjoint_product, a.transpose() * (a * x));
      const linalg::TransposedDenseOperator<Scalar> transposed(a);
      EXPECT_EQ(transposed.rows(), cols);
      close(transposed.multiply(xt), a.transpose() * xt);
      close(transposed.adjoint_multiply(x), a * x);
      const auto fused = transposed.multiply_and_adjoint(xt);
      close(fused.product, a.transpose() * xt), close(fused.adjoint_product, a * (a.transpose() * xt));
      // The same rows made a block at a time.
      const auto make_rows = [&](Eigen::Index first, Eigen::Index n) { return Matrix<Scalar>(a.middleRows(first, n)); };
      const linalg::GeneratedRowsOperator<Scalar, decltype(make_rows)> generated(rows, cols, make_rows);
      close(generated.multiply(x), a * x);
      close(generated.adjoint_multiply(xt), a.transpose() * xt);
      const auto made = generated.multiply_and_adjoint(x);
      close(made.product, a * x), close(made.adjoint_product, a.transpose() * (a * x));
    }
  }
}

// A^T Y sums over blocks of rows in parallel: the sums are those of fixed runs of blocks, added in order, so one
// thread and four give the same bits (per-thread sums made the fits, and so the masks, differ between runs).
TEST(RandomizedSvd, BlockSumsDoNotDependOnTheThreads) {
  const Matrix<float> a = linalg::detail::gaussian_matrix<float>(200000, 24, 6);  // about 19 blocks of rows
  const Matrix<float> y = linalg::detail::gaussian_matrix<float>(200000, 5, 7), x = y.topRows(24);
  const linalg::DenseOperator<float> dense(a);
  const auto products = [&](int threads) {
    std::pair<Matrix<float>, Matrix<float>> result;
    oneapi::tbb::task_arena(threads).execute([&] {
      result = {dense.adjoint_multiply(y), dense.multiply_and_adjoint(x).adjoint_product};
    });
    return result;
  };
  const auto one = products(1), four = products(4);
  EXPECT_TRUE(one.first == four.first) << (one.first - four.first).cwiseAbs().maxCoeff();
  EXPECT_TRUE(one.second == four.second) << (one.second - four.second).cwiseAbs().maxCoeff();
  EXPECT_LE((one.first - a.transpose() * y).norm(), 1e-4f * (a.transpose() * y).norm());
}

// 8-bit storage (video frames' levels): the products are those of the scaled float matrix, and the
// randomized SVD over it matches BDCSVD of that matrix. 1001 rows: partial blocks and kernel tails.
TEST(RandomizedSvd, DenseOperatorOverEightBitValuesMatchesTheScaledMatrix) {
  std::mt19937 random(9);
  std::uniform_int_distribution<int> level(0, 255);
  using Levels = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;
  // Near rank 2 (two patterns in time) plus noise of a few levels, as frames are.
  const Levels a = Levels::NullaryExpr(1001, 90, [&] { return static_cast<std::uint8_t>(level(random)); });
  Levels frames(1001, 90);
  for (Eigen::Index j = 0; j < 90; ++j)
    for (Eigen::Index i = 0; i < 1001; ++i)
      frames(i, j) = static_cast<std::uint8_t>((a(i, 0) * (j % 7 + 3) + a(i, 1) * (j % 3)) / 13 + a(i, j) % 5);
  const float step = 1.0f / 255;
  const Eigen::MatrixXf values = frames.cast<float>() * step;
  const linalg::DenseOperator<float, std::uint8_t> levels(frames, step);
  const Eigen::MatrixXf x = linalg::detail::gaussian_matrix<float>(90, 13, 4);
  const Eigen::MatrixXf y = linalg::detail::gaussian_matrix<float>(1001, 13, 5);
  EXPECT_LE((levels.multiply(x) - values * x).norm(), 1e-5f * (values * x).norm());
  EXPECT_LE((levels.adjoint_multiply(y) - values.transpose() * y).norm(), 1e-5f * (values.transpose() * y).norm());
  const auto pair = levels.multiply_and_adjoint(x);
  EXPECT_LE((pair.adjoint_product - values.transpose() * (values * x)).norm(),
            1e-5f * (values.transpose() * (values * x)).norm());

  const auto svd = linalg::randomized_svd(levels, {.rank = 2});
  const Eigen::BDCSVD<Eigen::MatrixXf> reference(values);
  EXPECT_LE((svd.singular_values - reference.singularValues().head(2)).cwiseAbs().maxCoeff(),
            1e-3f * reference.singularValues()[0]);
}

TEST(RandomizedSvd, BadInputThrowsClearErrors) {
  const Eigen::MatrixXd a = Eigen::MatrixXd::Ones(10, 5);
  EXPECT_THROW(linalg::randomized_svd(a, {.rank = 0}), Error);
  EXPECT_THROW(linalg::randomized_svd(Eigen::MatrixXd(0, 5), {.rank = 1}), Error);
  EXPECT_THROW(linalg::randomized_svd(a, {.rank = 1, .oversampling = -1}), Error);
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    Eigen::MatrixXd b = a;
    b(3, 2) = bad;
    try {
      linalg::randomized_svd(b, {.rank = 1});
      ADD_FAILURE() << "no exception for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("NaN or Inf"), std::string::npos) << e.what();
    }
    EXPECT_THROW(linalg::truncated_svd(b, 1), Error);
  }
  EXPECT_THROW(linalg::truncated_svd(a, 0), Error);
}

TEST(LowRankHelpers, ReconstructErrorAndEnergyAgreeWithSpectrum) {
  const Eigen::VectorXd s = test::geometric_spectrum(30, 0.6);
  const Eigen::MatrixXd a = test::with_spectrum<double>(80, 30, s, 21);
  const auto svd = linalg::truncated_svd(a, 4);
  EXPECT_NEAR((a - linalg::reconstruct(svd)).norm(), s.tail(26).norm(), 1e-12);
  EXPECT_NEAR(linalg::approximation_error(a, svd), s.tail(26).norm(), 1e-12);
  EXPECT_NEAR(linalg::explained_energy(a, svd), s.head(4).squaredNorm() / s.squaredNorm(), 1e-12);
  EXPECT_NEAR((linalg::reconstruct(svd, 1) - s(0) * svd.U.col(0) * svd.V.col(0).transpose()).norm(), 0.0, 1e-12);
}

}  // namespace
}  // namespace cleanplate
