// CDnet 2014 change-detection metrics. Ground-truth labels: 0 static and 50 hard shadow count as
// background, 255 as foreground, 85 (outside the ROI) and 170 (unknown motion) are ignored;
// pixels outside the spatial ROI image are ignored too.
#pragma once
#include <opencv2/core.hpp>

namespace cleanplate::stages {

struct ConfusionCounts {
  long long true_positives = 0, false_positives = 0, false_negatives = 0, true_negatives = 0;

  // Adds one frame: mask non-zero = foreground; roi may be empty (everywhere).
  void add(const cv::Mat& mask, const cv::Mat& labels, const cv::Mat& roi = {});
  ConfusionCounts& operator+=(const ConfusionCounts& other);

  double recall() const;               // TP / (TP + FN)
  double specificity() const;          // TN / (TN + FP)
  double false_positive_rate() const;  // FP / (FP + TN)
  double false_negative_rate() const;  // FN / (TP + FN)
  double percentage_wrong() const;     // 100 (FN + FP) / all
  double precision() const;            // TP / (TP + FP)
  double f_measure() const;            // 2 precision recall / (precision + recall)
};

}  // namespace cleanplate::stages
