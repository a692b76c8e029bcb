#include "cleanplate/pipeline/rebuild.hpp"

#include <oneapi/tbb/flow_graph.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "cleanplate/error.hpp"
#include "cleanplate/io/model_file.hpp"
#include "cleanplate/io/npz_reader.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "cleanplate/pipeline/progress.hpp"

namespace cleanplate::pipeline {
namespace flow = oneapi::tbb::flow;

namespace {

struct RebuiltFrame {
  long index = 0;
  cv::Mat image;
};

long parse_frame_number(const std::string& text, const std::string& range) {
  std::size_t used = 0;
  long value = -1;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || value < 0)
    throw Error("--frames must be A:B, A: or :B with frame numbers from 0, got '" + range + "'");
  return value;
}

}  // namespace

std::pair<long, long> parse_frame_range(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos)
    throw Error("--frames must be A:B, A: or :B with frame numbers from 0, got '" + text + "'");
  const std::string first = text.substr(0, colon), end = text.substr(colon + 1);
  return {first.empty() ? 0 : parse_frame_number(first, text), end.empty() ? -1 : parse_frame_number(end, text)};
}

RebuildResult rebuild(const RebuildOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const io::ModelFile model = io::read_model_file(options.model);
  const long end = options.end < 0 ? static_cast<long>(model.frames) : options.end;
  if (options.first >= end || end > model.frames)
    throw Error("--frames " + std::to_string(options.first) + ":" + std::to_string(end) +
                " is not within the model's " + std::to_string(model.frames) + " frames");
  const io::ModelDecoder decoder(model);
  const cv::Size size(static_cast<int>(model.width), static_cast<int>(model.height));
  const int type = CV_8UC(static_cast<int>(model.channels));

  std::optional<io::VideoSink> video;
  std::optional<io::PngSequenceSink> images;
  if (options.output.has_extension())
    video.emplace(options.output, size, model.fps, model.channels == 3);
  else
    images.emplace(options.output, "frame");

  RebuildResult result;
  result.model_psnr = model.psnr;
  Progress progress(options.progress);
  progress.start("rebuilding", end - options.first);
  long next = options.first;
  flow::graph graph;
  flow::input_node<long> numbers(graph, [&](oneapi::tbb::flow_control& control) -> long {
    if (next == end || interrupted()) {
      control.stop();
      return 0;
    }
    return next++;
  });
  flow::limiter_node<long> in_flight(graph, 16);
  flow::function_node<long, RebuiltFrame> rebuild_frame(graph, flow::unlimited, [&](long j) {
    const std::vector<std::uint8_t> levels = options.background_only ? decoder.background(j) : decoder.frame(j);
    return RebuiltFrame{j, cv::Mat(size, type, const_cast<std::uint8_t*>(levels.data())).clone()};
  });
  flow::sequencer_node<RebuiltFrame> in_order(
      graph, [&](const RebuiltFrame& f) { return static_cast<std::size_t>(f.index - options.first); });
  flow::function_node<RebuiltFrame, flow::continue_msg> write(graph, flow::serial, [&](const RebuiltFrame& f) {
    if (video)
      video->write(f.image);
    else
      images->write(f.image, f.index + 1);
    progress.update(++result.frames);
    return flow::continue_msg();
  });
  flow::make_edge(numbers, in_flight);
  flow::make_edge(in_flight, rebuild_frame);
  flow::make_edge(rebuild_frame, in_order);
  flow::make_edge(in_order, write);
  flow::make_edge(write, in_flight.decrementer());
  numbers.activate();
  graph.wait_for_all();
  progress.finish();
  if (video && result.frames > 0) video->finish();  // also after an interrupt: the frames so far play
  result.interrupted = interrupted();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

std::string describe_model(const std::filesystem::path& path) {
  const io::NpzReader npz(path);
  const io::ModelFile m = io::parse_model_file(npz, path.string());
  std::string text;
  const auto line = [&](const char* format, auto... values) {
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, format, values...);
    text += buffer;
  };
  const double pixels = static_cast<double>(m.frames) * static_cast<double>(m.height * m.width);
  line("%s: cleanplate model version %lld, written by %s\n", path.c_str(), static_cast<long long>(m.version),
       m.producer.c_str());
  line("frames       %lld at %g fps, %lldx%lld, %s\n", static_cast<long long>(m.frames), m.fps,
       static_cast<long long>(m.width), static_cast<long long>(m.height), m.channels == 3 ? "colour (BGR)" : "grey");
  line("background   rank %lld, factors %s, %.2f%% of the energy, singular values", static_cast<long long>(m.rank()),
       io::factor_precision_name(m.precision), 100 * m.energy);
  for (Eigen::Index k = 0; k < m.S.size(); ++k) line(" %.4g", m.S(k));
  if (m.version == 2)
    line("\nforeground   the residual against the background as H.264 (libx264), quality %lld\n",
         static_cast<long long>(m.quality));
  else
    line("\nforeground   %.2f%% of the pixels coded, %s\n",
         pixels > 0 ? 100 * static_cast<double>(m.coded_pixels()) / pixels : 0.0,
         m.lossless ? "lossless (every pixel that differs from the background)"
                    : ("the mask and residuals above " + std::to_string(m.foreground_tolerance) +
                       " grey levels, in steps of " + std::to_string(m.foreground_step))
                          .c_str());
  if (std::isinf(m.psnr))
    line("rebuilt      exact (identical to the decoded input)\n");
  else
    line("rebuilt      PSNR %.2f dB against the decoded input\n", m.psnr);
  line("%-20s %12s %12s\n", "part", "stored", "raw");
  std::int64_t stored = 0, raw = 0;
  for (const auto& [name, array] : npz.arrays()) {
    line("%-20s %12lld %12zu\n", name.c_str(), static_cast<long long>(array.stored_bytes), array.bytes.size());
    stored += array.stored_bytes;
    raw += static_cast<std::int64_t>(array.bytes.size());
  }
  const std::int64_t file = static_cast<std::int64_t>(std::filesystem::file_size(path));
  const double frames_bytes = pixels * static_cast<double>(m.channels);
  line("%-20s %12lld %12lld\n", "all arrays", static_cast<long long>(stored), static_cast<long long>(raw));
  line("file %lld bytes; the 8-bit frames it rebuilds: %.0f bytes (%.1f times the file)\n",
       static_cast<long long>(file), frames_bytes, frames_bytes / static_cast<double>(file));
  return text;
}

}  // namespace cleanplate::pipeline
