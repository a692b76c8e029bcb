#include "cleanplate/stages/background_subtractor.hpp"

#include "cleanplate/error.hpp"

namespace cleanplate {

BackgroundSubtractorLowRank::BackgroundSubtractorLowRank(const stages::OnlineOptions& options, bool color)
    : options_(options), color_(color) {}

void BackgroundSubtractorLowRank::apply(cv::InputArray image, cv::OutputArray mask, double learningRate) {
  const cv::Mat frame = image.getMat();
  if (frame.empty() || frame.depth() != CV_8U || (frame.channels() != 1 && frame.channels() != 3))
    throw Error("BackgroundSubtractorLowRank: frames must be 8-bit grey or BGR images");
  if (!geometry_) {
    geometry_ = stages::geometry_for(frame.size(), {.scale = 1, .color = color_});
    model_.emplace(*geometry_, options_);
  } else if (frame.cols != geometry_->width || frame.rows != geometry_->height) {
    throw Error("BackgroundSubtractorLowRank: the frame size changed");
  }
  const cv::Mat converted = stages::convert_frame(frame, *geometry_);
  stages::FrameSplit separated = model_->split(stages::image_levels(converted), learningRate);
  background_ = std::move(separated.background);
  separated.mask.copyTo(mask);
}

void BackgroundSubtractorLowRank::getBackgroundImage(cv::OutputArray background) const {
  if (!geometry_) {
    background.release();
    return;
  }
  stages::column_to_image(background_, *geometry_).copyTo(background);
}

cv::Ptr<BackgroundSubtractorLowRank> createBackgroundSubtractorLowRank(const stages::OnlineOptions& options,
                                                                       bool color) {
  return cv::makePtr<BackgroundSubtractorLowRank>(options, color);
}

}  // namespace cleanplate
