#include "cleanplate/stages/frame_matrix.hpp"

namespace cleanplate::stages {

FrameMatrix::FrameMatrix(Eigen::Index rows, Eigen::Index expected_columns)
    : storage_(rows, std::max<Eigen::Index>(expected_columns, 1)) {}

void FrameMatrix::reserve(Eigen::Index columns) {
  if (columns <= storage_.cols()) return;
  storage_.conservativeResize(Eigen::NoChange, std::max(columns, storage_.cols() * 3 / 2 + 1));
}

}  // namespace cleanplate::stages
