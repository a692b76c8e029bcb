// The read graph of `separate`: the frames (or the sample's frames) decoded, converted to 8-bit
// columns in parallel, and stacked into the frame matrix in order.
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/info.h>

#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "cleanplate/error.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "separate_run.hpp"

namespace cleanplate::pipeline {
namespace flow = oneapi::tbb::flow;

namespace {

struct DecodedFrame {
  long index = 0;
  cv::Mat image;
  bool in_place = false;  // its matrix column exists: convert writes straight into it
};
struct ConvertedFrame {
  long index = 0;
  stages::FrameColumnLevels column;  // only for frames beyond the matrix's capacity
  double squared_norm = 0;
};

}  // namespace

// decode (serial; a sample of a video file: two, each on half of it) -> limiter -> convert (parallel)
//   -> sequencer (not for a sample, whose columns are known) -> stack (serial)
void SeparateRun::read() {
  const long expected = expected_frames();
  if (source_.frame_count() >= 0 && options_.start >= source_.frame_count())
    throw Error("--start " + std::to_string(options_.start) + " is past the end of '" + options_.input +
                "', which has " + std::to_string(source_.frame_count()) + " frames");
  if (expected >= 0) {  // fail before reading when the answer is known (decompose checks again)
    if (options_.rank > expected)
      throw Error("--rank " + std::to_string(options_.rank) + " is larger than the number of frames (" +
                  std::to_string(expected) + ")");
    if (!sampled() && !plan_.fits(expected))
      sample_ = stages::evenly_spaced_frames(expected, plan_.sample_size(expected));
  }
  // The sample's columns this process reads: all of them, or under mpirun those in its range.
  const long begin = ranks() > 1 ? sample_column(first_) : 0,
             sample_end = ranks() > 1 ? sample_column(last_) : static_cast<long>(sample_.size());
  // A lane decodes a range of the columns from its own source. A sample of a video file is read in
  // two halves, each by a decoder on one thread: FFmpeg's frame threads keep only about 1.4 of 2
  // cores busy there, as each frame waits for the frames it refers to, and they hold more frames.
  // Under mpirun each rank's range is its one lane.
  struct Lane {
    io::VideoSource* source;
    long next, end;                                           // columns; end -1: until the source ends (or --frames)
    long next_lane_frame = std::numeric_limits<long>::max();  // where the next lane's frames begin
  };
  const long middle = (begin + sample_end) / 2;
  std::optional<io::VideoSource> second_source;
  if (sampled() && ranks() == 1 && source_.kind() == io::SourceKind::file && middle - begin >= 8 &&
      oneapi::tbb::info::default_concurrency() > 1) {
    source_ = open_source(1);
    second_source.emplace(open_source(1));
  }
  if (begin > 0 ? !source_.seek(options_.start + sample_[static_cast<std::size_t>(begin)])
                : options_.start > 0 && !source_.skip(options_.start))
    throw Error("--start " + std::to_string(options_.start) + " is past the end of '" + options_.input + "'");
  std::vector<Lane> lanes{{&source_, begin, sampled() ? sample_end : -1}};
  if (const long middle_frame = second_source ? options_.start + sample_[static_cast<std::size_t>(middle)] : 0;
      second_source && second_source->seek(middle_frame)) {
    lanes.front() = {&source_, begin, middle, middle_frame};
    lanes.push_back({&*second_source, middle, sample_end});
  }
  const long columns = sampled() ? static_cast<long>(sample_.size()) : expected;
  matrix_.emplace(geometry_.values(), columns > 0 ? columns : plan_.first_capacity());

  // Frames below the capacity are converted in parallel straight into their columns. Only a
  // frame beyond it (a source that announced fewer frames, or none) goes through a buffer that
  // `stack` copies in after growing the matrix. That is safe because `stack` sees frames in
  // order: when it grows the matrix, every earlier frame's conversion has finished, and later
  // frames were decided against the old capacity, so they carry buffers too. A sample's columns
  // all exist, so its frames are stacked in any order.
  std::atomic<long> capacity = matrix_->capacity();
  const auto started = Clock::now();
  BusyTime decode_time, convert_time, stack_time;
  long stacked = 0;
  std::vector<double> squared_norms;  // per column: summed in column order, whatever order they came in
  progress_.start(sampled() ? "step 1/3, sampling" : "step 1/3, reading", sampled() ? sample_end - begin : expected);
  flow::graph graph;
  const auto decode_lane = [&](Lane& lane) {
    return [&](oneapi::tbb::flow_control& control) -> DecodedFrame {
      auto busy = decode_time.measure();
      std::optional<io::Frame> frame;
      const bool last = lane.end >= 0 ? lane.next == lane.end : options_.frames >= 0 && lane.next >= options_.frames;
      // A sampled frame may be a neighbour of the one planned (VideoSource::skip_near), which spares
      // decoding the frames nothing refers to; under mpirun each rank's share is exact.
      const long planned = sampled() && !last ? options_.start + sample_[static_cast<std::size_t>(lane.next)] : 0;
      io::VideoSource& source = *lane.source;
      if (interrupted() || last ||
          (sampled() && !(ranks() > 1 ? source.skip(planned - source.position()) : source.skip_near(planned))) ||
          source.position() >= lane.next_lane_frame || !(frame = source.next())) {
        control.stop();
        return {};
      }
      const long index = lane.next++;
      return {index, std::move(frame->image), index < capacity.load()};
    };
  };
  std::vector<std::unique_ptr<flow::input_node<DecodedFrame>>> decoders;
  for (Lane& lane : lanes)
    decoders.push_back(std::make_unique<flow::input_node<DecodedFrame>>(graph, decode_lane(lane)));
  flow::limiter_node<DecodedFrame> in_flight(graph, static_cast<std::size_t>(options_.frames_in_flight));
  flow::function_node<DecodedFrame, ConvertedFrame> convert(graph, flow::unlimited, [&](const DecodedFrame& frame) {
    auto busy = convert_time.measure();
    ConvertedFrame converted{frame.index, {}, 0};
    if (!frame.in_place) converted.column.resize(geometry_.values());
    const Eigen::Ref<stages::FrameColumnLevels> column =
        frame.in_place ? matrix_->column(frame.index) : Eigen::Ref<stages::FrameColumnLevels>(converted.column);
    stages::frame_to_levels(frame.image, geometry_, column);
    // While it is in cache: saves a pass for the energy.
    converted.squared_norm = stages::values_squared_norm(column);
    return converted;
  });
  flow::sequencer_node<ConvertedFrame> in_order(
      graph, [&](const ConvertedFrame& frame) { return static_cast<std::size_t>(frame.index - begin); });
  flow::function_node<ConvertedFrame, flow::continue_msg> stack(graph, flow::serial, [&](const ConvertedFrame& frame) {
    auto busy = stack_time.measure();
    if (frame.column.size() > 0) {
      plan_.check(frame.index + 1);
      matrix_->reserve(frame.index + 1);
      matrix_->column(frame.index) = frame.column;
      capacity = matrix_->capacity();
    }
    if (frame.index >= static_cast<long>(squared_norms.size()))
      squared_norms.resize(static_cast<std::size_t>(frame.index) + 1);
    squared_norms[static_cast<std::size_t>(frame.index)] = frame.squared_norm;
    progress_.update(++stacked);
    return flow::continue_msg();
  });
  for (auto& decoder : decoders) flow::make_edge(*decoder, in_flight);
  flow::make_edge(in_flight, convert);
  if (sampled()) {
    flow::make_edge(convert, stack);
  } else {
    flow::make_edge(convert, in_order);
    flow::make_edge(in_order, stack);
  }
  flow::make_edge(stack, in_flight.decrementer());
  for (auto& decoder : decoders) decoder->activate();
  graph.wait_for_all();
  progress_.finish();
  // A lane that ended short (a damaged file, or a sample whose frames lie closer than the frames
  // others refer to) leaves a gap: the next lane's columns close it.
  long count = lanes.front().next;
  if (lanes.size() == 1 || count == middle)
    count = lanes.back().next;
  else
    for (long j = middle; j < lanes.back().next; ++j) matrix_->column(count++) = matrix_->column(j);
  matrix_->set_count(count);
  // Columns never stacked (a gap, another rank's) hold 0 here, which leaves the sum as it is.
  for (const double norm : squared_norms) squared_norm_ += norm;
  if (ranks() > 1) share_sample(lanes.front().next == sample_end);

  result_.frames = matrix_->count();
  result_.interrupted = interrupted();
  // A sample may end short when its last frames' neighbours lie past the end; the split, which
  // decodes every frame, says whether the video did.
  result_.source_ended_early =
      !result_.interrupted && !sampled() && source_.frame_count() >= 0 && result_.frames < expected;
  result_.seconds = {.read = seconds_since(started),
                     .decode = decode_time.seconds(),
                     .convert = convert_time.seconds(),
                     .stack = stack_time.seconds()};
  if (result_.frames == 0 && !result_.interrupted)
    throw Error("'" + options_.input + "' has no frames to separate after --start " + std::to_string(options_.start));
  if (sampled()) sample_.resize(static_cast<std::size_t>(result_.sample_frames = result_.frames));
  note_undecodable(source_);
}

// The images that did not decode: the most either reading of the video met.
void SeparateRun::note_undecodable(const io::VideoSource& source) {
  const auto& files = source.undecodable_images();
  if (static_cast<long>(files.size()) <= result_.undecodable_images) return;
  result_.undecodable_images = static_cast<long>(files.size());
  result_.first_undecodable_image = files.front();
}

}  // namespace cleanplate::pipeline
