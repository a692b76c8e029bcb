// `cleanplate eval` as a function: scores cleanplate and OpenCV's background subtractors (MOG2 and
// KNN at their defaults, shadows counted as background) on one CDnet sequence, by CDnet's rules
// (labels 0 and 50 background, 255 foreground, 85 and 170 ignored; the temporal ROI and ROI.bmp),
// and scores folders of existing masks (binNNNNNN.png) the same way.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "cleanplate/io/ground_truth.hpp"
#include "cleanplate/pipeline/separate.hpp"
#include "cleanplate/stages/metrics.hpp"

namespace cleanplate::pipeline {

struct EvaluateOptions {
  std::filesystem::path sequence;                     // input/, groundtruth/, temporalROI.txt, ROI.bmp
  std::filesystem::path output = "eval";              // eval.csv, eval.json, f_measure.png, cleanplate-METHOD/
  std::vector<stages::Method> methods = {stages::Method::robust};  // cleanplate methods to run
  bool opencv = true;                                 // also run MOG2 and KNN
  std::vector<std::filesystem::path> mask_folders;    // existing masks to score
  SeparateOptions separate;                           // rank, scale, colour, mask options for cleanplate
};

struct EvaluationRow {
  std::string name;
  stages::ConfusionCounts counts;
  double seconds = 0;  // wall time of the method (0 for existing masks)
  long frames = 0;     // frames it processed
};

struct EvaluateResult {
  std::vector<EvaluationRow> rows;
  std::vector<std::string> files;  // written, relative to the output folder
};

EvaluateResult evaluate(const EvaluateOptions& options);

// CDnet scores of masks/binNNNNNN.png over a sequence's temporal ROI; masks of another size (from
// --scale) are resized to the ground truth's with nearest-neighbour. Throws naming a missing mask.
stages::ConfusionCounts score_mask_folder(const std::filesystem::path& folder, const io::CdnetSequence& sequence);

// The table `cleanplate eval` prints: one row per method, CDnet's seven measures and fps.
std::string format_table(const std::vector<EvaluationRow>& rows);

}  // namespace cleanplate::pipeline
