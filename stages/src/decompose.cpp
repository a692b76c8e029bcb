#include "cleanplate/stages/decompose.hpp"

#include <cleanplate/linalg/godec.hpp>
#include <cleanplate/linalg/robust_pca.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/robust_background.hpp"

namespace cleanplate::stages {
namespace {

// The float working copy GoDec and robust PCA iterate on (their sparse part and residuals are as
// large as the matrix anyway).
Eigen::MatrixXf values(const FramesRef& frames) { return frame_values(frames); }

}  // namespace

Eigen::VectorXf BackgroundModel::background(Eigen::Index frame) const {
  return svd.U * svd.singular_values.cwiseProduct(svd.V.row(frame).transpose());
}

BackgroundModel decompose(const FramesRef& frames, const DecomposeOptions& options, double squared_norm) {
  if (options.rank < 1) throw Error("--rank must be at least 1");
  if (options.rank > frames.cols())
    throw Error("--rank " + std::to_string(options.rank) + " is larger than the number of frames (" +
                std::to_string(frames.cols()) + ")");
  BackgroundModel model;
  switch (options.method) {
    case Method::robust:
      model = robust_background(frames, {.rank = options.rank});
      break;
    case Method::svd:
      model.svd = linalg::randomized_svd(linalg::DenseOperator<float, std::uint8_t>(frames, level_step),
                                         {.rank = options.rank});
      break;
    case Method::godec: {
      auto result = linalg::godec(
          values(frames), {.rank = options.rank, .sparse_fraction = options.sparse_fraction, .tolerance = 1e-4});
      model.svd = std::move(result.low_rank);
      model.iterations = result.iterations;
      break;
    }
    case Method::robust_pca: {
      // The stop at 1e-4 relative residual: the masks do not change below it, and each iteration
      // costs a partial SVD and several passes over the matrix.
      auto result =
          linalg::robust_pca(values(frames), {.tolerance = 1e-4, .max_iterations = 100, .max_rank = options.rank});
      model.svd = std::move(result.low_rank);
      model.iterations = result.iterations;
      break;
    }
  }
  const double total = squared_norm >= 0 ? squared_norm : frames.cast<double>().squaredNorm() * level_step * level_step;
  model.energy = total > 0 ? model.svd.singular_values.cast<double>().squaredNorm() / total : 1.0;
  return model;
}

std::vector<Eigen::Index> evenly_spaced_frames(Eigen::Index frames, Eigen::Index count) {
  count = std::min(frames, count);
  std::vector<Eigen::Index> picked(static_cast<std::size_t>(count));
  for (Eigen::Index s = 0; s < count; ++s) picked[static_cast<std::size_t>(s)] = (2 * s + 1) * frames / (2 * count);
  return picked;
}

}  // namespace cleanplate::stages
