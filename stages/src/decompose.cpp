#include "cleanplate/stages/decompose.hpp"

#include "cleanplate/error.hpp"

namespace cleanplate::stages {

Eigen::VectorXf BackgroundModel::background(Eigen::Index frame) const {
  return svd.U * svd.singular_values.cwiseProduct(svd.V.row(frame).transpose());
}

Eigen::VectorXf BackgroundModel::clean_plate() const {
  return svd.U * svd.singular_values.cwiseProduct(svd.V.colwise().mean().transpose());
}

BackgroundModel decompose_svd(const Eigen::Ref<const Eigen::MatrixXf>& frames, Eigen::Index rank) {
  if (rank > frames.cols())
    throw Error("--rank " + std::to_string(rank) + " is larger than the number of frames (" + std::to_string(frames.cols()) + ")");
  BackgroundModel model;
  const linalg::DenseOperator<float> op(frames);
  model.svd = linalg::randomized_svd(op, {.rank = rank});
  const double total = frames.cast<double>().squaredNorm();
  model.energy = total > 0 ? model.svd.singular_values.cast<double>().squaredNorm() / total : 1.0;
  return model;
}

}  // namespace cleanplate::stages
