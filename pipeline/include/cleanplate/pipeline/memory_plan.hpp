// What `separate` keeps in memory, from --max-memory: pure functions of the frame size, the method
// and the budget, so they are tested on their own.
//
// A video whose frame matrix fits (its frames' 8-bit levels, the method's working copies of the
// fitted frames and the split's buffers) is read once. A longer one is read twice: first an evenly spaced sample of as
// many frames as fit (at most fitted_frames(): the model never fits more), then every frame, split as it is decoded.
#pragma once
#include <cstdint>

#include "cleanplate/stages/decompose.hpp"
#include "cleanplate/stages/frame_column.hpp"

namespace cleanplate::pipeline {

// The most frames the model is fitted on, for frames of `values` values: 512 up to 2^18 values, then
// as many as 2^27 values (a 512-frame fit of 2^18) hold, down to 128 for frames of 2^20 values and
// more. Each pass of the fit reads every fitted value, so its work stays that of a 2^18 fit; 128
// evenly spaced frames still span the whole video for the mode, and a pixel's factor fitted over
// n >= 64 inlier frames carries an error of sigma / sqrt(n) <= sigma / 8: 1/64 of the noise's
// variance, nothing a threshold of several noise levels can see.
long fitted_frames(long values);

class MemoryPlan {
 public:
  static constexpr long fewest_sampled_frames = 16;

  // `codes_model_stream`: model.npz version 2 is written, whose libx264 encoder and writer hold
  // frames of their own (bytes_per_value_for_model_stream each value).
  MemoryPlan(const stages::FrameGeometry& geometry, stages::Method method, long rank, long frames_in_flight,
             std::int64_t max_memory, bool codes_model_stream = false);

  // The model stream's bytes per value of a frame: libx264 holds about 17 frames (10 of lookahead,
  // B-frames and references), each padded with its half-pel planes and a quarter-size copy, and the
  // writer keeps 2 bytes a value of each frame the encoder has not returned. Measured at 1920x1080
  // grey: libx264 143 MB (69 bytes a value), the writer about 14 frames.
  static constexpr double bytes_per_value_for_model_stream = 100;

  // Bytes of a run that keeps `frames` frames in its matrix.
  double needed_bytes(long frames) const;
  bool fits(long frames) const { return needed_bytes(frames) <= static_cast<double>(max_memory_); }
  // Throws the one-line error that says what does not fit, and what to do, when `frames` do not fit.
  void check(long frames) const;
  // The sample for a video of `frames` frames that does not fit: as many frames as the budget holds,
  // at most fitted_frames() and `frames`; throws when not even fewest_sampled_frames (or the rank) fit.
  long sample_size(long frames) const;
  // The frames a matrix of unknown final length starts with.
  long first_capacity() const;
  // The frames the split keeps in flight: 4, fewer than the read. Its serial writers bound its speed,
  // not its frames: separate's default outputs at 640x480 to 1920x1080 ran as fast as with 8, and
  // 70 MB smaller at 1080p.
  long split_frames_in_flight() const;
  std::int64_t max_memory() const { return max_memory_; }
  // The most frames the model is fitted on (pipeline::fitted_frames of the frame's values).
  long most_fitted_frames() const { return fitted_frames(geometry_.values()); }

 private:
  double matrix_bytes(long frames) const;
  double split_bytes() const;

  stages::FrameGeometry geometry_;
  double bytes_per_value_;
  long rank_, frames_in_flight_;
  bool codes_model_stream_;
  std::int64_t max_memory_;
};

// The budget when --max-memory is not given, for a machine of `physical_memory` bytes: 1 GiB, at most
// a quarter of the machine (a video whose frames need more is sampled and decoded twice, which at
// 1080p is faster than holding every frame, as well as smaller). When that does not hold even the
// smallest sample beside the split's buffers (3840x2160, or 1920x1080 in colour), refusing to run
// would serve no one: the budget is then what the largest sample needs, at most half the machine.
// `plan`'s own budget is not used.
std::int64_t default_memory_budget(const MemoryPlan& plan, std::int64_t physical_memory);

// The stride of the columns the model is fitted on: every s-th column of a matrix of `columns`,
// at most `most` of them.
long fitted_stride(long columns, long most);

}  // namespace cleanplate::pipeline
