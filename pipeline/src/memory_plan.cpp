#include "cleanplate/pipeline/memory_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include "cleanplate/error.hpp"

namespace cleanplate::pipeline {
namespace {

// "1.50 GiB", or "12.0 MiB" below a gibibyte.
std::string size_text(double bytes) {
  char text[32];
  if (bytes < 1024.0 * 1024 * 1024)
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024));
  else
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return text;
}

std::string frame_text(const stages::FrameGeometry& g) {
  return std::to_string(g.width) + "x" + std::to_string(g.height) + "x" + std::to_string(g.channels);
}

// Bytes per value of a fitted frame: the frame matrix's (8-bit) and the buffers the method keeps:
// GoDec's float working copy and residual magnitudes; robust PCA's working copy, multiplier Y,
// sparse part S and thresholding target.
double bytes_per_value(stages::Method method) {
  switch (method) {
    case stages::Method::svd:
    case stages::Method::robust:
      return 1;
    case stages::Method::godec:
      return 9;
    case stages::Method::robust_pca:
      break;
  }
  return 17;
}

}  // namespace

MemoryPlan::MemoryPlan(const stages::FrameGeometry& geometry, stages::Method method, long rank, long frames_in_flight,
                       std::int64_t max_memory, bool codes_model_stream)
    : geometry_(geometry),
      bytes_per_value_(bytes_per_value(method)),
      rank_(rank),
      frames_in_flight_(frames_in_flight),
      codes_model_stream_(codes_model_stream),
      max_memory_(max_memory) {}

// `frames` in the matrix, of which the method fits at most most_fitted_frames().
double MemoryPlan::matrix_bytes(long frames) const {
  const double fitted = static_cast<double>(std::min(frames, most_fitted_frames()));
  return (static_cast<double>(frames) + fitted * (bytes_per_value_ - 1)) * static_cast<double>(geometry_.values());
}

long MemoryPlan::split_frames_in_flight() const { return std::min(frames_in_flight_, 4L); }

// What the split holds besides the frames kept: the frames in flight (8-bit, float and the images
// made from them), the refit's sums, the video encoders' lookahead and the model stream's frames.
double MemoryPlan::split_bytes() const {
  const double values = static_cast<double>(geometry_.values()), pixels = static_cast<double>(geometry_.pixels()),
               k = static_cast<double>(rank_);
  return 8e6 + static_cast<double>(split_frames_in_flight()) * values * 16 + pixels * 8 * (k * k + 3 * k) +
         pixels * 120 + (codes_model_stream_ ? values * bytes_per_value_for_model_stream : 0);
}

double MemoryPlan::needed_bytes(long frames) const { return matrix_bytes(frames) + split_bytes(); }

void MemoryPlan::check(long frames) const {
  if (fits(frames)) return;
  char per_value[16];
  std::snprintf(per_value, sizeof per_value, "%g", bytes_per_value_);
  throw Error("the frame matrix" +
              std::string(bytes_per_value_ > 1 ? " and the method's working copies need " : " needs ") +
              size_text(needed_bytes(frames)) + " (" + std::to_string(frames) + " frames of " + frame_text(geometry_) +
              " values, " + per_value + " bytes each, and the split's buffers), more than --max-memory " +
              size_text(static_cast<double>(max_memory_)) + ": use --scale, --frames or a larger --max-memory");
}

long MemoryPlan::sample_size(long frames) const {
  const long fewest = std::max(fewest_sampled_frames, rank_);
  const double budget = static_cast<double>(max_memory_);
  if (!fits(fewest))
    throw Error("--max-memory " + size_text(budget) + " is too small for " + frame_text(geometry_) +
                " frames: a sample of " + std::to_string(fewest) + " frames and the frames in flight need " +
                size_text(needed_bytes(fewest)) + "; use --scale or a larger --max-memory");
  // Up to most_fitted_frames(), each frame costs matrix_bytes(1): its levels and the method's copies.
  const long fitting = static_cast<long>((budget - split_bytes()) / matrix_bytes(1));
  return std::min({fitting, most_fitted_frames(), frames});
}

long MemoryPlan::first_capacity() const {
  return std::clamp(static_cast<long>((static_cast<double>(max_memory_) - split_bytes()) / matrix_bytes(1)), 1L, 256L);
}

std::int64_t default_memory_budget(const MemoryPlan& plan, std::int64_t physical_memory) {
  const std::int64_t usual = std::min<std::int64_t>(physical_memory / 4, std::int64_t{1} << 30);
  if (plan.needed_bytes(MemoryPlan::fewest_sampled_frames) <= static_cast<double>(usual)) return usual;
  return std::min(physical_memory / 2, static_cast<std::int64_t>(plan.needed_bytes(plan.most_fitted_frames())));
}

long fitted_frames(long values) { return std::clamp((1L << 27) / std::max(values, 1L), 128L, 512L); }

long fitted_stride(long columns, long most) { return std::max(1L, (columns + most - 1) / most); }

}  // namespace cleanplate::pipeline
