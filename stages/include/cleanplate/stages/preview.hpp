// A contact sheet that shows a result at a glance: one row per sampled frame,
// original | background | foreground | mask.
#pragma once
#include <opencv2/core.hpp>
#include <vector>

namespace cleanplate::stages {

struct PreviewRow {
  cv::Mat original, background, foreground, mask;  // 8-bit, same size; grey or BGR
};

// Cells wider than `cell_width` are shrunk to it, so the sheet stays viewable for large frames.
cv::Mat contact_sheet(const std::vector<PreviewRow>& rows, int cell_width = 320);

}  // namespace cleanplate::stages
