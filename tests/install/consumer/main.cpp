// A program outside the project: uses the installed library, fails if the answer is wrong.
#include <cleanplate/linalg.hpp>
#include <iostream>

int main() {
  Eigen::MatrixXd a = Eigen::VectorXd::LinSpaced(50, 1, 2) * Eigen::RowVectorXd::LinSpaced(20, 1, 3);
  const auto svd = cleanplate::linalg::randomized_svd(a, {.rank = 1});
  const double error = cleanplate::linalg::approximation_error(a, svd);
  std::cout << "rank-1 error " << error << "\n";
  return error < 1e-10 ? 0 : 1;
}
