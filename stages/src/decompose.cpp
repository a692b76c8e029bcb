#include "cleanplate/stages/decompose.hpp"

#include "cleanplate/error.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages {

Eigen::VectorXf BackgroundModel::background(Eigen::Index frame) const {
  return svd.U * svd.singular_values.cwiseProduct(svd.V.row(frame).transpose());
}

Eigen::VectorXf BackgroundModel::clean_plate() const {
  return svd.U * svd.singular_values.cwiseProduct(svd.V.colwise().mean().transpose());
}

BackgroundModel decompose_svd(const Eigen::Ref<const Eigen::MatrixXf>& frames, Eigen::Index rank, double squared_norm) {
  if (rank > frames.cols())
    throw Error("--rank " + std::to_string(rank) + " is larger than the number of frames (" + std::to_string(frames.cols()) + ")");
  BackgroundModel model;
  const linalg::DenseOperator<float> op(frames);
  model.svd = linalg::randomized_svd(op, {.rank = rank});
  const double total = squared_norm >= 0 ? squared_norm : frames.cast<double>().squaredNorm();
  model.energy = total > 0 ? model.svd.singular_values.cast<double>().squaredNorm() / total : 1.0;
  return model;
}

double residual_sigma(const Eigen::Ref<const Eigen::MatrixXf>& frames, const BackgroundModel& model, int sample_frames) {
  const Eigen::Index n = frames.cols(), m = frames.rows(), samples = std::min<Eigen::Index>(n, sample_frames);
  const Eigen::Index stride = std::max<Eigen::Index>(1, m * samples / 1'000'000);
  std::vector<float> values;
  values.reserve(static_cast<std::size_t>(m / stride + 1) * samples);
  for (Eigen::Index s = 0; s < samples; ++s) {
    const Eigen::Index j = (2 * s + 1) * n / (2 * samples);
    const Eigen::VectorXf residual = frames.col(j) - model.background(j);
    for (Eigen::Index i = 0; i < m; i += stride) values.push_back(residual[i]);
  }
  return robust_sigma(std::move(values));
}

}  // namespace cleanplate::stages
