// The split graph of `separate`: every frame split against the fitted model, in parallel, and the
// outputs written in frame order, each by its own serial writer.
//
//   frame ──> limiter ──> split ──> sequencer ──> broadcast ──> mask.mp4, foreground.mp4, ... ──> done
//   (serial: a number,    (parallel)  (frame order)              (one serial writer each)     (serial: frees a
//    or decoded again)                                                                          slot when all wrote)
#include <oneapi/tbb/flow_graph.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "cleanplate/error.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "separate_run.hpp"

namespace cleanplate::pipeline {
namespace fs = std::filesystem;
namespace flow = oneapi::tbb::flow;

namespace {

struct WorkFrame {
  long index = 0;
  cv::Mat image;  // decoded again when the matrix holds only the sample; else empty
};

}  // namespace

// One frame: its mask, foreground, background (when a video or preview shows it), refit row and
// coded model piece.
SeparateRun::SplitOutputs SeparateRun::split_frame(long j, const cv::Mat& decoded) {
  cv::Mat original = decoded.empty() ? stages::levels_image(matrix_->view().col(j), geometry_)
                                     : stages::convert_frame(decoded, geometry_);
  if (!original.isContinuous()) original = original.clone();
  const auto levels = stages::image_levels(original);
  const auto preview = std::find(preview_frames_.begin(), preview_frames_.end(), j);
  const stages::FrameSplit split = splitter_->split(
      levels,
      {.background = background_video() || preview != preview_frames_.end(), .mask_bits = model_file_.has_value()});

  SplitOutputs frame;
  frame.index = j;
  frame.mask = split.mask;
  frame.refit = split.refit;
  const bool shows_foreground = options_.outputs.foreground || preview != preview_frames_.end();
  if (shows_foreground && geometry_.channels == 3) {
    frame.foreground = cv::Mat::zeros(original.size(), original.type());
    original.copyTo(frame.foreground, frame.mask);
  } else if (shows_foreground) {
    cv::bitwise_and(original, frame.mask, frame.foreground);  // the mask is 0 or 255
  }
  if (split.background.size() > 0) frame.background = stages::column_to_image(split.background, geometry_);
  if (preview != preview_frames_.end())
    previews_[static_cast<std::size_t>(preview - preview_frames_.begin())] = {original, frame.background,
                                                                              frame.foreground, frame.mask};
  if (model_file_) {  // prepared here, on the split's threads
    const io::ModelFile& header = model_file_->header();
    frame.stored = io::quantize_row(splitter_->stored_row(split.refit), header.precision, header.V_scale);
    frame.coded = std::make_shared<const io::ModelWriter::DeflatedFrame>(
        model_file_->prepare({levels.data(), static_cast<std::size_t>(levels.size())}, frame.stored, split.mask_bits));
  }
  return frame;
}

void SeparateRun::split() {
  const long n = sampled() ? expected_frames() : result_.frames;
  if (last_ < 0) last_ = n;
  const double fps = result_.fps > 0 ? result_.fps : 25;
  const cv::Size size(geometry_.width, geometry_.height);
  const bool color = geometry_.channels == 3;
  std::optional<io::VideoSink> mask_video, foreground_video, backgrounds_video;
  if (options_.outputs.mask)
    mask_video.emplace(output_or_part("mask.mp4"), size, fps, false,
                       io::mask_video_options(options_.video, options_.lossless_masks, options_.mask_preset));
  // One encoder thread each: the writers run side by side with the split, which keeps the cores busy;
  // x264's frame threads would only add their frames' memory.
  io::VideoOptions video = options_.video;
  video.threads = 1;
  if (options_.outputs.foreground) foreground_video.emplace(output_or_part("foreground.mp4"), size, fps, color, video);
  if (background_video()) backgrounds_video.emplace(output_or_part("background.mp4"), size, fps, color, video);
  if (options_.outputs.png) mask_images_.emplace(out("masks"));

  if (sampled()) {  // the matrix holds only the sample: every frame is decoded again
    matrix_.reset();
    // A new decoder in place of the first (whose frames would stay in memory), on one thread: the
    // split keeps the cores busy, and FFmpeg's frame threads would only add frames in flight.
    source_ = open_source(1);
    if (first_ > 0 ? !source_.seek(options_.start + first_) : !source_.skip(options_.start))
      throw Error("'" + options_.input + "' ended before --start " + std::to_string(options_.start));
  }
  preview_frames_ = stages::evenly_spaced_frames(n, 4);  // the middles of four equal parts
  previews_.assign(preview_frames_.size(), {});

  const auto started = Clock::now();
  BusyTime decode_time, split_time, write_time;
  long next = first_, written = 0;
  SplitSums sums{.refit = Eigen::VectorXd::Zero(options_.rank)};
  flow::graph graph;
  flow::input_node<WorkFrame> frame(graph, [&](oneapi::tbb::flow_control& control) -> WorkFrame {
    auto busy = decode_time.measure();
    std::optional<io::Frame> decoded;
    if (next == last_ || interrupted() || (sampled() && !(decoded = source_.next()))) {
      control.stop();
      return {};
    }
    return {next++, decoded ? std::move(decoded->image) : cv::Mat()};
  });
  flow::limiter_node<WorkFrame> in_flight(graph, static_cast<std::size_t>(plan_.split_frames_in_flight()));
  flow::function_node<WorkFrame, SplitOutputs> split(graph, flow::unlimited, [&](const WorkFrame& work) {
    auto busy = split_time.measure();
    return split_frame(work.index, work.image);
  });
  flow::sequencer_node<SplitOutputs> in_order(
      graph, [&](const SplitOutputs& f) { return static_cast<std::size_t>(f.index - first_); });
  flow::broadcast_node<SplitOutputs> to_writers(graph);

  std::vector<std::unique_ptr<flow::function_node<SplitOutputs, long>>> writers;
  const auto add_writer = [&](auto write) {
    writers.push_back(std::make_unique<flow::function_node<SplitOutputs, long>>(graph, flow::serial,
                                                                                [&, write](const SplitOutputs& f) {
                                                                                  auto busy = write_time.measure();
                                                                                  write(f);
                                                                                  return f.index;
                                                                                }));
  };
  if (mask_video) add_writer([&](const SplitOutputs& f) { mask_video->write(f.mask); });
  if (foreground_video) add_writer([&](const SplitOutputs& f) { foreground_video->write(f.foreground); });
  if (backgrounds_video) add_writer([&](const SplitOutputs& f) { backgrounds_video->write(f.background); });
  if (mask_images_)
    add_writer([&](const SplitOutputs& f) { mask_images_->write(f.mask, options_.start + f.index + 1); });
  add_writer([&](const SplitOutputs& f) { sums.refit += f.refit; });  // so `done` always has a predecessor
  if (model_file_) add_writer([&](const SplitOutputs& f) { model_file_->append(*f.coded, f.stored); });

  // A frame is written when every writer has returned its number.
  std::map<long, std::size_t> writers_done;
  progress_.start("step 3/3, separating", last_ - first_);
  using DoneNode = flow::multifunction_node<long, std::tuple<flow::continue_msg>>;
  DoneNode done(graph, flow::serial, [&](long j, DoneNode::output_ports_type& ports) {
    if (++writers_done[j] < writers.size()) return;
    writers_done.erase(j);
    progress_.update(++written);
    std::get<0>(ports).try_put(flow::continue_msg());
  });

  flow::make_edge(frame, in_flight);
  flow::make_edge(in_flight, split);
  flow::make_edge(split, in_order);
  flow::make_edge(in_order, to_writers);
  for (auto& writer : writers) {
    flow::make_edge(to_writers, *writer);
    flow::make_edge(*writer, done);
  }
  flow::make_edge(flow::output_port<0>(done), in_flight.decrementer());
  frame.activate();
  graph.wait_for_all();
  progress_.finish();

  result_.seconds.split_wall = seconds_since(started);
  result_.seconds.split = split_time.seconds();
  result_.seconds.write = write_time.seconds();
  result_.frames_written = rank_frames_ = written;
  result_.interrupted = interrupted();
  if (sampled()) {
    note_undecodable(source_);
    result_.seconds.decode += decode_time.seconds();
    result_.frames = written;
    result_.source_ended_early = !result_.interrupted && written < last_ - first_;
  }
  // Finalize whatever was written, also after an interrupt: the files are valid, and the summary
  // says how many frames they hold.
  for (auto [sink, name] : {std::pair(&mask_video, "mask.mp4"), std::pair(&foreground_video, "foreground.mp4"),
                            std::pair(&backgrounds_video, "background.mp4")})
    if (*sink && written > 0) {
      (*sink)->finish();
      videos_.push_back(name);
    }
  if (ranks() > 1) return join_parts(written, sums);
  finish_outputs(written, sums);
}

// One process: the outputs that need every frame (the clean plate, the preview, model.npz).
void SeparateRun::finish_outputs(long written, const SplitSums& sums) {
  for (const auto& name : videos_) wrote(name);
  if (mask_images_ && written > 0) wrote("masks/");
  if (options_.outputs.background && written > 0) write_clean_plate(sums.refit, written);
  if (written == last_ - first_) {
    io::write_png(out("preview.png"), stages::contact_sheet(previews_));
    wrote("preview.png");
  }
  if (model_file_ && written > 0) {
    const auto started = Clock::now();
    model_file_->finish();
    model_written(written, model_file_->coded_pixels(), model_file_->psnr());
    result_.seconds.model = seconds_since(started);
  }
}

// background.png: the refit background at the mean of the frames' refit coordinates.
void SeparateRun::write_clean_plate(const Eigen::VectorXd& refit_sum, long frames) {
  io::write_png(out("background.png"),
                stages::column_to_image(splitter_->refit_image(refit_sum / static_cast<double>(frames)), geometry_));
  wrote("background.png");
}

void SeparateRun::model_written(long frames, std::int64_t coded_pixels, double psnr) {
  wrote("model.npz");
  auto& c = result_.compression;
  c.raw_bytes = static_cast<std::int64_t>(frames) * geometry_.values();
  const std::int64_t input_bytes = source_.bytes(), input_frames = source_.frame_count();
  if (input_bytes >= 0 && input_frames > 0) c.input_bytes = input_bytes * frames / input_frames;
  c.model_bytes = static_cast<std::int64_t>(fs::file_size(out("model.npz")));
  c.coded_share = static_cast<double>(coded_pixels) / (static_cast<double>(frames) * geometry_.pixels());
  c.psnr = psnr;
}

}  // namespace cleanplate::pipeline
