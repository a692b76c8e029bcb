// Parallel passes over the rows of tall matrices (a frame's pixels), a block of rows at a time:
//
//   for_each_row_block(rows, 4096, [&](Eigen::Index first, Eigen::Index count) { ... });
//   Eigen::MatrixXd sum = sum_over_row_blocks(rows, 4096, [&](Eigen::Index first, Eigen::Index count) {
//     return (U.middleRows(first, count).transpose() * x.segment(first, count)).eval();
//   });
//
// A block stays in cache while several steps work on it, and the blocks run on every core. Sums are
// added in block order, in double: the same figures whatever the number of threads. With `step` > 1
// only every step-th block is visited (the middle one of each step rows), an even sample of the rows.
#pragma once
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <Eigen/Core>
#include <algorithm>
#include <vector>

namespace cleanplate::linalg {

// The number of blocks visited.
inline Eigen::Index row_blocks(Eigen::Index rows, Eigen::Index block, Eigen::Index step = 1) {
  const Eigen::Index blocks = (rows + block - 1) / block;
  return (blocks - step / 2 + step - 1) / step;
}

// The `step` that visits evenly spaced blocks of about `sampled` rows in all (every block when the
// rows hold fewer than twice that): for fits whose error over n rows is sigma / sqrt(n), so their
// work stops growing with the rows once that error is far below the noise.
inline Eigen::Index sampling_step(Eigen::Index rows, Eigen::Index block, Eigen::Index sampled) {
  return std::max<Eigen::Index>(1, row_blocks(rows, block) / std::max<Eigen::Index>(1, sampled / block));
}

// The first row of the `visited`-th block visited with `step`: the middle block of each step.
inline Eigen::Index row_block_first(Eigen::Index visited, Eigen::Index block, Eigen::Index step) {
  return (visited * step + step / 2) * block;
}

template <typename Work>
void for_each_row_block(Eigen::Index rows, Eigen::Index block, const Work& work, Eigen::Index step = 1) {
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<Eigen::Index>(0, row_blocks(rows, block, step)),
                            [&](const auto& visited) {
                              for (Eigen::Index i = visited.begin(); i < visited.end(); ++i) {
                                const Eigen::Index first = row_block_first(i, block, step);
                                work(first, std::min(block, rows - first));
                              }
                            });
}

// partial(first, count) returns an Eigen matrix (any scalar type), the same size for every block.
template <typename Partial>
Eigen::MatrixXd sum_over_row_blocks(Eigen::Index rows, Eigen::Index block, const Partial& partial,
                                    Eigen::Index step = 1) {
  std::vector<Eigen::MatrixXd> partials(static_cast<std::size_t>(row_blocks(rows, block, step)));
  for_each_row_block(
      rows, block,
      [&](Eigen::Index first, Eigen::Index count) {
        partials[static_cast<std::size_t>(first / block / step)] = partial(first, count).template cast<double>();
      },
      step);
  Eigen::MatrixXd sum = partials.front();
  for (std::size_t b = 1; b < partials.size(); ++b) sum += partials[b];
  return sum;
}

}  // namespace cleanplate::linalg
