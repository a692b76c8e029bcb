// bench_randomized_svd: cleanplate's randomized_svd against scikit-learn's (OpenBLAS) on the same
// 76,800 x 1,000 float32 "video" matrix (rank-1 background with illumination drift, sparse moving
// blobs, noise), at rank 1 and 10 with the same oversampling and power iterations, in one run.
// Prints medians, the speed-up, both relative errors, and the memory-bandwidth floor (passes over
// the matrix x its bytes / bandwidth measured here).
//
//   bench_randomized_svd [--repeats N] [--rows M] [--cols N]
#include <oneapi/tbb/parallel_reduce.h>

#include <algorithm>
#include <chrono>
#include <cleanplate/linalg/svd.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace linalg = cleanplate::linalg;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
double median_seconds(int repeats, F&& f) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    f();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return median(times);
}

// Cheap deterministic noise in [-1, 1): a hash of the index, so 77 M entries take milliseconds.
float hash_noise(std::uint64_t i) {
  i ^= i >> 33;
  i *= 0xff51afd7ed558ccdULL;
  i ^= i >> 33;
  i *= 0xc4ceb9fe1a85ec53ULL;
  i ^= i >> 33;
  return static_cast<float>(i >> 40) / static_cast<float>(1ULL << 23) - 1.0f;
}

// A synthetic 320x240 grey video as pixels x frames: textured background, brightness drift,
// two moving bright squares, sensor noise.
Eigen::MatrixXf video_matrix(Eigen::Index rows, Eigen::Index cols) {
  const Eigen::Index width = 320, height = rows / width;
  Eigen::VectorXf background(rows);
  for (Eigen::Index p = 0; p < rows; ++p)
    background(p) = 0.5f + 0.2f * std::sin(0.05f * (p % width)) * std::cos(0.07f * (p / width)) + 0.05f * hash_noise(p);
  Eigen::MatrixXf a(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j) {
    const float gain = 1.0f + 0.1f * std::sin(0.01f * j);
    auto column = a.col(j);
    for (Eigen::Index p = 0; p < rows; ++p) column(p) = gain * background(p) + 0.01f * hash_noise(j * rows + p + 977);
    for (int object = 0; object < 2; ++object) {
      const Eigen::Index x0 = (j * (3 + object * 2) + object * 100) % (width - 30), y0 = 40 + object * 100;
      for (Eigen::Index y = y0; y < std::min(y0 + 30, height); ++y)
        for (Eigen::Index x = x0; x < x0 + 30; ++x) column(y * width + x) = 0.9f;
    }
  }
  return a;
}

// Measured read bandwidth: a parallel sum over the matrix (bytes / second).
double read_bandwidth(const Eigen::MatrixXf& a, int repeats) {
  volatile float sink = 0;
  const double seconds = median_seconds(repeats, [&] {
    sink = oneapi::tbb::parallel_reduce(
        oneapi::tbb::blocked_range<Eigen::Index>(0, a.cols()), 0.0f,
        [&](const auto& r, float acc) { return acc + a.middleCols(r.begin(), r.size()).sum(); }, std::plus<float>());
  });
  return static_cast<double>(a.size()) * sizeof(float) / seconds;
}

// Counts passes over the matrix: a fused product reads it once, each plain product once.
struct PassCounter {
  using Scalar = float;
  const linalg::DenseOperator<float>& dense;
  mutable int passes = 0;
  Eigen::Index rows() const { return dense.rows(); }
  Eigen::Index cols() const { return dense.cols(); }
  Eigen::MatrixXf multiply(const Eigen::MatrixXf& x) const {
    ++passes;
    return dense.multiply(x);
  }
  Eigen::MatrixXf adjoint_multiply(const Eigen::MatrixXf& y) const {
    ++passes;
    return dense.adjoint_multiply(y);
  }
  linalg::ProductPair<float> multiply_and_adjoint(const Eigen::MatrixXf& x) const {
    ++passes;
    return dense.multiply_and_adjoint(x);
  }
};

// The value of "key" in a flat JSON line, after the first occurrence of "section" when one is named.
std::string json_field(const std::string& json, const std::string& key, const std::string& section = "") {
  const auto from = section.empty() ? 0 : json.find("\"" + section + "\": ");
  const auto at = json.find("\"" + key + "\": ", from == std::string::npos ? 0 : from);
  if (at == std::string::npos) return "";
  auto start = at + key.size() + 4;
  auto end = json[start] == '"' ? json.find('"', ++start) : json.find_first_of(",}", start);
  return json.substr(start, end - start);
}

// The optimal rank-k relative errors (Eckart-Young) from the eigenvalues of A^T A, formed in double.
Eigen::VectorXd optimal_relative_errors(const Eigen::MatrixXf& a) {
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(a.cols(), a.cols());
  for (Eigen::Index r0 = 0; r0 < a.rows(); r0 += 4096) {
    const Eigen::MatrixXd block = a.middleRows(r0, std::min<Eigen::Index>(4096, a.rows() - r0)).cast<double>();
    gram.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
  }
  const Eigen::VectorXd eigenvalues =
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram.selfadjointView<Eigen::Lower>(), Eigen::EigenvaluesOnly)
          .eigenvalues()
          .reverse();
  const double total = eigenvalues.sum();
  Eigen::VectorXd errors(eigenvalues.size());
  double captured = 0;
  for (Eigen::Index k = 0; k < eigenvalues.size(); ++k)
    errors(k) = std::sqrt(std::max(0.0, total - (captured += eigenvalues(k))) / total);
  return errors;  // errors(k - 1) is the best rank-k error
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 7;
  Eigen::Index rows = 76800, cols = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeats")
      repeats = std::stoi(argv[i + 1]);
    else if (flag == "--rows")
      rows = std::stol(argv[i + 1]);
    else if (flag == "--cols")
      cols = std::stol(argv[i + 1]);
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  std::cout << "matrix " << rows << " x " << cols << " float32 (" << rows * cols * 4 / 1e6 << " MB), median of "
            << repeats << " runs, oversampling 10, power iterations 2\n";
  const Eigen::MatrixXf a = video_matrix(rows, cols);
  const double bandwidth = read_bandwidth(a, 9);
  std::printf("measured read bandwidth: %.1f GB/s\n\n", bandwidth / 1e9);

  const auto path = std::filesystem::temp_directory_path() / "cleanplate_bench_matrix.f32";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(float));
  const double norm = a.norm();
  const Eigen::VectorXd optimal = optimal_relative_errors(a);

  std::printf("%-5s %-22s %11s %9s %12s %12s %7s %10s %9s\n", "rank", "method", "median", "speedup", "rel. error",
              "optimal", "passes", "bw floor", "vs floor");
  int status = 0;
  for (Eigen::Index rank : {1, 10}) {
    const linalg::RandomizedSvdOptions options{.rank = rank, .oversampling = 10, .power_iterations = 2};
    const linalg::DenseOperator<float> dense(a);
    PassCounter counter{dense};
    const auto result = linalg::randomized_svd(counter, options);
    const double ours = median_seconds(repeats, [&] { linalg::randomized_svd(dense, options); });
    const double error = linalg::approximation_error(a, result) / norm;

    const std::string command = std::string(CLEANPLATE_SKLEARN_PEER) + " " + path.string() + " " +
                                std::to_string(rows) + " " + std::to_string(cols) + " " + std::to_string(rank) +
                                " 10 2 " + std::to_string(repeats);
    std::string json;
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char buffer[4096];
      while (fgets(buffer, sizeof buffer, pipe)) json += buffer;
      if (pclose(pipe) != 0) json.clear();
    }
    if (json.empty()) {
      std::cerr << "the scikit-learn peer failed (scripts/install-deps.sh installs python3-sklearn)\n";
      status = 1;
      continue;
    }
    const double floor = counter.passes * static_cast<double>(a.size()) * sizeof(float) / bandwidth;
    std::printf("%-5ld %-22s %8.1f ms %9s %12.6f %12.6f %7d %7.1f ms %8.2fx\n", static_cast<long>(rank), "cleanplate",
                ours * 1e3, "", error, optimal(rank - 1), counter.passes, floor * 1e3, ours / floor);
    for (const char* normalizer : {"auto", "QR"}) {
      const double theirs = std::stod(json_field(json, "median_seconds", normalizer));
      std::printf("%-5ld %-22s %8.1f ms %8.2fx %12.6f\n", static_cast<long>(rank),
                  (std::string("sklearn (normalizer ") + normalizer + ")").c_str(), theirs * 1e3, theirs / ours,
                  std::stod(json_field(json, "relative_error", normalizer)));
    }
    if (rank == 10) std::cout << "\nsklearn BLAS: " << json_field(json, "blas") << "\n";
  }
  std::filesystem::remove(path);
  return status;
}
