// cleanplate's online decomposer (online_background.hpp, what `cleanplate live` runs) behind OpenCV's
// cv::BackgroundSubtractor interface, so that code written for MOG2 switches in one line:
//
//   cv::Ptr<cv::BackgroundSubtractor> subtractor = cleanplate::createBackgroundSubtractorLowRank();
//   subtractor->apply(frame, mask);            // 8-bit grey or BGR frames, all of one size
//   subtractor->getBackgroundImage(background);
//
// The model works at the frames' size, in grey unless `color`. Masks are 0, 127 (a cast shadow, as
// MOG2 labels it; OnlineOptions::mask.shadows) or 255, and empty (all 0) for the first two frames
// (for frames over 1280x720, the whole warm-up). learningRate: negative, the memory of the options; 0, the model is
// frozen (it stays as it is, unlike MOG2's); in (0, 1], a memory of 1 / learningRate frames for that frame.
#pragma once
#include <Eigen/Core>
#include <opencv2/video/background_segm.hpp>
#include <optional>

#include "cleanplate/stages/online_background.hpp"

namespace cleanplate {

class BackgroundSubtractorLowRank : public cv::BackgroundSubtractor {
 public:
  explicit BackgroundSubtractorLowRank(const stages::OnlineOptions& options = {}, bool color = false);
  void apply(cv::InputArray image, cv::OutputArray mask, double learningRate = -1) override;
  // The background of the last frame applied (empty before the first).
  void getBackgroundImage(cv::OutputArray background) const override;

 private:
  stages::OnlineOptions options_;
  bool color_;
  std::optional<stages::FrameGeometry> geometry_;
  std::optional<stages::OnlineBackground> model_;
  Eigen::VectorXf background_;
};

cv::Ptr<BackgroundSubtractorLowRank> createBackgroundSubtractorLowRank(const stages::OnlineOptions& options = {},
                                                                       bool color = false);

}  // namespace cleanplate
