#include "cleanplate/pipeline/separate.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <utility>

#include "cleanplate/error.hpp"
#include "cleanplate/io/json.hpp"
#include "cleanplate/io/model_file.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/io/video_source.hpp"
#include "cleanplate/pipeline/cluster.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "cleanplate/pipeline/progress.hpp"
#include "cleanplate/stages/background_refit.hpp"
#include "cleanplate/stages/decompose.hpp"
#include "cleanplate/stages/frame_matrix.hpp"
#include "cleanplate/stages/preview.hpp"
#include "cleanplate/stages/robust_background.hpp"

namespace cleanplate::pipeline {
namespace fs = std::filesystem;
namespace flow = oneapi::tbb::flow;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Busy time of a node body, summed over the threads that run it.
class BusyTime {
 public:
  struct Scope {
    BusyTime& owner;
    Clock::time_point start = Clock::now();
    ~Scope() {
      owner.nanoseconds_ += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    }
  };
  Scope measure() { return Scope{*this}; }
  double seconds() const { return static_cast<double>(nanoseconds_.load()) * 1e-9; }

 private:
  std::atomic<std::int64_t> nanoseconds_{0};
};

std::string bytes_text(double bytes) {
  char text[16];
  std::snprintf(text, sizeof text, "%g", bytes);
  return text;
}

std::string gibibytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return text;
}

void prepare_output_folder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error || !fs::is_directory(folder))
    throw Error("cannot create output folder '" + folder.string() + "': " + (error ? error.message() : "it is a file"));
  if (::access(folder.c_str(), W_OK) != 0)
    throw Error("cannot write to output folder '" + folder.string() + "': " + std::strerror(errno));
}

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
// Copied to each writer: what is large is shared (cv::Mat, shared_ptr).
struct SplitFrame {
  long index = 0;
  cv::Mat mask, foreground, background;
  // The refit: the frame's coordinates on the refit factor, its row of model.npz's V and its
  // foreground, coded and deflated (level 6, on the split's threads).
  Eigen::VectorXd refit;
  Eigen::VectorXf stored;
  std::shared_ptr<const io::ModelWriter::DeflatedFrame> coded;
  double squared_error = 0;  // of the coded frame
};
struct WorkFrame {
  long index = 0;
  cv::Mat image;  // decoded again when the matrix holds only the sample; else empty
};

// One run of `separate`: the steps in order, sharing the source, the matrix and the result.
class SeparateRun {
 public:
  SeparateRun(const SeparateOptions& options, const Cluster& cluster)
      : options_(options), cluster_(cluster), source_(open_source()), progress_(options.progress && cluster.leader()) {
    geometry_ = stages::geometry_for(source_.size(), options.convert);
    result_.geometry = geometry_;
    result_.fps = source_.fps();
    result_.announced_frames = source_.frame_count();
    max_memory_ = options.max_memory > 0
                      ? options.max_memory
                      : static_cast<std::int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE) / 4;
  }

  SeparateResult run() {
    const auto started = Clock::now();
    if (ranks() > 1) plan_ranks();
    read();
    if (!agree_interrupted()) decompose();
    if (!agree_interrupted()) prepare_split();
    if (!result_.interrupted) split();
    progress_.finish();  // step 2's line, when interrupted before the split
    result_.seconds.total = seconds_since(started);
    if (ranks() > 1) gather_rank_figures();
    if (cluster_.leader()) write_summary();
    if (ranks() > 1 && cluster_.leader()) fs::remove_all(parts_);
    // The ranks end together: mpirun ends a job when one rank exits with an error (130 after an
    // interrupt), which would kill rank 0 while it joins the parts.
    cluster_.barrier();
    return std::move(result_);
  }

 private:
  const SeparateOptions& options_;
  const Cluster& cluster_;
  // Grey unless --color: a video then gives its decoder's luma plane, with no colour conversion.
  io::VideoSource open_source() const {
    return io::VideoSource(options_.input, options_.convert.color ? io::FrameFormat::bgr : io::FrameFormat::grey);
  }
  // Under mpirun this process splits frames [first_, last_) (after --start) of the video, and
  // writes its outputs as parts that rank 0 joins; one process splits them all.
  long first_ = 0, last_ = -1;
  fs::path parts_;
  std::vector<double> rank_figures_;  // rank_figure_names, rank after rank
  long rank_frames_ = 0;              // frames this process split
  io::VideoSource source_;
  Progress progress_;
  stages::FrameGeometry geometry_;
  std::int64_t max_memory_ = 0;
  std::optional<stages::FrameMatrix> matrix_;
  stages::BackgroundModel model_;
  double squared_norm_ = 0;  // ||X||_F^2, summed while stacking
  cv::Mat seed_threshold_;   // per pixel
  SeparateResult result_;
  // The model is fitted on at most 512 frames, evenly spaced (the mode needs no more), and every
  // frame is split against its fixed pixel factor. A video that fits in memory is read once: the
  // matrix holds every frame, and the model sees every s-th column. A longer one is read twice:
  // first an evenly spaced sample of its frames (the matrix), then every frame, split as it is
  // decoded again.
  static constexpr long most_fitted_frames = 512;
  std::vector<Eigen::Index> sample_;  // frame numbers in the matrix; empty when it holds them all
  struct SplitModel {
    Eigen::MatrixXf factor;                        // values x k: U S of the model
    Eigen::VectorXf start;                         // coordinates the trimmed fit starts from: the sample's mean
    float band = 0;                                // residuals beyond it do not pull a frame's fit
    std::optional<stages::BackgroundRefit> refit;  // of the fitted frames; each frame's row in the split
    Eigen::MatrixXf refit_factor;                  // values x k: the refit's pixel factor
    Eigen::MatrixXf to_stored;                     // k x k: a refit coordinate vector to model.npz's row of V
    std::optional<io::ModelWriter> model;
  };
  std::optional<SplitModel> split_model_;

  bool sampled() const { return !sample_.empty(); }

  // The frames the model is fitted on: the matrix, or every s-th of its columns (without a copy)
  // when it holds more than most_fitted_frames.
  stages::FramesRef fitted_frames() const {
    const stages::FramesRef all = matrix_->view();
    const Eigen::Index stride = (all.cols() + most_fitted_frames - 1) / most_fitted_frames;
    if (stride <= 1) return all;
    return Eigen::Map<const stages::FrameLevels, 0, Eigen::OuterStride<>>(
        all.data(), all.rows(), (all.cols() + stride - 1) / stride, Eigen::OuterStride<>(all.rows() * stride));
  }
  int ranks() const { return cluster_.size(); }

  // mpirun: every rank keeps the even sample one process keeps for a video that does not fit (at
  // most 512 frames, as the memory allows) and reads the sample's frames in its own range; the
  // ranks share them, so each fits the same model. Then each decodes and splits its range, as one
  // process does a long video: what crosses ranges is the sample, once.
  void plan_ranks() {
    const long n = expected_frames();
    if (n < 0)
      throw Error("under mpirun the input must announce its frame count (a video file or image folder), and '" +
                  options_.input + "' does not");
    if (n < ranks())
      throw Error("under mpirun every rank needs a frame: " + std::to_string(n) + " frames for " +
                  std::to_string(ranks()) + " ranks");
    sample_ = stages::evenly_spaced_frames(n, sample_size(n));
    first_ = cluster_.first_frame(cluster_.rank(), n);
    last_ = cluster_.first_frame(cluster_.rank() + 1, n);
    parts_ = options_.output / ".cleanplate-parts";
    if (cluster_.leader()) {
      fs::remove_all(parts_);  // a killed run's
      fs::create_directories(parts_);
    }
    cluster_.barrier();
  }

  // The first column of the sample at or after `frame`.
  long sample_column(long frame) const {
    return static_cast<long>(std::lower_bound(sample_.begin(), sample_.end(), frame) - sample_.begin());
  }

  // Where this process writes an output: its own name, or under mpirun the rank's part of it.
  fs::path part(const std::string& name, int rank) const {
    return parts_ / ("rank" + std::to_string(rank) + "-" + name);
  }
  fs::path output_or_part(const std::string& name) const {
    return ranks() > 1 ? part(name, cluster_.rank()) : options_.output / name;
  }

  // mpirun: the sample's columns, each read by the rank whose range holds the frame, to every rank.
  void share_sample(bool complete) {
    if (!complete && !interrupted())
      throw Error("'" + options_.input + "' ended before the " + std::to_string(expected_frames()) +
                  " frames it announced; separate it without mpirun, which takes a truncated file");
    std::vector<long> first(static_cast<std::size_t>(ranks()) + 1);
    for (int r = 0; r <= ranks(); ++r)
      first[static_cast<std::size_t>(r)] = sample_column(cluster_.first_frame(r, expected_frames()));
    cluster_.share_columns(matrix_->column(0).data(), geometry_.values(), first);
    std::array<double, 1> norm{squared_norm_};
    cluster_.sum(norm);
    squared_norm_ = norm[0];
    matrix_->set_count(static_cast<Eigen::Index>(sample_.size()));
  }

  // An interrupt on any rank stops them all at the same step.
  bool agree_interrupted() {
    std::array<double, 1> flag{result_.interrupted ? 1.0 : 0.0};
    cluster_.sum(flag);
    return result_.interrupted = flag[0] > 0;
  }

  static constexpr std::array<const char*, 6> rank_figure_names{"first_frame", "frames",     "read",
                                                                "decompose",   "split_wall", "total"};
  void gather_rank_figures() {
    const auto& s = result_.seconds;
    const std::array<double, 6> figures{
        static_cast<double>(first_), static_cast<double>(rank_frames_), s.read, s.decompose, s.split_wall, s.total};
    rank_figures_ = cluster_.gather(figures);
  }

  fs::path out(const std::string& name) { return options_.output / name; }
  void wrote(const std::string& name) { result_.files.push_back(name); }

  // Frames this run will read: what the source announces after --start, at most --frames;
  // -1 when neither says.
  long expected_frames() const {
    long available = source_.frame_count() < 0 ? -1 : std::max(0L, source_.frame_count() - options_.start);
    if (options_.frames >= 0) available = available < 0 ? options_.frames : std::min(available, options_.frames);
    return available;
  }

  // Bytes per value of a fitted frame: the frame matrix's (8-bit) and the buffers the method keeps:
  // GoDec's float working copy and residual magnitudes; robust PCA's working copy, multiplier Y,
  // sparse part S and thresholding target.
  double bytes_per_value() const {
    return options_.method == stages::Method::svd || options_.method == stages::Method::robust ? 1
           : options_.method == stages::Method::godec                                          ? 9
                                                                                               : 17;
  }
  // `frames` in the matrix, of which the method fits at most most_fitted_frames.
  double matrix_bytes(long frames) const {
    const double fitted = static_cast<double>(std::min(frames, most_fitted_frames));
    return (static_cast<double>(frames) + fitted * (bytes_per_value() - 1)) * static_cast<double>(geometry_.values());
  }

  // The split keeps fewer frames in flight than the read: two cores stay busy with 8.
  long split_frames_in_flight() const { return std::min(options_.frames_in_flight, 8L); }

  // What the split holds besides the frames kept: the frames in flight (8-bit, float and the images
  // made from them), the refit's sums, and the encoders' lookahead.
  double split_bytes() const {
    const double values = static_cast<double>(geometry_.values()), pixels = static_cast<double>(geometry_.pixels()),
                 k = static_cast<double>(options_.rank);
    return 8e6 + static_cast<double>(split_frames_in_flight()) * values * 16 + pixels * 8 * (k * k + 3 * k) +
           pixels * 120;
  }

  // What a run that keeps `frames` frames needs: their matrix and the method's copies, up to 128 of
  // them once more as floats (the noise model's residuals; the robust method's start), and the split.
  static constexpr long copied_frames = 128;
  double needed_bytes(long frames) const {
    return matrix_bytes(frames) +
           static_cast<double>(std::min(frames, copied_frames) * geometry_.values()) * sizeof(float) + split_bytes();
  }

  // Frames for the sample of a video of `frames` frames that does not fit: as many as the memory
  // allows, at most most_fitted_frames, at least 16.
  long sample_size(long frames) const {
    const long fewest = std::max(16L, options_.rank);
    const double budget = static_cast<double>(max_memory_);
    if (needed_bytes(fewest) > budget)
      throw Error("--max-memory " + gibibytes(budget) + " is too small for " + std::to_string(geometry_.width) + "x" +
                  std::to_string(geometry_.height) + "x" + std::to_string(geometry_.channels) +
                  " frames: a sample of " + std::to_string(fewest) + " frames and the frames in flight need " +
                  gibibytes(needed_bytes(fewest)) + "; use --scale or a larger --max-memory");
    // needed_bytes() is linear in n, with a steeper slope up to `copied_frames` frames.
    const double frame = matrix_bytes(1), copy = static_cast<double>(geometry_.values()) * sizeof(float);
    const long fitting = needed_bytes(copied_frames) <= budget
                             ? copied_frames + static_cast<long>((budget - needed_bytes(copied_frames)) / frame)
                             : static_cast<long>((budget - split_bytes()) / (frame + copy));
    return std::min({fitting, most_fitted_frames, frames});
  }

  void check_memory(long frames) const {
    const double per_value = bytes_per_value(), bytes = needed_bytes(frames);
    if (bytes > static_cast<double>(max_memory_))
      throw Error("the frame matrix" +
                  std::string(per_value > 1 ? " and the method's working copies need " : " needs ") + gibibytes(bytes) +
                  " (" + std::to_string(frames) + " frames of " + std::to_string(geometry_.width) + "x" +
                  std::to_string(geometry_.height) + "x" + std::to_string(geometry_.channels) + " values, " +
                  bytes_text(per_value) + " bytes each, and the split's buffers), more than --max-memory " +
                  gibibytes(static_cast<double>(max_memory_)) + ": use --scale, --frames or a larger --max-memory");
  }

  // decode (serial) -> limiter -> convert (parallel) -> sequencer -> stack (serial, in order)
  void read() {
    const long expected = expected_frames();
    if (expected >= 0) {  // fail before reading when the answer is known (decompose checks again)
      if (options_.rank > expected)
        throw Error("--rank " + std::to_string(options_.rank) + " is larger than the number of frames (" +
                    std::to_string(expected) + ")");
      if (!sampled() && needed_bytes(expected) > static_cast<double>(max_memory_))
        sample_ = stages::evenly_spaced_frames(expected, sample_size(expected));
    }
    // The sample's columns this process reads: all of them, or under mpirun those in its range.
    const long begin = ranks() > 1 ? sample_column(first_) : 0,
               sample_end = ranks() > 1 ? sample_column(last_) : static_cast<long>(sample_.size());
    if (begin > 0 ? !source_.seek(options_.start + sample_[static_cast<std::size_t>(begin)])
                  : options_.start > 0 && !source_.skip(options_.start))
      throw Error("--start " + std::to_string(options_.start) + " is past the end of '" + options_.input + "'");
    const long fitting = static_cast<long>((static_cast<double>(max_memory_) - split_bytes()) / matrix_bytes(1));
    const long columns = sampled() ? static_cast<long>(sample_.size()) : expected;
    matrix_.emplace(geometry_.values(), columns > 0 ? columns : std::clamp(fitting, 1L, 256L));

    // Frames below the capacity are converted in parallel straight into their columns. Only a
    // frame beyond it (a source that announced fewer frames, or none) goes through a buffer that
    // `stack` copies in after growing the matrix. That is safe because `stack` sees frames in
    // order: when it grows the matrix, every earlier frame's conversion has finished, and later
    // frames were decided against the old capacity, so they carry buffers too.
    std::atomic<long> capacity = matrix_->capacity();
    const auto started = Clock::now();
    BusyTime decode_time, convert_time, stack_time;
    // Columns made, frames consumed.
    long decoded = begin, position = begin > 0 ? sample_[static_cast<std::size_t>(begin)] : 0;
    progress_.start(sampled() ? "step 1/3, sampling" : "step 1/3, reading", sampled() ? sample_end - begin : expected);
    flow::graph graph;
    flow::input_node<DecodedFrame> decode(graph, [&](oneapi::tbb::flow_control& control) -> DecodedFrame {
      auto busy = decode_time.measure();
      std::optional<io::Frame> frame;
      const bool last = sampled() ? decoded == sample_end : options_.frames >= 0 && decoded >= options_.frames;
      const long skipped = sampled() && !last ? sample_[static_cast<std::size_t>(decoded)] - position : 0;
      if (interrupted() || last || !source_.skip(skipped) || !(frame = source_.next())) {
        control.stop();
        return {};
      }
      position += skipped + 1;
      const long index = decoded++;
      return {index, std::move(frame->image), index < capacity.load()};
    });
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
    flow::function_node<ConvertedFrame, flow::continue_msg> stack(graph, flow::serial,
                                                                  [&](const ConvertedFrame& frame) {
                                                                    auto busy = stack_time.measure();
                                                                    if (frame.column.size() > 0) {
                                                                      check_memory(frame.index + 1);
                                                                      matrix_->reserve(frame.index + 1);
                                                                      matrix_->column(frame.index) = frame.column;
                                                                      capacity = matrix_->capacity();
                                                                    }
                                                                    matrix_->set_count(frame.index + 1);
                                                                    squared_norm_ += frame.squared_norm;
                                                                    progress_.update(frame.index + 1 - begin);
                                                                    return flow::continue_msg();
                                                                  });
    flow::make_edge(decode, in_flight);
    flow::make_edge(in_flight, convert);
    flow::make_edge(convert, in_order);
    flow::make_edge(in_order, stack);
    flow::make_edge(stack, in_flight.decrementer());
    decode.activate();
    graph.wait_for_all();
    progress_.finish();
    if (ranks() > 1) share_sample(decoded == sample_end);

    result_.frames = matrix_->count();
    result_.interrupted = interrupted();
    result_.source_ended_early = !result_.interrupted && source_.frame_count() >= 0 &&
                                 result_.frames < (sampled() ? static_cast<long>(sample_.size()) : expected);
    result_.seconds = {.read = seconds_since(started),
                       .decode = decode_time.seconds(),
                       .convert = convert_time.seconds(),
                       .stack = stack_time.seconds()};
    if (result_.frames == 0 && !result_.interrupted)
      throw Error("'" + options_.input + "' has no frames to separate after --start " + std::to_string(options_.start));
    if (sampled()) sample_.resize(static_cast<std::size_t>(result_.sample_frames = result_.frames));
  }

  cv::Mat mask_for(const Eigen::Ref<const stages::FrameColumnLevels>& levels, const Eigen::MatrixXf& pixel_factor,
                   const Eigen::VectorXf& coordinates) const {
    return stages::frame_mask(levels, pixel_factor, coordinates, seed_threshold_, geometry_, options_.mask);
  }

  // The fixed pixel factor the split fits every frame against: the fitted frames' model, their
  // masks and refit, and the map from refit coordinates to model.npz's rows of V.
  void prepare_split() {
    const auto started = Clock::now();
    const auto frames = fitted_frames();
    const auto& svd = model_.svd;
    const long n = frames.cols(), k = svd.rank();
    auto& fixed = split_model_.emplace();
    fixed.factor = svd.U * svd.singular_values.asDiagonal();
    fixed.start = svd.V.colwise().mean().transpose();
    fixed.band = static_cast<float>(3 * result_.noise_sigma);  // the robust fit's inlier band

    const auto mask_bytes = static_cast<std::size_t>((geometry_.pixels() + 7) / 8);
    std::vector<std::uint8_t> masks(static_cast<std::size_t>(n) * mask_bytes);
    const auto mask_of = [&](long j) {
      return std::span(masks).subspan(static_cast<std::size_t>(j) * mask_bytes, mask_bytes);
    };
    oneapi::tbb::parallel_for(0L, n, [&](long j) {
      const auto bits = stages::pack_mask(mask_for(frames.col(j), fixed.factor, svd.V.row(j).transpose()));
      std::copy(bits.begin(), bits.end(), mask_of(j).begin());
    });
    auto& refit = fixed.refit.emplace(geometry_, svd);
    refit.add(frames, masks);
    const Eigen::MatrixXd refit_factor = refit.pixel_factor();
    fixed.refit_factor = refit_factor.cast<float>();
    Eigen::MatrixXd frame_factor(n, k);
    oneapi::tbb::parallel_for(0L, n, [&](long j) {
      frame_factor.row(j) =
          refit.frame_factor(fixed.refit_factor, frames.col(j), mask_of(j), svd.V.row(j).transpose().cast<double>())
              .transpose();
    });
    const linalg::SvdResult<float> refit_background = stages::to_svd(refit_factor, frame_factor);
    // P v = U S w for the refit's U and S, so w = S^-1 U^T P v.
    const Eigen::VectorXd s = refit_background.singular_values.cast<double>();
    const Eigen::VectorXd inverse = (s.array() > 0).select(s.cwiseInverse(), 0.0);
    fixed.to_stored =
        (inverse.asDiagonal() * refit_background.U.transpose().cast<double>() * refit_factor).cast<float>();
    if (options_.outputs.model) {
      io::ModelFile header = model_header(refit_background);
      if (header.precision == io::FactorPrecision::int8) header.V_scale *= 1.5;  // room beyond the fitted range
      fixed.model.emplace(output_or_part("model.npz"), std::move(header), 6);
    }
    result_.seconds.refit = seconds_since(started);
  }

  void decompose() {
    auto started = Clock::now();
    const auto frames = fitted_frames();
    progress_.show("step 2/3, fitting the background to " + std::to_string(frames.cols()) + " frames");
    result_.fitted_frames = frames.cols();
    model_ = stages::decompose(frames, {.method = options_.method, .rank = options_.rank},
                               frames.cols() == matrix_->count() ? squared_norm_ : -1);
    result_.seconds.decompose = seconds_since(started);
    const auto& s = model_.svd.singular_values;
    result_.singular_values.assign(s.data(), s.data() + s.size());
    result_.energy = model_.energy;

    started = Clock::now();
    const stages::NoiseModel noise = stages::estimate_noise(stages::sample_residuals(frames, model_), geometry_);
    seed_threshold_ = stages::seed_threshold(options_.mask, noise);
    result_.noise_sigma = noise.global_sigma;
    result_.threshold = cv::mean(seed_threshold_)[0];
    result_.seconds.threshold = seconds_since(started);

    result_.interrupted = interrupted();
  }

  void write_image(const std::string& name, const cv::Mat& image) {
    io::write_png(out(name), image);
    wrote(name);
  }

  // model.npz's arrays but the frames' own: geometry, factors, coding rules.
  io::ModelFile model_header(const linalg::SvdResult<float>& background) const {
    const auto& format = options_.model;
    io::ModelFile model;
    model.producer = std::string("cleanplate ") + CLEANPLATE_VERSION + " separate, method " +
                     method_name(options_.method) + ", rank " + std::to_string(options_.rank);
    model.frames = background.V.rows(), model.height = geometry_.height, model.width = geometry_.width,
    model.channels = geometry_.channels;
    model.fps = result_.fps;
    io::quantize_factors(model, background, format.factors);
    model.energy = model_.energy;
    model.lossless = format.lossless;
    model.foreground_step = format.lossless ? 1 : format.foreground_step;
    model.foreground_tolerance = format.lossless ? 0 : format.tolerance;
    return model;
  }

  double psnr(long frames, double squared_error) const {
    const double values = static_cast<double>(frames) * static_cast<double>(geometry_.values());
    return squared_error > 0 ? 10 * std::log10(255.0 * 255.0 * values / squared_error)
                             : std::numeric_limits<double>::infinity();
  }

  void model_written(long frames, std::int64_t coded_pixels, double psnr) {
    wrote("model.npz");
    auto& c = result_.compression;
    c.raw_bytes = static_cast<std::int64_t>(frames) * geometry_.values();
    const std::int64_t input_bytes = source_.bytes(), input_frames = source_.frame_count();
    if (input_bytes >= 0 && input_frames > 0) c.input_bytes = input_bytes * frames / input_frames;
    c.model_bytes = static_cast<std::int64_t>(fs::file_size(out("model.npz")));
    c.coded_share = static_cast<double>(coded_pixels) / (static_cast<double>(frames) * geometry_.pixels());
    c.psnr = psnr;
  }

  // A frame's refit coordinates, its row of V as model.npz stores it, and its coded foreground
  // (`levels`: the frame's column of 8-bit values).
  void refit_frame(SplitFrame& frame, const Eigen::Ref<const stages::FrameColumnLevels>& levels,
                   const Eigen::VectorXf& coordinates) const {
    const auto bits = stages::pack_mask(frame.mask);
    frame.refit =
        split_model_->refit->frame_factor(split_model_->refit_factor, levels, bits, coordinates.cast<double>());
    if (!split_model_->model) return;
    const auto& model = split_model_->model->header();
    frame.stored =
        io::quantize_row(split_model_->to_stored * frame.refit.cast<float>(), model.precision, model.V_scale);
    io::CodedFrame coded = io::encode_foreground(
        {levels.data(), static_cast<std::size_t>(levels.size())}, split_model_->model->background(frame.stored), bits,
        geometry_.channels, model.foreground_step, static_cast<int>(model.foreground_tolerance));
    frame.coded = std::make_shared<const io::ModelWriter::DeflatedFrame>(split_model_->model->deflate(coded));
    frame.squared_error = coded.squared_error;
  }

  // frame (serial: a number, or a frame decoded again) -> limiter -> split + mask (parallel)
  //   -> sequencer -> broadcast -> one writer per output (serial each) -> done (serial: frees a
  //   slot when all wrote)
  void split() {
    const long n = sampled() ? expected_frames() : result_.frames;
    if (last_ < 0) last_ = n;
    const double fps = result_.fps > 0 ? result_.fps : 25;
    const cv::Size size(geometry_.width, geometry_.height);
    const bool color = geometry_.channels == 3;
    const bool background_video = options_.outputs.background && options_.rank > 1;
    std::optional<io::VideoSink> mask_video, foreground_video, background_video_sink;
    std::optional<io::PngSequenceSink> mask_images;
    if (options_.outputs.mask)
      mask_video.emplace(output_or_part("mask.mp4"), size, fps, false,
                         io::mask_video_options(options_.video, options_.lossless_masks, options_.mask_preset));
    if (options_.outputs.foreground)
      foreground_video.emplace(output_or_part("foreground.mp4"), size, fps, color, options_.video);
    if (background_video)
      background_video_sink.emplace(output_or_part("background.mp4"), size, fps, color, options_.video);
    if (options_.outputs.png) mask_images.emplace(out("masks"));

    std::optional<io::VideoSource> again;  // when the matrix holds only the sample
    if (sampled()) {
      again.emplace(open_source());
      if (first_ > 0 ? !again->seek(options_.start + first_) : !again->skip(options_.start))
        throw Error("'" + options_.input + "' ended before --start " + std::to_string(options_.start));
    }

    const std::vector<Eigen::Index> preview_frames =
        stages::evenly_spaced_frames(n, 4);  // the middles of four equal parts
    std::vector<stages::PreviewRow> previews(preview_frames.size());

    const auto started = Clock::now();
    BusyTime decode_time, split_time, write_time;
    long next = first_;
    const auto frames = matrix_->view();
    flow::graph graph;
    flow::input_node<WorkFrame> input(graph, [&](oneapi::tbb::flow_control& control) -> WorkFrame {
      auto busy = decode_time.measure();
      std::optional<io::Frame> decoded;
      if (next == last_ || interrupted() || (again && !(decoded = again->next()))) {
        control.stop();
        return {};
      }
      return {next++, decoded ? std::move(decoded->image) : cv::Mat()};
    });
    flow::limiter_node<WorkFrame> in_flight(graph, static_cast<std::size_t>(split_frames_in_flight()));
    flow::function_node<WorkFrame, SplitFrame> split(graph, flow::unlimited, [&](const WorkFrame& work) {
      auto busy = split_time.measure();
      const long j = work.index;
      // The frame's levels (decoded again, or the matrix's column) and, for the per-frame work, its values.
      cv::Mat original = work.image.empty() ? stages::levels_image(frames.col(j), geometry_)
                                            : stages::convert_frame(work.image, geometry_);
      if (!original.isContinuous()) original = original.clone();
      const Eigen::Map<const stages::FrameColumnLevels> levels(original.data, geometry_.values());
      const Eigen::MatrixXf& factor = split_model_->factor;
      const Eigen::VectorXf coordinates = stages::fit_frame(factor, levels, split_model_->band, split_model_->start,
                                                            1);  // more refits move highway F by 0.0002
      SplitFrame frame;
      frame.index = j;
      frame.mask = mask_for(levels, factor, coordinates);
      refit_frame(frame, levels, coordinates);
      if (color) {
        frame.foreground = cv::Mat::zeros(original.size(), original.type());
        original.copyTo(frame.foreground, frame.mask);
      } else {
        cv::bitwise_and(original, frame.mask, frame.foreground);  // the mask is 0 or 255
      }
      const auto preview = std::find(preview_frames.begin(), preview_frames.end(), j);
      if (background_video || preview != preview_frames.end())
        frame.background = stages::column_to_image(factor * coordinates, geometry_);
      if (preview != preview_frames.end())
        previews[preview - preview_frames.begin()] = {original, frame.background, frame.foreground, frame.mask};
      return frame;
    });
    flow::sequencer_node<SplitFrame> in_order(
        graph, [&](const SplitFrame& frame) { return static_cast<std::size_t>(frame.index - first_); });
    flow::broadcast_node<SplitFrame> to_writers(graph);

    std::vector<std::unique_ptr<flow::function_node<SplitFrame, long>>> writers;
    const auto add_writer = [&](auto write) {
      writers.push_back(std::make_unique<flow::function_node<SplitFrame, long>>(graph, flow::serial,
                                                                                [&, write](const SplitFrame& frame) {
                                                                                  auto busy = write_time.measure();
                                                                                  write(frame);
                                                                                  return frame.index;
                                                                                }));
    };
    Eigen::VectorXd refit_sum = Eigen::VectorXd::Zero(options_.rank);  // for the clean plate
    double squared_error = 0;                                          // of model.npz
    if (mask_video) add_writer([&](const SplitFrame& f) { mask_video->write(f.mask); });
    if (foreground_video) add_writer([&](const SplitFrame& f) { foreground_video->write(f.foreground); });
    if (background_video_sink) add_writer([&](const SplitFrame& f) { background_video_sink->write(f.background); });
    if (mask_images) add_writer([&](const SplitFrame& f) { mask_images->write(f.mask, options_.start + f.index + 1); });
    add_writer([&](const SplitFrame& f) { refit_sum += f.refit; });  // so `done` always has a predecessor
    if (split_model_->model)
      add_writer([&](const SplitFrame& f) {
        split_model_->model->append(*f.coded, f.stored);
        squared_error += f.squared_error;
      });

    // A frame is written when every writer has returned its number.
    std::map<long, std::size_t> writers_done;
    long written = 0;
    progress_.start("step 3/3, separating", last_ - first_);
    using DoneNode = flow::multifunction_node<long, std::tuple<flow::continue_msg>>;
    DoneNode done(graph, flow::serial, [&](long j, DoneNode::output_ports_type& ports) {
      if (++writers_done[j] < writers.size()) return;
      writers_done.erase(j);
      progress_.update(++written);
      std::get<0>(ports).try_put(flow::continue_msg());
    });

    flow::make_edge(input, in_flight);
    flow::make_edge(in_flight, split);
    flow::make_edge(split, in_order);
    flow::make_edge(in_order, to_writers);
    for (auto& writer : writers) {
      flow::make_edge(to_writers, *writer);
      flow::make_edge(*writer, done);
    }
    flow::make_edge(flow::output_port<0>(done), in_flight.decrementer());
    input.activate();
    graph.wait_for_all();
    progress_.finish();
    result_.seconds.split_wall = seconds_since(started);
    result_.seconds.split = split_time.seconds();
    result_.seconds.write = write_time.seconds();
    result_.frames_written = written;
    result_.interrupted = interrupted();
    if (sampled()) {
      result_.seconds.decode += decode_time.seconds();
      result_.frames = written;
      result_.source_ended_early = !result_.interrupted && written < last_ - first_;
    }

    // Finalize whatever was written, also after an interrupt: the files are valid, and the
    // summary says how many frames they hold.
    rank_frames_ = written;
    std::vector<std::string> videos;
    for (auto [sink, name] : {std::pair(&mask_video, "mask.mp4"), std::pair(&foreground_video, "foreground.mp4"),
                              std::pair(&background_video_sink, "background.mp4")})
      if (*sink && written > 0) {
        (*sink)->finish();
        videos.push_back(name);
      }
    if (ranks() > 1) {
      if (!result_.interrupted && written < last_ - first_)
        throw Error("'" + options_.input + "' ended at frame " + std::to_string(options_.start + first_ + written) +
                    ", before the " + std::to_string(n) + " frames it announced; separate it without mpirun");
      if (split_model_->model && written > 0) split_model_->model->finish_part();
      for (std::size_t i = 0; i < previews.size(); ++i)
        if (!previews[i].mask.empty()) write_preview_part(previews[i], i);
      return join_parts(written, videos, mask_images ? &*mask_images : nullptr, refit_sum, squared_error,
                        preview_frames);
    }
    for (const auto& name : videos) wrote(name);
    if (mask_images && written > 0) wrote("masks/");
    if (options_.outputs.background && written > 0) write_clean_plate(refit_sum, written);
    if (written == n) write_image("preview.png", stages::contact_sheet(previews));
    if (options_.outputs.model && written > 0) {
      const auto started_model = Clock::now();
      split_model_->model->finish(psnr(written, squared_error));
      model_written(written, split_model_->model->coded_pixels(), psnr(written, squared_error));
      result_.seconds.model = seconds_since(started_model);
    }
  }

  // background.png: the refit background at the mean of the frames' refit coordinates.
  void write_clean_plate(const Eigen::VectorXd& refit_sum, long frames) {
    const Eigen::VectorXf mean = split_model_->refit_factor * (refit_sum / static_cast<double>(frames)).cast<float>();
    write_image("background.png", stages::column_to_image(mean, geometry_));
  }

  // mpirun: the preview rows go to rank 0 as PNG files (exact), an image per part of the row.
  static constexpr std::array<std::pair<const char*, cv::Mat stages::PreviewRow::*>, 4> preview_images{
      {{"original", &stages::PreviewRow::original},
       {"background", &stages::PreviewRow::background},
       {"foreground", &stages::PreviewRow::foreground},
       {"mask", &stages::PreviewRow::mask}}};
  fs::path preview_part(std::size_t row, const char* image, int rank) const {
    return part("preview" + std::to_string(row) + "-" + image + ".png", rank);
  }
  void write_preview_part(const stages::PreviewRow& row, std::size_t i) const {
    for (const auto& [name, image] : preview_images) io::write_png(preview_part(i, name, cluster_.rank()), row.*image);
  }

  // mpirun: rank 0 joins the ranks' parts into the outputs one process would write. They hold the
  // video's first frames: every rank's up to the first that did not finish its range (an
  // interrupt), as one process's outputs hold its first frames. The videos are joined without
  // re-encoding and model.npz's foreground without compressing it again.
  void join_parts(long written, const std::vector<std::string>& videos, const io::PngSequenceSink* mask_images,
                  Eigen::VectorXd refit_sum, double squared_error, const std::vector<Eigen::Index>& preview_frames) {
    const auto started = Clock::now();
    const long n = expected_frames();
    const std::array<double, 1> mine{static_cast<double>(written)};
    const std::vector<double> counts = cluster_.gather(mine);  // also: every part is on disk
    int joined = 0;
    long frames = 0;
    for (bool complete = true; complete && joined < ranks(); ++joined) {
      const long count = static_cast<long>(counts[static_cast<std::size_t>(joined)]);
      complete = count == cluster_.first_frame(joined + 1, n) - cluster_.first_frame(joined, n);
      frames += count;
    }
    if (cluster_.rank() >= joined) refit_sum.setZero(), squared_error = 0;
    std::vector<double> sums(refit_sum.data(), refit_sum.data() + refit_sum.size());
    sums.push_back(squared_error);
    cluster_.sum(sums);
    result_.frames = result_.frames_written = frames;
    result_.interrupted = frames < n;
    if (!cluster_.leader() || frames == 0) return;

    const auto parts = [&](const std::string& name) {
      std::vector<fs::path> list;
      for (int r = 0; r < joined; ++r)
        if (counts[static_cast<std::size_t>(r)] > 0) list.push_back(part(name, r));
      return list;
    };
    for (const std::string& name : videos) {  // rank 0's: it wrote frames, as every rank joined did
      io::concatenate_videos(parts(name), out(name));
      wrote(name);
    }
    if (mask_images) {
      wrote("masks/");
      std::error_code absent;
      for (long j = frames; j < n; ++j)  // masks of ranks after the first unfinished one: not joined
        fs::remove(mask_images->path(options_.start + j + 1), absent);
    }
    if (options_.outputs.background)
      write_clean_plate(Eigen::Map<const Eigen::VectorXd>(sums.data(), refit_sum.size()), frames);
    if (frames == n) {
      std::vector<stages::PreviewRow> rows;
      for (std::size_t i = 0; i < preview_frames.size(); ++i) {
        int r = 0;
        while (cluster_.first_frame(r + 1, n) <= preview_frames[i]) ++r;
        stages::PreviewRow& row = rows.emplace_back();
        for (const auto& [name, image] : preview_images)
          row.*image = cv::imread(preview_part(i, name, r).string(), cv::IMREAD_UNCHANGED);
      }
      write_image("preview.png", stages::contact_sheet(rows));
    }
    if (options_.outputs.model) {
      io::ModelWriter model(out("model.npz"), split_model_->model->header());
      for (const fs::path& part : parts("model.npz")) model.append_part(part);
      const double decibels = psnr(frames, sums.back());
      model.finish(decibels);
      model_written(frames, model.coded_pixels(), decibels);
    }
    result_.seconds.join = seconds_since(started);
  }

  void write_summary() {
    const auto& r = result_;
    const auto& s = r.seconds;
    io::Json summary = {{"input", options_.input},
                        {"status", r.interrupted ? "interrupted" : "complete"},
                        {"frames", r.frames},
                        {"announced_frames", r.announced_frames},
                        {"source_ended_early", r.source_ended_early},
                        {"frames_written", r.frames_written},
                        {"sample_frames", r.sample_frames},
                        {"fitted_frames", r.fitted_frames},
                        {"start", options_.start},
                        {"width", geometry_.width},
                        {"height", geometry_.height},
                        {"channels", geometry_.channels},
                        {"fps", r.fps},
                        {"method", method_name(options_.method)},
                        {"rank", options_.rank},
                        {"iterations", model_.iterations},
                        {"singular_values", r.singular_values},
                        {"energy", r.energy},
                        {"noise_sigma", r.noise_sigma},
                        {"threshold", r.threshold},
                        {"seconds",
                         {{"read", s.read},
                          {"decode", s.decode},
                          {"convert", s.convert},
                          {"stack", s.stack},
                          {"decompose", s.decompose},
                          {"threshold", s.threshold},
                          {"split_wall", s.split_wall},
                          {"split", s.split},
                          {"write", s.write},
                          {"refit", s.refit},
                          {"model", s.model},
                          {"join", s.join},
                          {"total", s.total}}}};
    if (options_.outputs.model && r.compression.model_bytes > 0) {
      const auto& c = r.compression;
      const auto ratio = [&](std::int64_t bytes) {
        return bytes > 0 ? static_cast<double>(bytes) / static_cast<double>(c.model_bytes) : 0.0;
      };
      summary["compression"] = {{"raw_bytes", c.raw_bytes},
                                {"input_bytes", c.input_bytes},
                                {"model_bytes", c.model_bytes},
                                {"raw_to_model", ratio(c.raw_bytes)},
                                {"input_to_model", ratio(c.input_bytes)},
                                {"psnr", c.psnr},
                                {"exact", std::isinf(c.psnr)},
                                {"coded_share", c.coded_share},
                                {"factors", io::factor_precision_name(options_.model.factors)},
                                {"foreground_step", options_.model.lossless ? 1L : options_.model.foreground_step},
                                {"tolerance", options_.model.lossless ? 0 : options_.model.tolerance},
                                {"lossless", options_.model.lossless}};
    }
    summary["frames_per_second"] = s.total > 0 ? static_cast<double>(r.frames) / s.total : 0.0;
    if (ranks() > 1) {  // mpirun: each rank's range and times
      io::Json each = io::Json::array();
      for (int rank = 0; rank < ranks(); ++rank) {
        io::Json figures = {{"rank", rank}};
        for (std::size_t i = 0; i < rank_figure_names.size(); ++i)
          if (const double figure = rank_figures_[static_cast<std::size_t>(rank) * rank_figure_names.size() + i]; i < 2)
            figures[rank_figure_names[i]] = static_cast<long>(figure);  // frame numbers
          else
            figures[rank_figure_names[i]] = figure;
        each.push_back(figures);
      }
      summary["ranks"] = each;
    }
    summary["files"] = r.files;
    io::write_json(out("summary.json"), summary);
  }
};

}  // namespace

SeparateResult separate(const SeparateOptions& options, const Cluster& cluster) {
  if (options.rank < 1) throw Error("--rank must be at least 1");
  if (options.frames == 0 || options.frames < -1) throw Error("--frames must be at least 1");
  if (options.start < 0) throw Error("--start must not be negative");
  prepare_output_folder(options.output);
  return SeparateRun(options, cluster).run();
}

stages::Method parse_method(const std::string& name) {
  if (name == "robust") return stages::Method::robust;
  if (name == "svd") return stages::Method::svd;
  if (name == "godec") return stages::Method::godec;
  if (name == "rpca") return stages::Method::robust_pca;
  throw Error("--method must be robust, svd, godec or rpca, got '" + name + "'");
}

const char* method_name(stages::Method method) {
  switch (method) {
    case stages::Method::godec:
      return "godec";
    case stages::Method::robust_pca:
      return "rpca";
    case stages::Method::svd:
      return "svd";
    case stages::Method::robust:
      break;
  }
  return "robust";
}

std::int64_t parse_bytes(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const double factor = unit.empty() || unit == "B"    ? 1
                        : unit == "K" || unit == "KiB" ? 1024.0
                        : unit == "M" || unit == "MiB" ? 1024.0 * 1024
                        : unit == "G" || unit == "GiB" ? 1024.0 * 1024 * 1024
                        : unit == "T" || unit == "TiB" ? 1024.0 * 1024 * 1024 * 1024
                                                       : -1;
  if (used == 0 || factor < 0 || !(value > 0) || !std::isfinite(value))
    throw Error("cannot read '" + text +
                "' as a memory size: use bytes or a number with K, M, G or T (such as 512M or 4G)");
  return static_cast<std::int64_t>(value * factor);
}

}  // namespace cleanplate::pipeline
