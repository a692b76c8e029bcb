// FrameMatrix: frames as the columns of a preallocated column-major matrix of their 8-bit levels
// (each frame is contiguous), 4x smaller than floats. Products read it through
// linalg::DenseOperator<float, std::uint8_t>, which converts a cached block at a time; per-frame
// work takes a column as floats in [0, 1] (frame_values). It grows geometrically when a source has
// more frames than announced. On Linux the storage asks for transparent huge pages: a video-sized
// matrix is touched once per column, and 4 KiB page faults would cost more than the copy itself.
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace cleanplate::stages {

using FrameLevels = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;  // values x frames
using FrameColumnLevels = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, 1>;
using FramesRef = Eigen::Ref<const FrameLevels>;
constexpr float level_step = 1.0f / 255;  // a level's value in [0, 1]

// A column (or any block) of levels as floats in [0, 1].
template <typename Derived>
auto frame_values(const Eigen::DenseBase<Derived>& levels) {
  return levels.template cast<float>() * level_step;
}

// The squared norm of a column's values (frame_values), summed exactly in integers: GCC vectorizes
// that, where the chain of casts to float and double ran one value at a time.
double values_squared_norm(const Eigen::Ref<const FrameColumnLevels>& levels);

class FrameMatrix {
 public:
  FrameMatrix(Eigen::Index rows, Eigen::Index expected_columns);
  // Column j < capacity(). Writers in parallel are safe as long as nobody calls reserve().
  Eigen::Ref<FrameColumnLevels> column(Eigen::Index j) { return storage_.col(j); }
  Eigen::Index capacity() const { return storage_.cols(); }
  void reserve(Eigen::Index columns);  // may move the storage; keeps every column, counted or not
  void set_count(Eigen::Index columns) { count_ = columns; }
  Eigen::Index count() const { return count_; }
  // The first count() columns, without a copy.
  FramesRef view() const { return storage_.leftCols(count_); }

 private:
  FrameLevels storage_;
  Eigen::Index count_ = 0;
};

}  // namespace cleanplate::stages
