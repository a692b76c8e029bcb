#include "cleanplate/stages/preview.hpp"

#include <opencv2/imgproc.hpp>

namespace cleanplate::stages {

cv::Mat contact_sheet(const std::vector<PreviewRow>& rows, int cell_width) {
  std::vector<cv::Mat> lines;
  for (const auto& row : rows) {
    std::vector<cv::Mat> cells;
    for (const cv::Mat& cell : {row.original, row.background, row.foreground, row.mask}) {
      cv::Mat bgr;
      if (cell.channels() == 1)
        cv::cvtColor(cell, bgr, cv::COLOR_GRAY2BGR);
      else
        bgr = cell;
      if (bgr.cols > cell_width)
        cv::resize(bgr, bgr, {cell_width, std::max(1, bgr.rows * cell_width / bgr.cols)}, 0, 0, cv::INTER_AREA);
      cv::copyMakeBorder(bgr, bgr, 2, 2, 2, 2, cv::BORDER_CONSTANT, cv::Scalar(40, 40, 40));
      cells.push_back(bgr);
    }
    cv::Mat line;
    cv::hconcat(cells, line);
    lines.push_back(line);
  }
  cv::Mat sheet;
  if (!lines.empty()) cv::vconcat(lines, sheet);
  return sheet;
}

}  // namespace cleanplate::stages
