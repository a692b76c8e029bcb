// `cleanplate eval` as a function: scores cleanplate (each batch method, and the online decomposer of
// `live` run over the frames without dropping any) and OpenCV's background subtractors (MOG2 and
// KNN at their defaults, shadows counted as background) on one or more sequences with ground truth
// (io/ground_truth.hpp), by CDnet's rules (labels 0 and 50 background, 255 foreground, 85 and 170
// ignored; the temporal ROI and ROI.bmp), per sequence and as the mean F-measure over them, and
// scores folders of existing masks (binNNNNNN.png) the same way (one sequence only).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "cleanplate/io/ground_truth.hpp"
#include "cleanplate/pipeline/separate.hpp"
#include "cleanplate/stages/metrics.hpp"

namespace cleanplate::pipeline {

struct EvaluateOptions {
  std::vector<std::filesystem::path> sequences;  // sequences, or folders of sequences
  std::filesystem::path output = "eval";         // eval.csv, eval.json, f_measure.png, SEQUENCE/cleanplate-METHOD/
  std::vector<stages::Method> methods = {stages::Method::robust};  // cleanplate batch methods to run
  bool live = false;                                               // also the online decomposer of `cleanplate live`
  bool opencv = true;                                              // also run MOG2 and KNN
  std::vector<std::filesystem::path> mask_folders;                 // existing masks to score
  SeparateOptions separate;                                        // rank, scale, colour, mask options for cleanplate
};

struct EvaluationRow {
  std::string sequence;
  std::string name;
  stages::ConfusionCounts counts;
  double seconds = 0;  // wall time of the method (0 for existing masks)
  long frames = 0;     // frames it processed
};

// A method over all the sequences: the mean of its F-measures (each sequence weighs the same, as in
// CDnet's category scores) and its frames per second over all of them.
struct MethodMean {
  std::string name;
  double f_measure = 0, fps = 0;
};

struct EvaluateResult {
  std::vector<EvaluationRow> rows;  // per sequence, then per method
  std::vector<MethodMean> means;    // per method, in the rows' order
  std::vector<std::string> files;   // written, relative to the output folder
};

EvaluateResult evaluate(const EvaluateOptions& options);

// CDnet scores of masks/binNNNNNN.png over a sequence's temporal ROI; masks of another size (from
// --scale) are resized to the ground truth's with nearest-neighbour. Throws naming a missing mask.
stages::ConfusionCounts score_mask_folder(const std::filesystem::path& folder, const io::CdnetSequence& sequence);

// The table `cleanplate eval` prints: one row per sequence and method, CDnet's seven measures and
// fps, then the mean F-measure per method when there are several sequences.
std::string format_table(const EvaluateResult& result);

}  // namespace cleanplate::pipeline
