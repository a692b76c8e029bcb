// Principal component analysis on a data matrix whose rows are samples (as in scikit-learn).
//
//   auto pca = Pca<double>::fit(X, {.components = 2});
//   Matrix<double> scores = pca.transform(X);          // n x 2
//   Matrix<double> back = pca.inverse_transform(scores);
//
// Solvers: exact SVD of the centred data, randomized SVD of it, or the eigendecomposition of the
// covariance X_c^T X_c / (n - 1). PcaSolver::automatic picks, like scikit-learn's "auto":
//   covariance  when features <= 1000 and samples >= 10 x features (the d x d problem is small);
//   exact       when max(samples, features) <= 500, or components >= 0.8 min(samples, features);
//   randomized  otherwise (few components of a large matrix).
#pragma once
#include <Eigen/Eigenvalues>

#include "cleanplate/linalg/svd.hpp"

namespace cleanplate::linalg {

enum class PcaSolver { automatic, exact, randomized, covariance };

struct PcaOptions {
  Eigen::Index components = 0;  // 0 keeps min(samples, features)
  PcaSolver solver = PcaSolver::automatic;
  bool whiten = false;                // scale scores to unit variance
  RandomizedSvdOptions randomized{};  // used by the randomized solver (its rank is set from components)
};

template <typename Scalar>
class Pca {
 public:
  template <typename Derived>
  static Pca fit(const Eigen::MatrixBase<Derived>& data, const PcaOptions& options = {}) {
    detail::require_usable(data, "Pca::fit");
    const Eigen::Index n = data.rows(), d = data.cols();
    if (n < 2) throw Error("Pca::fit: need at least 2 samples (rows), got " + std::to_string(n));
    const Eigen::Index limit = std::min(n, d);
    const Eigen::Index k = options.components == 0 ? limit : options.components;
    if (k < 0 || k > limit)
      throw Error("Pca::fit: components must be between 1 and min(samples, features) = " + std::to_string(limit) +
                  ", got " + std::to_string(k));

    Pca pca;
    pca.whiten_ = options.whiten;
    pca.solver_ = choose_solver(options.solver, n, d, k);
    pca.mean_ = data.template cast<Scalar>().colwise().mean().transpose();
    const Matrix<Scalar> centred = data.template cast<Scalar>().rowwise() - pca.mean_.transpose();
    const Scalar dof = static_cast<Scalar>(n - 1);
    pca.total_variance_ = centred.squaredNorm() / dof;

    if (pca.solver_ == PcaSolver::covariance) {
      const Matrix<Scalar> covariance = (centred.transpose() * centred) / dof;
      Eigen::SelfAdjointEigenSolver<Matrix<Scalar>> eigen(covariance);
      // Ascending eigenvalues: the last k, reversed, are the largest.
      pca.components_ = eigen.eigenvectors().rightCols(k).rowwise().reverse().transpose();
      pca.explained_variance_ = eigen.eigenvalues().tail(k).reverse().cwiseMax(Scalar(0));
      pca.singular_values_ = (pca.explained_variance_ * dof).cwiseSqrt();
    } else {
      SvdResult<Scalar> svd;
      if (pca.solver_ == PcaSolver::exact) {
        svd = truncated_svd(centred, k);
      } else {
        RandomizedSvdOptions r = options.randomized;
        r.rank = k;
        svd = randomized_svd(centred, r);
      }
      pca.components_ = svd.V.transpose();
      pca.singular_values_ = svd.singular_values;
      pca.explained_variance_ = svd.singular_values.array().square() / dof;
    }
    pca.fix_signs();
    return pca;
  }

  // Scores of new samples (rows): (X - mean) components^T, divided by sqrt(variance) when whitening.
  template <typename Derived>
  Matrix<Scalar> transform(const Eigen::MatrixBase<Derived>& data) const {
    require_features(data.cols(), "Pca::transform");
    Matrix<Scalar> scores = (data.template cast<Scalar>().rowwise() - mean_.transpose()) * components_.transpose();
    if (whiten_) scores = scores * whitening_scale().asDiagonal().inverse();
    return scores;
  }

  template <typename Derived>
  Matrix<Scalar> inverse_transform(const Eigen::MatrixBase<Derived>& scores) const {
    if (scores.cols() != components_.rows())
      throw Error("Pca::inverse_transform: expected " + std::to_string(components_.rows()) +
                  " columns of scores, got " + std::to_string(scores.cols()));
    Matrix<Scalar> s = scores.template cast<Scalar>();
    if (whiten_) s = s * whitening_scale().asDiagonal();
    return (s * components_).rowwise() + mean_.transpose();
  }

  const Matrix<Scalar>& components() const { return components_; }  // k x features, rows orthonormal
  const Vector<Scalar>& mean() const { return mean_; }
  const Vector<Scalar>& singular_values() const { return singular_values_; }
  const Vector<Scalar>& explained_variance() const { return explained_variance_; }
  Vector<Scalar> explained_variance_ratio() const {
    return total_variance_ > 0 ? Vector<Scalar>(explained_variance_ / total_variance_)
                               : Vector<Scalar>::Zero(explained_variance_.size());
  }
  PcaSolver solver() const { return solver_; }

  static PcaSolver choose_solver(PcaSolver wanted, Eigen::Index samples, Eigen::Index features, Eigen::Index k) {
    if (wanted != PcaSolver::automatic) return wanted;
    if (features <= 1000 && samples >= 10 * features) return PcaSolver::covariance;
    if (std::max(samples, features) <= 500 || 5 * k >= 4 * std::min(samples, features)) return PcaSolver::exact;
    return PcaSolver::randomized;
  }

 private:
  void require_features(Eigen::Index features, const char* what) const {
    if (features != mean_.size())
      throw Error(std::string(what) + ": expected " + std::to_string(mean_.size()) + " features (columns), got " +
                  std::to_string(features));
  }
  Vector<Scalar> whitening_scale() const {
    return explained_variance_.cwiseSqrt().cwiseMax(std::numeric_limits<Scalar>::min());
  }
  // Deterministic signs whatever the solver: the largest-magnitude loading of each component is positive.
  void fix_signs() {
    for (Eigen::Index i = 0; i < components_.rows(); ++i) {
      Eigen::Index at;
      components_.row(i).cwiseAbs().maxCoeff(&at);
      if (components_(i, at) < 0) components_.row(i) *= -1;
    }
  }

  Matrix<Scalar> components_;
  Vector<Scalar> mean_, singular_values_, explained_variance_;
  Scalar total_variance_ = 0;
  bool whiten_ = false;
  PcaSolver solver_ = PcaSolver::exact;
};

}  // namespace cleanplate::linalg
