// Frames <-> matrix columns. A frame is optionally downscaled and turned grey, then stored row by
// row (colour frames interleaved B, G, R) as one column: its 8-bit levels (the frame matrix), or
// floats in [0, 1] (per-frame work).
#pragma once
#include <Eigen/Core>
#include <opencv2/core.hpp>

#include "cleanplate/stages/frame_matrix.hpp"

namespace cleanplate::stages {

struct ConvertOptions {
  double scale = 1.0;  // (0, 1]: output size = round(scale x input size)
  bool color = false;  // keep three channels (default: grey)
};

struct FrameGeometry {
  int width = 0, height = 0, channels = 1;
  Eigen::Index pixels() const { return static_cast<Eigen::Index>(width) * height; }
  Eigen::Index values() const { return pixels() * channels; }  // rows of the matrix
};

FrameGeometry geometry_for(cv::Size source, const ConvertOptions& options);

// Writes the converted frame's levels into `column` (geometry.values() rows).
void frame_to_levels(const cv::Mat& frame, const FrameGeometry& geometry, Eigen::Ref<FrameColumnLevels> column);

// A converted frame (8-bit, continuous: convert_frame's result) seen as a column of levels,
// without a copy.
Eigen::Map<const FrameColumnLevels> image_levels(const cv::Mat& image);

// A column of levels seen as an image of the output geometry, without a copy.
cv::Mat levels_image(const Eigen::Ref<const FrameColumnLevels>& column, const FrameGeometry& geometry);

// The converted frame as an 8-bit image of the output geometry (what the matrix holds), continuous.
cv::Mat convert_frame(const cv::Mat& frame, const FrameGeometry& geometry);

// A column back to an 8-bit image (values clamped to [0, 1]).
cv::Mat column_to_image(const Eigen::Ref<const Eigen::VectorXf>& column, const FrameGeometry& geometry);

}  // namespace cleanplate::stages
