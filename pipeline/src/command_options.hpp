// Options and parsers shared by the subcommands of the command line (command_line.cpp).
#pragma once
#include <boost/program_options.hpp>
#include <string>

#include "cleanplate/pipeline/separate.hpp"

namespace cleanplate::pipeline {

namespace po = boost::program_options;

inline constexpr const char* fps_help =
    "frames per second of the input (default: the video's own; images play at 25): times, --memory and the videos";

inline constexpr const char* neighbours_help =
    "a change that the background shows this many pixels away is background (leaves, ripples, camera shake; 0: off)";

inline constexpr const char* no_shadows_help =
    "masks are 0 or 255 only (default: cast shadows, changes that dim the background by at most half and keep its "
    "colour and texture, are 127, as MOG2 labels them)";

// A --neighbours radius: 0 to 16 pixels.
void check_neighbour_radius(int radius);

SeparateOutputs parse_outputs(const std::string& list);

// A --threshold: 'auto' (0) or a grey level in (0, 256), returned in [0, 1] units.
double parse_threshold(const std::string& text);

// How the videos are encoded, shared by `separate` and `live`.
po::options_description describe_video(io::VideoOptions& video, bool& lossless_masks, std::string& mask_preset);

// Options that shape the model and the masks, shared by `separate` and `eval`.
struct ModelArguments {
  std::string threshold = "auto";
  bool no_shadows = false;
  po::options_description describe(SeparateOptions& o) {
    po::options_description options("model and masks");
    // clang-format off
    options.add_options()
        ("rank,r", po::value(&o.rank)->default_value(o.rank), "rank of the background (1: a static scene; more for light changes; an upper bound for rpca)")
        ("scale", po::value(&o.convert.scale)->default_value(o.convert.scale), "downscale frames by this factor in (0, 1]")
        ("color", po::bool_switch(&o.convert.color), "keep three colour channels (default: grey)")
        ("threshold", po::value(&threshold)->default_value(threshold),
         "mask seed level in grey levels, or 'auto': 6 times each pixel's robust noise level")
        ("hysteresis", po::value(&o.mask.hysteresis)->default_value(o.mask.hysteresis),
         "pixels above this fraction of the seed level join a seeded region (1: off)")
        ("open", po::value(&o.mask.open)->default_value(o.mask.open), "morphological opening size in pixels (removes specks; 0: none)")
        ("close", po::value(&o.mask.close)->default_value(o.mask.close), "morphological closing size in pixels (fills holes; 0: none)")
        ("neighbours", po::value(&o.mask.neighbour_radius)->default_value(o.mask.neighbour_radius), neighbours_help)
        ("no-shadows", po::bool_switch(&no_shadows), no_shadows_help);
    // clang-format on
    return options;
  }
  void apply(SeparateOptions& o) const {
    o.mask.threshold = parse_threshold(threshold);
    if (!(o.mask.hysteresis > 0 && o.mask.hysteresis <= 1)) throw Error("--hysteresis must be in (0, 1]");
    check_neighbour_radius(o.mask.neighbour_radius);
    o.mask.shadows = !no_shadows;
  }
};

}  // namespace cleanplate::pipeline
