// Sequences with ground-truth masks, in the CDnet layout and its variants (SBI2015 as distributed
// with FgSegNet): input/ or in/ with the frames, groundtruth/ with one label image per frame
// (gtNNNNNN.png, numbered like the frames, from 0 or from 1), temporalROI.txt (the first and last
// frame scored, in the files' own numbering; absent: every frame) and ROI.bmp (optional).
#pragma once
#include <filesystem>
#include <map>
#include <opencv2/core.hpp>
#include <vector>

namespace cleanplate::io {

struct CdnetSequence {
  std::filesystem::path folder;
  std::filesystem::path input;        // folder of input frames
  std::filesystem::path groundtruth;  // folder of label images
  long first = 1, last = 0;           // scored frames: 1-based positions in the input's natural order, inclusive
  cv::Mat roi;                        // 8-bit, non-zero inside the spatial ROI (empty: everywhere)
  std::map<long, std::filesystem::path> label_files;  // by 1-based position

  std::string name() const { return folder.filename().string(); }
  // Ground truth of the frame at 1-based `position`, 8-bit labels 0/50/85/170/255; throws when missing.
  cv::Mat labels(long position) const;
};

// Reads the layout; throws cleanplate::Error naming what is missing.
CdnetSequence open_cdnet_sequence(const std::filesystem::path& folder);

// Whether `folder` holds a sequence (input/ or in/, and groundtruth/).
bool is_cdnet_sequence(const std::filesystem::path& folder);

// Each path that is a sequence, or else the sequences directly inside it (natural order); throws
// naming a path that is neither.
std::vector<std::filesystem::path> find_sequences(const std::vector<std::filesystem::path>& paths);

}  // namespace cleanplate::io
