// FrameMatrix: frames as the columns of a preallocated column-major float matrix (each frame is
// contiguous). It grows geometrically when a source has more frames than announced.
#pragma once
#include <Eigen/Core>

namespace cleanplate::stages {

class FrameMatrix {
 public:
  FrameMatrix(Eigen::Index rows, Eigen::Index expected_columns);
  // Column j, allocating room for it if needed. Not thread-safe when it grows: callers that write
  // columns in parallel reserve first (reserve() is called from the serial decode step).
  Eigen::Ref<Eigen::VectorXf> column(Eigen::Index j) { return storage_.col(j); }
  void reserve(Eigen::Index columns);
  void set_count(Eigen::Index columns) { count_ = columns; }
  Eigen::Index count() const { return count_; }
  // The first count() columns, without a copy.
  Eigen::Block<const Eigen::MatrixXf, Eigen::Dynamic, Eigen::Dynamic, true> view() const { return storage_.leftCols(count_); }

 private:
  Eigen::MatrixXf storage_;
  Eigen::Index count_ = 0;
};

}  // namespace cleanplate::stages
