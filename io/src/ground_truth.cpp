#include "cleanplate/io/ground_truth.hpp"

#include <cstdio>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "cleanplate/error.hpp"

namespace cleanplate::io {
namespace fs = std::filesystem;

CdnetSequence open_cdnet_sequence(const fs::path& folder) {
  CdnetSequence s;
  s.folder = folder;
  s.input = folder / "input";
  s.groundtruth = folder / "groundtruth";
  for (const auto& need : {s.input, s.groundtruth})
    if (!fs::is_directory(need)) throw Error("'" + folder.string() + "' is not a CDnet sequence: no folder '" + need.filename().string() + "'");
  std::ifstream roi_text(folder / "temporalROI.txt");
  if (!(roi_text >> s.first >> s.last) || s.first < 1 || s.last < s.first)
    throw Error("'" + (folder / "temporalROI.txt").string() + "' is missing or does not hold two frame numbers");
  if (fs::exists(folder / "ROI.bmp")) s.roi = cv::imread((folder / "ROI.bmp").string(), cv::IMREAD_GRAYSCALE);
  return s;
}

cv::Mat CdnetSequence::labels(long number) const {
  char name[32];
  std::snprintf(name, sizeof name, "gt%06ld.png", number);
  cv::Mat gt = cv::imread((groundtruth / name).string(), cv::IMREAD_GRAYSCALE);
  if (gt.empty()) throw Error("cannot read ground truth '" + (groundtruth / name).string() + "'");
  return gt;
}

}  // namespace cleanplate::io
