// An image compressed by truncated SVDs: rank against size and PSNR, and the rank-k images.
// A grey image of m x n pixels is a matrix; its best rank-k approximation (Eckart-Young) stores
// k (m + n + 1) numbers instead of m n.
//   cleanplate-svd-image IMAGE [OUT_FOLDER]   writes OUT_FOLDER/rank_K.png when given
#include <Eigen/Core>  // before OpenCV's Eigen bridge
#include <cleanplate/linalg.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/core/eigen.hpp>
#include <opencv2/imgcodecs.hpp>

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s IMAGE [OUT_FOLDER]\n", argv[0]), 2;
  const cv::Mat image = cv::imread(argv[1], cv::IMREAD_GRAYSCALE);
  if (image.empty()) return std::fprintf(stderr, "cannot read the image '%s'\n", argv[1]), 1;
  Eigen::MatrixXf pixels;
  cv::cv2eigen(image, pixels);

  // One SVD of the largest rank wanted gives every smaller one: its leading terms.
  const Eigen::Index largest = std::min<Eigen::Index>(64, std::min(pixels.rows(), pixels.cols()));
  const auto svd = cleanplate::linalg::randomized_svd(pixels, {.rank = largest, .power_iterations = 3});
  std::printf("%5s %12s %10s\n", "rank", "compression", "PSNR dB");
  for (Eigen::Index k = 1; k <= largest; k *= 2) {
    const Eigen::MatrixXf approximation = cleanplate::linalg::reconstruct(svd, k).cwiseMax(0).cwiseMin(255);
    const double mse = (approximation - pixels).squaredNorm() / static_cast<double>(pixels.size());
    const double stored = static_cast<double>(k * (pixels.rows() + pixels.cols() + 1));
    std::printf("%5ld %11.1fx %10.2f\n", static_cast<long>(k), static_cast<double>(pixels.size()) / stored,
                10 * std::log10(255.0 * 255.0 / mse));
    if (argc > 2) {
      cv::Mat out;
      cv::eigen2cv(approximation, out);
      std::filesystem::create_directories(argv[2]);
      cv::imwrite((std::filesystem::path(argv[2]) / ("rank_" + std::to_string(k) + ".png")).string(), out);
    }
  }
}
