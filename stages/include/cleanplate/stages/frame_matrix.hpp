// FrameMatrix: frames as the columns of a preallocated column-major float matrix (each frame is
// contiguous). It grows geometrically when a source has more frames than announced. On Linux the
// storage asks for transparent huge pages: a video-sized matrix is touched once per column, and
// 4 KiB page faults would cost more than the copy itself.
#pragma once
#include <Eigen/Core>

namespace cleanplate::stages {

class FrameMatrix {
 public:
  FrameMatrix(Eigen::Index rows, Eigen::Index expected_columns);
  // Column j < capacity(). Writers in parallel are safe as long as nobody calls reserve().
  Eigen::Ref<Eigen::VectorXf> column(Eigen::Index j) { return storage_.col(j); }
  Eigen::Index capacity() const { return storage_.cols(); }
  void reserve(Eigen::Index columns);  // may move the storage
  void set_count(Eigen::Index columns) { count_ = columns; }
  Eigen::Index count() const { return count_; }
  // The first count() columns, without a copy.
  Eigen::Block<const Eigen::MatrixXf, Eigen::Dynamic, Eigen::Dynamic, true> view() const { return storage_.leftCols(count_); }

 private:
  Eigen::MatrixXf storage_;
  Eigen::Index count_ = 0;
};

}  // namespace cleanplate::stages
