// The `cleanplate` command line: one subcommand per job, options parsed with
// Boost.Program_options. Errors are caught here and reported as one line with a non-zero exit.
#include "cleanplate/pipeline/command_line.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <type_traits>

#include "cleanplate/error.hpp"
#include "cleanplate/pipeline/cluster.hpp"
#include "cleanplate/pipeline/evaluate.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "cleanplate/pipeline/live.hpp"
#include "cleanplate/pipeline/rebuild.hpp"
#include "cleanplate/pipeline/separate.hpp"
#include "command_help.hpp"
#include "command_options.hpp"

namespace cleanplate::pipeline {

namespace {

constexpr const char* version = "cleanplate " CLEANPLATE_VERSION;
constexpr int usage_error = 2, interrupted_exit = 130;

void print_summary(const SeparateOptions& options, const SeparateResult& r) {
  const auto& s = r.seconds;
  std::string model;  // "; model.npz 0.67 MB, 22.8x smaller than the raw frames, PSNR 43.02 dB"
  if (const auto& c = r.compression; c.model_bytes > 0) {
    char text[160];
    const double bytes = static_cast<double>(c.model_bytes);
    std::snprintf(text, sizeof text, "; model.npz %.2f MB, %.1fx smaller than the raw frames, ", bytes / 1e6,
                  static_cast<double>(c.raw_bytes) / bytes);
    model = text;
    std::snprintf(text, sizeof text, std::isinf(c.psnr) ? "exact" : "PSNR %.2f dB", c.psnr);
    model += text;
  }
  const long frames = r.interrupted ? r.frames_written : r.frames;  // an interrupted run: those it wrote
  std::fprintf(
      stderr,
      "cleanplate: %s %ld frames %dx%dx%d, %s rank %ld, background energy %.2f%%, mean threshold %.1f grey levels; "
      "read %.2f s, decompose %.2f s, split+write %.2f s, %.1f fps overall%s -> %s\n",
      r.interrupted ? "interrupted after" : "separated", frames, r.geometry.width, r.geometry.height,
      r.geometry.channels, method_name(options.method), options.rank, 100 * r.energy, 255 * r.threshold, s.read,
      s.decompose, s.split_wall, s.total > 0 ? static_cast<double>(frames) / s.total : 0.0, model.c_str(),
      options.output.c_str());
}

// Parses `arguments` with one positional argument (any number of them when `positional_value` is a
// vector); false when --help was asked (and printed).
template <typename Positional>
bool parse_command_line(const std::vector<std::string>& arguments, const po::options_description& visible,
                        const char* positional_name, Positional& positional_value, const char* examples,
                        po::variables_map& vm) {
  po::options_description hidden;
  hidden.add_options()(positional_name, po::value(&positional_value));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add(positional_name, std::is_same_v<Positional, std::vector<std::string>> ? -1 : 1);
  po::store(po::command_line_parser(arguments).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << visible << examples;
    return false;
  }
  return true;
}

}  // namespace

std::optional<SeparateResult> separate_command(const std::vector<std::string>& arguments, const Cluster& cluster) try {
  SeparateOptions o;
  ModelArguments model;
  std::string output = "out", outputs = "background,foreground,mask,model", max_memory, method = "robust",
              factors = "f16";
  po::options_description visible(
      "cleanplate separate INPUT -o OUT [options]\n\n"
      "INPUT: a video file, an image pattern (in%06d.jpg), a folder of images, a camera index or a stream URL");
  // clang-format off
  visible.add_options()("help,h", "this help")
      ("output,o", po::value(&output)->default_value(output), "output folder (created if missing)")
      ("method,m", po::value(&method)->default_value(method),
       "robust (a fit the foreground cannot pull, started from the per-pixel mode), svd (least squares, fastest), godec or rpca")
      ("start", po::value(&o.start)->default_value(o.start), "skip this many frames first")
      ("frames", po::value(&o.frames)->default_value(o.frames), "process at most this many frames (-1: all)")
      ("outputs", po::value(&outputs)->default_value(outputs), "what to write: any of background, foreground, mask, model")
      ("png", po::bool_switch(&o.outputs.png), "also write the masks as PNG files, OUT/masks/bin000001.png ... (CDnet naming)")
      ("max-memory", po::value(&max_memory), "memory for the frames, such as 4G (default 1G, or a quarter of a smaller machine's; more when not even 16 frames fit); a longer video is read twice")
      ("quality", po::value(&o.model.quality)->default_value(o.model.quality),
       "model.npz: the foreground's quality on libx264's CRF scale, 0-51 (lower: better and larger; +6 about halves the size)")
      ("model-preset", po::value(&o.model.preset)->default_value(o.model.preset),
       "model.npz: libx264's preset for the foreground, ultrafast ... veryslow (slower: smaller)")
      ("lossless-foreground", po::bool_switch(&o.model.lossless),
       "model.npz: version 1, coding every pixel that differs from the background exactly (an exact rebuild)")
      ("model-version", po::value(&o.model.version)->default_value(o.model.version),
       "model.npz: 2 (the foreground as an H.264 residual video) or 1 (sparse values; the options below)")
      ("factors", po::value(&factors)->default_value(factors), "model.npz version 1: precision of the background factors, f32, f16 or int8")
      ("foreground-step", po::value(&o.model.foreground_step)->default_value(o.model.foreground_step),
       "model.npz version 1: quantization step of the foreground residual in grey levels (1: exact at the coded pixels)")
      ("foreground-tolerance", po::value(&o.model.tolerance)->default_value(o.model.tolerance),
       "model.npz version 1: also code pixels off the mask that differ from the background by more than this many grey levels")
      ("fps", po::value(&o.fps), fps_help)
      ("strict", po::bool_switch(&o.strict), "stop at an image of the folder that does not decode (default: the frame before stands in, with a warning)")
      ("quiet,q", "no progress and no summary line");
  // clang-format on
  visible.add(model.describe(o)).add(describe_video(o.video, o.lossless_masks, o.mask_preset));
  po::variables_map vm;
  if (!parse_command_line(arguments, visible, "input", o.input, separate_examples, vm)) return std::nullopt;
  if (o.input.empty()) throw po::error("separate needs an INPUT (see cleanplate separate --help)");
  const bool png = o.outputs.png;
  o.outputs = parse_outputs(outputs);
  o.outputs.png = png;
  o.output = output;
  model.apply(o);
  o.method = parse_method(method);
  if (!max_memory.empty()) o.max_memory = parse_bytes(max_memory);
  o.model.factors = io::parse_factor_precision(factors);
  if (o.model.factors == io::FactorPrecision::int16) throw Error("--factors must be f32, f16 or int8");
  if (o.model.version != 1 && o.model.version != 2) throw Error("--model-version must be 1 or 2");
  if (o.model.quality < 0 || o.model.quality > 51) throw Error("--quality must be between 0 and 51");
  const std::vector<std::string> presets{"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                         "medium",    "slow",      "slower",   "veryslow"};
  if (std::find(presets.begin(), presets.end(), o.model.preset) == presets.end())
    throw Error(
        "--model-preset must be one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow");
  if (o.model.foreground_step < 1 || o.model.foreground_step > 255)
    throw Error("--foreground-step must be between 1 and 255");
  if (o.model.tolerance < 0 || o.model.tolerance > 255) throw Error("--foreground-tolerance must be between 0 and 255");
  const bool quiet = vm.count("quiet") > 0;
  o.progress = !quiet;

  const SeparateResult result = separate(o, cluster);
  if (!cluster.leader()) return result;  // rank 0 speaks for the run
  if (result.source_ended_early)
    std::fprintf(stderr,
                 "cleanplate: warning: '%s' announced %ld frames but only %ld could be decoded; separated those\n",
                 o.input.c_str(), result.announced_frames - o.start, result.frames);
  if (result.undecodable_images > 0)
    std::fprintf(stderr,
                 "cleanplate: warning: %ld image(s) of '%s' could not be decoded (the first: '%s'); the frame "
                 "before each stood in for it (--strict stops instead)\n",
                 result.undecodable_images, o.input.c_str(), result.first_undecodable_image.c_str());
  if (!quiet || result.interrupted) print_summary(o, result);
  return result;
} catch (const po::error& e) {
  throw UsageError(std::string(e.what()) + " (cleanplate separate --help)");
}

namespace {

int run_separate(const std::vector<std::string>& arguments) {
  install_interrupt_handlers();
  const Cluster cluster(/*join=*/true);
  try {
    const std::optional<SeparateResult> result = separate_command(arguments, cluster);
    return result && result->interrupted ? interrupted_exit : 0;
  } catch (const std::exception& e) {
    if (cluster.size() == 1) throw;
    // The other ranks wait in a collective: end the job, naming who failed and why.
    std::fprintf(stderr, "cleanplate separate: rank %d of %d: %s\n", cluster.rank(), cluster.size(), e.what());
    cluster.abort();
  }
}

int run_live(const std::vector<std::string>& arguments) {
  LiveOptions o;
  std::string output, threshold = "auto";
  bool no_shadows = false;
  po::options_description visible(
      "cleanplate live SOURCE [-o OUT] [options]\n\n"
      "SOURCE: a camera index (0), a stream URL (rtsp, http, udp, tcp) or a video file or image folder");
  // clang-format off
  visible.add_options()("help,h", "this help")
      ("output,o", po::value(&output), "folder for mask.mp4, summary.json and the optional outputs (default: none)")
      ("display", po::bool_switch(&o.display), "show original | background | foreground | mask and the fps in a window (q closes it)")
      ("rank,r", po::value(&o.online.rank)->default_value(o.online.rank), "rank of the background basis (2-3 follow light changes)")
      ("memory", po::value(&o.memory_seconds)->default_value(o.memory_seconds), "seconds after which a change (a parked car) becomes background")
      ("warmup", po::value(&o.online.warmup)->default_value(o.online.warmup), "frames whose per-pixel mode starts the background; their masks are empty")
      ("fps", po::value(&o.fps), fps_help)
      ("realtime", "play a file at its own frame rate (the default for files)")
      ("no-realtime", "process a file as fast as possible, without dropping frames")
      ("every", po::value(&o.snapshot_every)->default_value(o.snapshot_every), "save the background every this many seconds (0: never)")
      ("reconnect", po::value(&o.reconnect)->default_value(o.reconnect), "attempts to reopen a lost stream, with back-off")
      ("queue", po::value(&o.queue_seconds)->default_value(o.queue_seconds), "seconds of frames that may wait; beyond, the oldest are dropped")
      ("foreground", po::bool_switch(&o.foreground_video), "also write foreground.mp4")
      ("png", po::bool_switch(&o.png), "also write the masks as PNG files, OUT/masks/bin000001.png ...")
      ("frames", po::value(&o.max_frames)->default_value(o.max_frames), "stop after this many frames (-1: when the source ends)")
      ("scale", po::value(&o.convert.scale)->default_value(o.convert.scale), "downscale frames by this factor in (0, 1]")
      ("model-block", po::value(&o.online.model_block)->default_value(o.online.model_block), "model the background on the means of N x N pixel blocks, masks at full size (1: every pixel; 0: by size, 6 at 1080p)")
      ("color", po::bool_switch(&o.convert.color), "keep three colour channels (default: grey)")
      ("threshold", po::value(&threshold)->default_value(threshold), "mask seed level in grey levels, or 'auto' (6 sigma per pixel)")
      ("neighbours", po::value(&o.online.mask.neighbour_radius)->default_value(o.online.mask.neighbour_radius), neighbours_help)
      ("no-shadows", po::bool_switch(&no_shadows), no_shadows_help)
      ("quiet,q", "no progress and no summary line");
  // clang-format on
  visible.add(describe_video(o.video, o.lossless_masks, o.mask_preset));
  po::variables_map vm;
  if (!parse_command_line(arguments, visible, "source", o.input, live_examples, vm)) return 0;
  if (o.input.empty()) throw po::error("live needs a SOURCE (see cleanplate live --help)");
  if (vm.count("realtime") && vm.count("no-realtime"))
    throw po::error("--realtime and --no-realtime contradict each other");
  o.realtime = vm.count("no-realtime") == 0;
  o.output = output;
  o.online.mask.threshold = parse_threshold(threshold);
  o.online.mask.shadows = !no_shadows;
  check_neighbour_radius(o.online.mask.neighbour_radius);
  const bool quiet = vm.count("quiet") > 0;
  o.progress = !quiet;
  install_interrupt_handlers();
  const LiveResult r = live(o);
  if (!quiet || r.ended == "interrupted")
    std::fprintf(stderr,
                 "cleanplate: live %s: %ld frames processed (%ld read, %ld dropped, %ld failed to decode, %ld "
                 "reconnects) %dx%dx%d in %.1f s, "
                 "%.1f fps, latency %.0f ms median, %.0f ms p99%s%s\n",
                 r.ended.c_str(), r.frames_processed, r.frames_read, r.frames_dropped, r.decode_failures, r.reconnects,
                 r.geometry.width, r.geometry.height, r.geometry.channels, r.seconds, r.fps, 1000 * r.latency_median,
                 1000 * r.latency_p99, output.empty() ? "" : " -> ", output.c_str());
  return r.ended == "interrupted" ? interrupted_exit : 0;
}

int run_rebuild(const std::vector<std::string>& arguments) {
  RebuildOptions o;
  std::string model, output = o.output.string(), frames;
  po::options_description visible(
      "cleanplate rebuild MODEL -o VIDEO [options]\n\nMODEL: a model.npz written by cleanplate separate");
  // clang-format off
  visible.add_options()("help,h", "this help")
      ("output,o", po::value(&output)->default_value(output),
       "video.mp4 (H.264), video.mkv (FFV1, lossless), or a folder (no extension) for PNG frames")
      ("frames", po::value(&frames), "only frames A:B (A to B-1, from 0; A: and :B also work)")
      ("background-only", po::bool_switch(&o.background_only), "the low-rank background alone, without the foreground")
      ("quiet,q", "no progress and no summary line");
  // clang-format on
  po::variables_map vm;
  if (!parse_command_line(arguments, visible, "model", model, rebuild_examples, vm)) return 0;
  if (model.empty()) throw po::error("rebuild needs a MODEL (see cleanplate rebuild --help)");
  o.model = model;
  o.output = output;
  if (!frames.empty()) std::tie(o.first, o.end) = parse_frame_range(frames);
  const bool quiet = vm.count("quiet") > 0;
  o.progress = !quiet;
  install_interrupt_handlers();
  const RebuildResult r = rebuild(o);
  if (!quiet || r.interrupted) {
    std::fprintf(stderr, "cleanplate: %s %ld frames in %.2f s -> %s", r.interrupted ? "interrupted after" : "rebuilt",
                 r.frames, r.seconds, output.c_str());
    if (o.background_only)
      std::fprintf(stderr, " (background only)\n");
    else if (std::isinf(r.model_psnr))
      std::fprintf(stderr, " (the model is exact%s)\n", o.output.extension() == ".mp4" ? "; H.264 is not" : "");
    else
      std::fprintf(stderr, " (the model's PSNR: %.2f dB%s)\n", r.model_psnr,
                   o.output.extension() == ".mp4" ? ", before H.264" : "");
  }
  return r.interrupted ? interrupted_exit : 0;
}

int run_info(const std::vector<std::string>& arguments) {
  std::string model;
  po::options_description visible("cleanplate info MODEL\n\nMODEL: a model.npz written by cleanplate separate");
  visible.add_options()("help,h", "this help");
  po::variables_map vm;
  if (!parse_command_line(arguments, visible, "model", model, "", vm)) return 0;
  if (model.empty()) throw po::error("info needs a MODEL (see cleanplate info --help)");
  std::cout << describe_model(model);
  return 0;
}

int run_eval(const std::vector<std::string>& arguments) {
  EvaluateOptions o;
  ModelArguments model;
  std::vector<std::string> sequences;
  std::string output = "eval", methods = "robust";
  std::vector<std::string> masks;
  po::options_description visible(
      "cleanplate eval SEQUENCE... [-o OUT] [options]\n\n"
      "SEQUENCE: a folder with input/ (or in/) and groundtruth/, optionally temporalROI.txt and ROI.bmp\n"
      "(CDnet, SBI2015), or a folder of such folders; several may be given");
  // clang-format off
  visible.add_options()("help,h", "this help")
      ("output,o", po::value(&output)->default_value(output), "folder for eval.csv, eval.json, f_measure.png and cleanplate's masks")
      ("method,m", po::value(&methods)->default_value(methods), "cleanplate methods to run, comma-separated: robust, svd, godec, rpca, live")
      ("masks", po::value(&masks)->composing(), "also score this folder of masks (binNNNNNN.png); repeatable")
      ("no-opencv", "do not run OpenCV's MOG2 and KNN");
  // clang-format on
  visible.add(model.describe(o.separate));
  po::variables_map vm;
  if (!parse_command_line(arguments, visible, "sequence", sequences, eval_examples, vm)) return 0;
  if (sequences.empty()) throw po::error("eval needs a SEQUENCE folder (see cleanplate eval --help)");
  o.sequences.assign(sequences.begin(), sequences.end());
  o.output = output;
  model.apply(o.separate);
  o.separate.progress = false;
  o.methods.clear();
  std::stringstream items(methods);
  for (std::string item; std::getline(items, item, ',');) {
    if (item == "live")
      o.live = true;
    else
      o.methods.push_back(parse_method(item));
  }
  o.mask_folders.assign(masks.begin(), masks.end());
  o.opencv = vm.count("no-opencv") == 0;

  install_interrupt_handlers();
  const EvaluateResult result = evaluate(o);
  std::cout << format_table(result);
  std::fprintf(stderr, "cleanplate: wrote %s/eval.csv, eval.json, f_measure.png\n", o.output.c_str());
  return 0;
}

}  // namespace

int run_command_line(const std::vector<std::string>& words) {
  const std::string command = words.empty() ? "" : words[0];
  const std::vector<std::string> arguments(words.begin() + std::min<std::size_t>(words.size(), 1), words.end());
  try {
    if (command == "separate") return run_separate(arguments);
    if (command == "eval") return run_eval(arguments);
    if (command == "rebuild") return run_rebuild(arguments);
    if (command == "live") return run_live(arguments);
    if (command == "info") return run_info(arguments);
    if (command == "--version") {
      std::cout << version << "\n";
      return 0;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << overview;
      return 0;
    }
    std::cerr << (command.empty() ? std::string("cleanplate: no command given")
                                  : "cleanplate: unknown command '" + command + "'")
              << " (cleanplate --help lists the commands)\n";
    return usage_error;
  } catch (const UsageError& e) {
    std::cerr << "cleanplate " << command << ": " << e.what() << "\n";
    return usage_error;
  } catch (const po::error& e) {
    std::cerr << "cleanplate " << command << ": " << e.what() << " (cleanplate " << command << " --help)\n";
    return usage_error;
  } catch (const std::exception& e) {
    std::cerr << "cleanplate " << command << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace cleanplate::pipeline
