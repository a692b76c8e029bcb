#include "command_options.hpp"

#include <sstream>

#include "cleanplate/error.hpp"

namespace cleanplate::pipeline {

SeparateOutputs parse_outputs(const std::string& list) {
  SeparateOutputs outputs{false, false, false, false, false};
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    if (item == "background")
      outputs.background = true;
    else if (item == "foreground")
      outputs.foreground = true;
    else if (item == "mask")
      outputs.mask = true;
    else if (item == "model")
      outputs.model = true;
    else
      throw Error("--outputs: unknown output '" + item + "' (choose from background, foreground, mask, model)");
  }
  return outputs;
}

double parse_threshold(const std::string& text) {
  if (text == "auto") return 0;
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || !(value > 0 && value < 256))
    throw Error("--threshold must be 'auto' or a grey level in (0, 256), got '" + text + "'");
  return value / 255;
}

void check_neighbour_radius(int radius) {
  if (radius < 0 || radius > 16) throw Error("--neighbours must be in 0..16, got " + std::to_string(radius));
}

// How the videos are encoded, shared by `separate` and `live`.
po::options_description describe_video(io::VideoOptions& video, bool& lossless_masks, std::string& mask_preset) {
  po::options_description options("videos");
  // clang-format off
  options.add_options()
      ("preset", po::value(&video.preset)->default_value(video.preset), "libx264 speed preset for the other .mp4 files: ultrafast ... veryslow")
      ("crf", po::value(&video.crf)->default_value(video.crf), "libx264 quality, 0-51 (lower: better and larger)")
      ("mask-preset", po::value(&mask_preset)->default_value(mask_preset), "libx264 speed preset for mask.mp4 (black and white: the fastest costs little)")
      ("lossless-masks", po::bool_switch(&lossless_masks), "mask.mp4 exact (H.264 at qp 0; plays in VLC and ffmpeg, not in every browser)");
  // clang-format on
  return options;
}

}  // namespace cleanplate::pipeline
