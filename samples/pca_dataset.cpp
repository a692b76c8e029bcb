// PCA on a data set: how many directions hold a cloud of points, and what the rest is worth.
// The data: 2,000 samples of 50 features that lie near a 3-dimensional subspace (plus a little noise
// in every feature), or a CSV file of numbers, one sample per line.
//   cleanplate-pca [DATA.csv]
#include <cleanplate/linalg.hpp>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

Eigen::MatrixXd read_csv(const char* path) {
  std::ifstream file(path);
  if (!file) throw cleanplate::Error(std::string("cannot read '") + path + "'");
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(file, line);) {
    std::vector<double> row;
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) row.push_back(std::stod(cell));
    if (!row.empty()) rows.push_back(std::move(row));
  }
  if (rows.empty()) throw cleanplate::Error(std::string("no numbers in '") + path + "'");
  Eigen::MatrixXd data(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows[0].size()));
  for (Eigen::Index i = 0; i < data.rows(); ++i) {
    if (rows[static_cast<std::size_t>(i)].size() != static_cast<std::size_t>(data.cols()))
      throw cleanplate::Error("line " + std::to_string(i + 1) + " has a different number of values");
    data.row(i) = Eigen::Map<const Eigen::RowVectorXd>(rows[static_cast<std::size_t>(i)].data(), data.cols());
  }
  return data;
}

Eigen::MatrixXd near_a_subspace(Eigen::Index samples, Eigen::Index features, Eigen::Index dimensions) {
  std::mt19937_64 engine(7);
  std::normal_distribution<double> normal;
  const auto gaussian = [&](Eigen::Index rows, Eigen::Index cols) {
    return Eigen::MatrixXd(Eigen::MatrixXd::NullaryExpr(rows, cols, [&] { return normal(engine); }));
  };
  Eigen::VectorXd scales(dimensions);
  for (Eigen::Index d = 0; d < dimensions; ++d) scales(d) = 10.0 / static_cast<double>(d + 1);  // 10, 5, 3.3
  return gaussian(samples, dimensions) * scales.asDiagonal() * gaussian(dimensions, features) +
         0.1 * gaussian(samples, features);
}

}  // namespace

int main(int argc, char** argv) try {
  const Eigen::MatrixXd data = argc > 1 ? read_csv(argv[1]) : near_a_subspace(2000, 50, 3);
  const auto pca = cleanplate::linalg::Pca<double>::fit(data);
  std::printf("%ld samples x %ld features\n%9s %10s %10s\n", static_cast<long>(data.rows()),
              static_cast<long>(data.cols()), "component", "variance", "cumulative");
  double cumulative = 0;
  const Eigen::VectorXd ratio = pca.explained_variance_ratio();
  for (Eigen::Index c = 0; c < std::min<Eigen::Index>(ratio.size(), 8); ++c) {
    cumulative += ratio(c);
    std::printf("%9ld %9.2f%% %9.2f%%\n", static_cast<long>(c + 1), 100 * ratio(c), 100 * cumulative);
  }
  // Keep the components that hold 99% of the variance; what the rest held comes back as error.
  Eigen::Index kept = 0;
  for (double sum = 0; kept < ratio.size() && sum < 0.99; ++kept) sum += ratio(kept);
  const auto reduced = cleanplate::linalg::Pca<double>::fit(data, {.components = kept});
  const Eigen::MatrixXd rebuilt = reduced.inverse_transform(reduced.transform(data));
  std::printf("%ld components hold 99%% of the variance; rebuilt from them, RMS error %.4f (data RMS %.4f)\n",
              static_cast<long>(kept), std::sqrt((rebuilt - data).squaredNorm() / static_cast<double>(data.size())),
              std::sqrt(data.squaredNorm() / static_cast<double>(data.size())));
} catch (const std::exception& e) {
  std::fprintf(stderr, "cleanplate-pca: %s\n", e.what());
  return 1;
}
