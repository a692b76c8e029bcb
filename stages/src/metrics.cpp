#include "cleanplate/stages/metrics.hpp"

#include "cleanplate/error.hpp"

namespace cleanplate::stages {
namespace {
double ratio(long long a, long long b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }
}  // namespace

void ConfusionCounts::add(const cv::Mat& mask, const cv::Mat& labels, const cv::Mat& roi) {
  if (mask.size() != labels.size() || mask.type() != CV_8U || labels.type() != CV_8U ||
      (!roi.empty() && roi.size() != mask.size()))
    throw Error("metrics: the mask, ground truth and ROI must be 8-bit images of one size");
  for (int y = 0; y < mask.rows; ++y) {
    const auto* m = mask.ptr<unsigned char>(y);
    const auto* l = labels.ptr<unsigned char>(y);
    const auto* r = roi.empty() ? nullptr : roi.ptr<unsigned char>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if ((r && r[x] == 0) || l[x] == 85 || l[x] == 170) continue;
      const bool truth = l[x] == 255, said = m[x] != 0;
      if (l[x] != 255 && l[x] != 0 && l[x] != 50) continue;  // not a CDnet label
      true_positives += truth && said;
      false_positives += !truth && said;
      false_negatives += truth && !said;
      true_negatives += !truth && !said;
    }
  }
}

ConfusionCounts& ConfusionCounts::operator+=(const ConfusionCounts& o) {
  true_positives += o.true_positives;
  false_positives += o.false_positives;
  false_negatives += o.false_negatives;
  true_negatives += o.true_negatives;
  return *this;
}

double ConfusionCounts::recall() const { return ratio(true_positives, true_positives + false_negatives); }
double ConfusionCounts::specificity() const { return ratio(true_negatives, true_negatives + false_positives); }
double ConfusionCounts::false_positive_rate() const { return ratio(false_positives, false_positives + true_negatives); }
double ConfusionCounts::false_negative_rate() const { return ratio(false_negatives, true_positives + false_negatives); }
double ConfusionCounts::percentage_wrong() const {
  return 100 *
         ratio(false_negatives + false_positives, true_positives + false_positives + false_negatives + true_negatives);
}
double ConfusionCounts::precision() const { return ratio(true_positives, true_positives + false_positives); }
double ConfusionCounts::f_measure() const {
  const double p = precision(), r = recall();
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

}  // namespace cleanplate::stages
