// What `separate` keeps in memory, from --max-memory: pure functions of the frame size, the method
// and the budget, so they are tested on their own.
//
// A video whose frame matrix fits (its frames' 8-bit levels, the method's working copies of the
// fitted frames, up to 128 frames as floats for the noise model and the robust start, and the
// split's buffers) is read once. A longer one is read twice: first an evenly spaced sample of as many
// frames as fit (at most 512: the model never fits more), then every frame, split as it is decoded.
#pragma once
#include <cstdint>

#include "cleanplate/stages/decompose.hpp"
#include "cleanplate/stages/frame_column.hpp"

namespace cleanplate::pipeline {

class MemoryPlan {
 public:
  static constexpr long most_fitted_frames = 512;  // the model is fitted on at most this many frames
  static constexpr long fewest_sampled_frames = 16;

  MemoryPlan(const stages::FrameGeometry& geometry, stages::Method method, long rank, long frames_in_flight,
             std::int64_t max_memory);

  // Bytes of a run that keeps `frames` frames in its matrix.
  double needed_bytes(long frames) const;
  bool fits(long frames) const { return needed_bytes(frames) <= static_cast<double>(max_memory_); }
  // Throws the one-line error that says what does not fit, and what to do, when `frames` do not fit.
  void check(long frames) const;
  // The sample for a video of `frames` frames that does not fit: as many frames as the budget holds,
  // at most most_fitted_frames and `frames`; throws when not even fewest_sampled_frames (or the rank) fit.
  long sample_size(long frames) const;
  // The frames a matrix of unknown final length starts with.
  long first_capacity() const;
  // The frames the split keeps in flight: fewer than the read, two cores stay busy with 8.
  long split_frames_in_flight() const;
  std::int64_t max_memory() const { return max_memory_; }

 private:
  double matrix_bytes(long frames) const;
  double split_bytes() const;

  stages::FrameGeometry geometry_;
  double bytes_per_value_;
  long rank_, frames_in_flight_;
  std::int64_t max_memory_;
};

// The stride of the columns the model is fitted on: every s-th column of a matrix of `columns`,
// at most MemoryPlan::most_fitted_frames of them.
long fitted_stride(long columns);

}  // namespace cleanplate::pipeline
