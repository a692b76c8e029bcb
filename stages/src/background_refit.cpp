#include "cleanplate/stages/background_refit.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <algorithm>
#include <array>
#include <cleanplate/linalg/row_blocks.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/mask.hpp"
#include "normal_equations.hpp"

namespace cleanplate::stages {

bool solve_normal(const Eigen::Ref<const Eigen::MatrixXd>& gram, const Eigen::Ref<const Eigen::MatrixXd>& right,
                  Eigen::Ref<Eigen::MatrixXd> solution) {
  if (gram.rows() == 1) {  // rank 1, the default, once per pixel: LDLT's one division, without its set-up
    if (!(gram(0, 0) > 0)) return false;
    solution = right / gram(0, 0);
    return true;
  }
  const Eigen::LDLT<Eigen::MatrixXd> normal(gram);
  const Eigen::VectorXd d = normal.vectorD();
  if (normal.info() != Eigen::Success || !(d.minCoeff() > 1e-9 * d.cwiseAbs().maxCoeff())) return false;
  solution = normal.solve(right);
  return true;
}

namespace {

// Weights 1 for the background, 0 for the foreground, of `count` pixels from `first` (a multiple
// of 8) in a packed mask, repeated for each of a pixel's `channels` values: a byte at a time.
template <typename Weights>
void background_weights(std::span<const std::uint8_t> mask, Eigen::Index first, Eigen::Index count,
                        Eigen::Index channels, Weights& weights) {
  using Scalar = typename Weights::Scalar;
  static const auto table = [] {
    std::array<std::array<Scalar, 8>, 256> bytes{};
    for (int byte = 0; byte < 256; ++byte)
      for (int bit = 0; bit < 8; ++bit) bytes[byte][bit] = (byte & (0x80 >> bit)) ? 0 : 1;
    return bytes;
  }();
  const std::uint8_t* bits = mask.data() + first / 8;
  if (channels == 1) {
    for (Eigen::Index q = 0; q < count; q += 8) {
      const auto& eight = table[bits[q / 8]];
      std::copy_n(eight.begin(), std::min<Eigen::Index>(8, count - q), &weights[q]);
    }
    return;
  }
  for (Eigen::Index q = 0; q < count; ++q)
    for (Eigen::Index c = 0; c < channels; ++c) weights[q * channels + c] = table[bits[q / 8]][q % 8];
}

}  // namespace

BackgroundRefit::BackgroundRefit(const FrameGeometry& geometry, const linalg::SvdResult<float>& model)
    : geometry_(geometry),
      model_(model),
      gram_(Eigen::ArrayXXd::Zero(geometry.pixels(), model.rank() * model.rank())),
      moments_(Eigen::ArrayXXd::Zero(geometry.values(), model.rank())),
      background_frames_(Eigen::ArrayXd::Zero(geometry.pixels())) {
  if (model.U.rows() != geometry.values()) throw Error("BackgroundRefit: the model does not match the frame geometry");
}

void BackgroundRefit::add(const FramesRef& frames, std::span<const std::uint8_t> masks) {
  const Eigen::Index pixels = geometry_.pixels(), channels = geometry_.channels, frame_count = frames.cols();
  const auto mask_bytes = static_cast<std::size_t>((pixels + 7) / 8);
  if (frames.rows() != geometry_.values() || masks.size() != mask_bytes * static_cast<std::size_t>(frame_count) ||
      frame_count > model_.V.rows())
    throw Error("BackgroundRefit: the frames and masks do not match the model");
  const Eigen::MatrixXd V = model_.V.topRows(frame_count).cast<double>();  // x = (U S) v
  const Eigen::Index k = V.cols();
  // The sums of pixels first .. first + count over every frame: they stay in L1 while the frames pass.
  const auto add_block = [&](Eigen::Index first, Eigen::Index count) {
    const Eigen::Index n = count * channels;
    Eigen::ArrayXd w(count), x(n);
    for (Eigen::Index j = 0; j < frame_count; ++j) {
      const auto mask = masks.subspan(static_cast<std::size_t>(j) * mask_bytes, mask_bytes);
      background_weights(mask, first, count, 1, w);
      background_frames_.segment(first, count) += w;
      for (Eigen::Index a = 0; a < k; ++a)
        for (Eigen::Index b = 0; b < k; ++b) gram_.col(a * k + b).segment(first, count) += (V(j, a) * V(j, b)) * w;
      x = frame_values(frames.col(j).segment(first * channels, n)).cast<double>();
      Eigen::Map<Eigen::ArrayXXd>(x.data(), channels, count).rowwise() *= w.transpose();  // a pixel per column
      for (Eigen::Index a = 0; a < k; ++a) moments_.col(a).segment(first * channels, n) += V(j, a) * x;
    }
  };
  constexpr Eigen::Index block = 1024;  // pixels: whole mask bytes
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<Eigen::Index>(0, (pixels + block - 1) / block),
                            [&](const auto& blocks) {
                              for (Eigen::Index b = blocks.begin(); b < blocks.end(); ++b)
                                add_block(b * block, std::min(block, pixels - b * block));
                            });
}

Eigen::MatrixXd BackgroundRefit::pixel_factor() const {
  const Eigen::Index k = model_.rank(), channels = geometry_.channels;
  Eigen::MatrixXd factor = model_.U.cast<double>() * model_.singular_values.cast<double>().asDiagonal();
  oneapi::tbb::parallel_for(
      oneapi::tbb::blocked_range<Eigen::Index>(0, geometry_.pixels(), 4096), [&](const auto& pixels) {
        Eigen::MatrixXd solution(k, channels), gram(k, k);
        for (Eigen::Index p = pixels.begin(); p < pixels.end(); ++p) {
          if (background_frames_[p] < 2 * k) continue;
          gram = gram_.row(p).reshaped(k, k);
          if (solve_normal(gram, moments_.middleRows(p * channels, channels).transpose().matrix(), solution))
            factor.middleRows(p * channels, channels) = solution.transpose();
        }
      });
  return factor;
}

template <typename BackgroundWeights>
Eigen::VectorXd BackgroundRefit::refit_frame(const Eigen::Ref<const Eigen::MatrixXf>& pixel_factor,
                                             const Eigen::Ref<const FrameColumnLevels>& column,
                                             const BackgroundWeights& weights_of, Eigen::VectorXd start) const {
  const Eigen::Index k = pixel_factor.cols(), channels = geometry_.channels, pixels = geometry_.pixels();
  // The normal equations over the values of the pixels outside the mask, a block at a time (whole
  // mask bytes: a byte gives eight weights at once). A large frame is refitted on evenly spaced
  // blocks of about 2^16 values in all, as fit_frame fits it: k coordinates over n background values
  // carry an error of sigma / sqrt(n), 1/256 of the noise there.
  const Eigen::Index block_pixels = detail::normal_equations_block / channels / 8 * 8;
  const Eigen::Index step = linalg::sampling_step(pixels, block_pixels, (1 << 16) / channels);
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(k, k);
  Eigen::VectorXd moment = Eigen::VectorXd::Zero(k);
  Eigen::ArrayXf weights(block_pixels * channels), x(block_pixels * channels);
  double counted = 0;
  for (Eigen::Index b = 0; b < linalg::row_blocks(pixels, block_pixels, step); ++b) {
    const Eigen::Index first = linalg::row_block_first(b, block_pixels, step);
    const Eigen::Index count = std::min(block_pixels, pixels - first), n = count * channels;
    weights_of(first, count, weights);
    x.head(n) = frame_values(column.segment(first * channels, n)).array();
    detail::add_normal_equations(pixel_factor.middleRows(first * channels, n), x.head(n), weights.head(n), gram,
                                 moment);
    counted += weights.head(n).sum();
  }
  if (counted >= 2 * k) solve_normal(gram, moment, start);
  return start;
}

Eigen::VectorXd BackgroundRefit::frame_factor(const Eigen::Ref<const Eigen::MatrixXf>& pixel_factor,
                                              const Eigen::Ref<const FrameColumnLevels>& column,
                                              std::span<const std::uint8_t> mask, Eigen::VectorXd start) const {
  return refit_frame(
      pixel_factor, column,
      [&](Eigen::Index first, Eigen::Index count, Eigen::ArrayXf& weights) {
        background_weights(mask, first, count, geometry_.channels, weights);
      },
      std::move(start));
}

Eigen::VectorXd BackgroundRefit::frame_factor(const Eigen::Ref<const Eigen::MatrixXf>& pixel_factor,
                                              const Eigen::Ref<const FrameColumnLevels>& column, const cv::Mat& mask,
                                              Eigen::VectorXd start) const {
  if (mask.type() != CV_8U || !mask.isContinuous() || static_cast<Eigen::Index>(mask.total()) != geometry_.pixels())
    throw Error("BackgroundRefit::frame_factor: the mask is not an 8-bit image of the frame's size");
  const std::uint8_t* on = mask.ptr<std::uint8_t>();
  return refit_frame(
      pixel_factor, column,
      [&, channels = geometry_.channels](Eigen::Index first, Eigen::Index count, Eigen::ArrayXf& weights) {
        for (Eigen::Index q = 0; q < count; ++q)
          for (Eigen::Index c = 0; c < channels; ++c) weights[q * channels + c] = on[first + q] == 0 ? 1.0f : 0.0f;
      },
      std::move(start));
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

}  // namespace cleanplate::stages
