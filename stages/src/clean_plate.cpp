#include "cleanplate/stages/clean_plate.hpp"

#include "cleanplate/error.hpp"

namespace cleanplate::stages {

CleanPlate::CleanPlate(const FrameGeometry& geometry, Eigen::VectorXf model_plate)
    : geometry_(geometry),
      model_plate_(std::move(model_plate)),
      residual_sum_(Eigen::VectorXf::Zero(geometry.values())),
      background_frames_(Eigen::VectorXf::Zero(geometry.pixels())) {
  if (model_plate_.size() != geometry.values()) throw Error("CleanPlate: the model plate does not match the frame geometry");
}

void CleanPlate::add(const Eigen::Ref<const Eigen::VectorXf>& residual, const cv::Mat& mask) {
  if (residual.size() != geometry_.values() || mask.type() != CV_8U || mask.total() != static_cast<std::size_t>(geometry_.pixels()) ||
      !mask.isContinuous())
    throw Error("CleanPlate: the residual and mask do not match the frame geometry");
  const unsigned char* foreground = mask.ptr<unsigned char>();
  const int channels = geometry_.channels;
  for (Eigen::Index p = 0; p < geometry_.pixels(); ++p) {
    if (foreground[p]) continue;
    background_frames_[p] += 1;
    residual_sum_.segment(p * channels, channels) += residual.segment(p * channels, channels);
  }
}

Eigen::VectorXf CleanPlate::plate() const {
  Eigen::VectorXf plate = model_plate_;
  const int channels = geometry_.channels;
  for (Eigen::Index p = 0; p < geometry_.pixels(); ++p)
    if (background_frames_[p] > 0) plate.segment(p * channels, channels) += residual_sum_.segment(p * channels, channels) / background_frames_[p];
  return plate;
}

}  // namespace cleanplate::stages
