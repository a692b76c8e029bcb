// CDnet sequences: input/, groundtruth/gtNNNNNN.png, temporalROI.txt, ROI.bmp.
#pragma once
#include <filesystem>
#include <opencv2/core.hpp>
#include <utility>

namespace cleanplate::io {

struct CdnetSequence {
  std::filesystem::path folder;
  std::filesystem::path input;        // folder of input frames
  std::filesystem::path groundtruth;  // folder of gt%06d.png
  long first = 1, last = 0;           // temporal ROI, 1-based frame numbers, inclusive
  cv::Mat roi;                        // 8-bit, non-zero inside the spatial ROI (empty: everywhere)

  // Ground truth of frame `number` (1-based), 8-bit labels 0/50/85/170/255; throws when missing.
  cv::Mat labels(long number) const;
};

// Reads the layout; throws cleanplate::Error naming what is missing.
CdnetSequence open_cdnet_sequence(const std::filesystem::path& folder);

}  // namespace cleanplate::io
