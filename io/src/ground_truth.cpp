#include "cleanplate/io/ground_truth.hpp"

#include <algorithm>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/io/video_source.hpp"

namespace cleanplate::io {
namespace fs = std::filesystem;

namespace {

fs::path input_folder(const fs::path& folder) {
  return fs::is_directory(folder / "input") ? folder / "input" : folder / "in";
}

}  // namespace

bool is_cdnet_sequence(const fs::path& folder) {
  return fs::is_directory(input_folder(folder)) && fs::is_directory(folder / "groundtruth");
}

CdnetSequence open_cdnet_sequence(const fs::path& folder) {
  CdnetSequence s;
  s.folder = folder;
  s.input = input_folder(folder);
  s.groundtruth = folder / "groundtruth";
  for (const auto& need : {s.input, s.groundtruth})
    if (!fs::is_directory(need))
      throw Error("'" + folder.string() + "' is not a sequence with ground truth: no folder '" +
                  need.filename().string() + "'" + (need == s.input ? " (or 'input')" : ""));
  const std::vector<std::string> frames = list_images(s.input.string());
  if (frames.empty()) throw Error("'" + s.input.string() + "' holds no images");
  // Frames and labels pair by the numbers in their names; the first frame's number is position 1.
  const long base = std::max(0L, file_number(frames.front())), count = static_cast<long>(frames.size());
  for (const auto& file : list_images(s.groundtruth.string()))
    if (const long number = file_number(file); number >= base && number < base + count)
      s.label_files[number - base + 1] = file;
  s.first = 1, s.last = count;
  if (std::ifstream roi_text(folder / "temporalROI.txt"); roi_text) {
    long first = 0, last = 0;
    if (!(roi_text >> first >> last) || last < first || last < base || first >= base + count)
      throw Error("'" + (folder / "temporalROI.txt").string() +
                  "' does not hold two frame numbers within the sequence's " + std::to_string(base) + ".." +
                  std::to_string(base + count - 1));
    s.first = std::max(first, base) - base + 1;
    s.last = std::min(last, base + count - 1) - base + 1;  // some sets name one frame past the last
  }
  if (s.label_files.empty())
    throw Error("'" + s.groundtruth.string() + "' holds no label image numbered like the frames");
  if (fs::exists(folder / "ROI.bmp")) s.roi = cv::imread((folder / "ROI.bmp").string(), cv::IMREAD_GRAYSCALE);
  return s;
}

cv::Mat CdnetSequence::labels(long position) const {
  const auto file = label_files.find(position);
  if (file == label_files.end())
    throw Error("'" + groundtruth.string() + "' has no label image for frame " + std::to_string(position));
  cv::Mat gt = cv::imread(file->second.string(), cv::IMREAD_GRAYSCALE);
  if (gt.empty()) throw Error("cannot read ground truth '" + file->second.string() + "'");
  return gt;
}

std::vector<fs::path> find_sequences(const std::vector<fs::path>& paths) {
  std::vector<fs::path> sequences;
  for (const auto& path : paths) {
    if (is_cdnet_sequence(path)) {
      sequences.push_back(path);
      continue;
    }
    std::vector<std::string> inside;
    if (fs::is_directory(path))
      for (const auto& entry : fs::directory_iterator(path))
        if (entry.is_directory() && is_cdnet_sequence(entry.path())) inside.push_back(entry.path().string());
    if (inside.empty())
      throw Error("'" + path.string() +
                  "' is neither a sequence (input/ or in/, groundtruth/) nor a folder of sequences");
    std::sort(inside.begin(), inside.end(), natural_less);
    sequences.insert(sequences.end(), inside.begin(), inside.end());
  }
  return sequences;
}

}  // namespace cleanplate::io
