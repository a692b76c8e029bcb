#include "cleanplate/stages/background_refit.hpp"

#include <Eigen/Cholesky>
#include <Eigen/QR>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages {

bool solve_normal(const Eigen::Ref<const Eigen::MatrixXd>& gram, const Eigen::Ref<const Eigen::MatrixXd>& right,
                  Eigen::Ref<Eigen::MatrixXd> solution) {
  const Eigen::LDLT<Eigen::MatrixXd> normal(gram);
  const Eigen::VectorXd d = normal.vectorD();
  if (normal.info() != Eigen::Success || !(d.minCoeff() > 1e-9 * d.cwiseAbs().maxCoeff())) return false;
  solution = normal.solve(right);
  return true;
}

BackgroundRefit::BackgroundRefit(const FrameGeometry& geometry, const linalg::SvdResult<float>& model)
    : geometry_(geometry),
      model_(model),
      gram_(Eigen::MatrixXd::Zero(model.rank() * model.rank(), geometry.pixels())),
      moments_(Eigen::MatrixXd::Zero(model.rank(), geometry.values())),
      background_frames_(Eigen::VectorXi::Zero(geometry.pixels())) {
  if (model.U.rows() != geometry.values()) throw Error("BackgroundRefit: the model does not match the frame geometry");
}

void BackgroundRefit::add(Eigen::Index frame, const Eigen::Ref<const Eigen::VectorXf>& column,
                          std::span<const std::uint8_t> mask) {
  if (column.size() != geometry_.values() || static_cast<Eigen::Index>(mask.size()) != (geometry_.pixels() + 7) / 8 ||
      frame < 0 || frame >= model_.V.rows())
    throw Error("BackgroundRefit: the frame and mask do not match the model");
  const Eigen::VectorXd v = model_.V.row(frame).transpose().cast<double>();  // x = (U S) v
  const Eigen::MatrixXd outer = v * v.transpose();
  const Eigen::Map<const Eigen::VectorXd> outer_flat(outer.data(), outer.size());
  const int channels = geometry_.channels;
  for (Eigen::Index p = 0; p < geometry_.pixels(); ++p) {
    if (mask_bit(mask, p)) continue;
    ++background_frames_[p];
    gram_.col(p) += outer_flat;
    for (int c = 0; c < channels; ++c)
      moments_.col(p * channels + c) += static_cast<double>(column[p * channels + c]) * v;
  }
}

Eigen::MatrixXd BackgroundRefit::pixel_factor() const {
  const Eigen::Index k = model_.rank(), channels = geometry_.channels;
  Eigen::MatrixXd factor = model_.U.cast<double>() * model_.singular_values.cast<double>().asDiagonal();
  Eigen::MatrixXd solution(k, channels);
  for (Eigen::Index p = 0; p < geometry_.pixels(); ++p) {
    if (background_frames_[p] < 2 * k) continue;
    const auto right = moments_.middleCols(p * channels, channels);
    if (solve_normal(Eigen::Map<const Eigen::MatrixXd>(gram_.col(p).data(), k, k), right, solution))
      factor.middleRows(p * channels, channels) = solution.transpose();
  }
  return factor;
}

Eigen::VectorXd BackgroundRefit::frame_factor(const Eigen::MatrixXd& pixel_factor,
                                              const Eigen::Ref<const Eigen::VectorXf>& column,
                                              std::span<const std::uint8_t> mask, Eigen::VectorXd start) const {
  const Eigen::Index k = pixel_factor.cols(), channels = geometry_.channels;
  // 0/1 weights per value, then the normal equations as k(k+1)/2 + k weighted dot products over
  // contiguous columns (vectorized; a rank-one update per value costs several times more).
  Eigen::VectorXd weights(geometry_.values());
  for (Eigen::Index p = 0; p < geometry_.pixels(); ++p)
    weights.segment(p * channels, channels).setConstant(mask_bit(mask, p) ? 0.0 : 1.0);
  const Eigen::VectorXd weighted = weights.cwiseProduct(column.cast<double>());
  Eigen::MatrixXd gram(k, k);
  for (Eigen::Index a = 0; a < k; ++a)
    for (Eigen::Index b = 0; b <= a; ++b)
      gram(a, b) = pixel_factor.col(a).dot(weights.cwiseProduct(pixel_factor.col(b)));
  const Eigen::VectorXd moment = pixel_factor.transpose() * weighted;
  if (weights.sum() >= 2 * k) solve_normal(gram, moment, start);  // LDLT reads the lower triangle
  return start;
}

linalg::SvdResult<float> to_svd(const Eigen::MatrixXd& pixel_factor, const Eigen::MatrixXd& frame_factor) {
  // P F^T = Q R F^T, and the SVD of the small R F^T (k x frames) gives the rest.
  const Eigen::Index k = pixel_factor.cols();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(pixel_factor);
  const Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(pixel_factor.rows(), k);
  const Eigen::MatrixXd r = qr.matrixQR().topRows(k).triangularView<Eigen::Upper>();
  const Eigen::BDCSVD<Eigen::MatrixXd> small(r * frame_factor.transpose(), Eigen::ComputeThinU | Eigen::ComputeThinV);
  linalg::SvdResult<float> svd{(q * small.matrixU()).cast<float>(), small.singularValues().cast<float>(),
                               small.matrixV().cast<float>()};
  for (Eigen::Index j = 0; j < k; ++j) {  // signs: a background is bright, so the first pixel factor sums positive
    if (svd.U.col(j).sum() < 0) {
      svd.U.col(j) *= -1;
      svd.V.col(j) *= -1;
    }
  }
  return svd;
}

Eigen::VectorXf mean_background(const linalg::SvdResult<float>& background) {
  return background.U * background.singular_values.cwiseProduct(background.V.colwise().mean().transpose());
}

}  // namespace cleanplate::stages
