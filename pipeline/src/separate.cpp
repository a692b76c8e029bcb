#include "cleanplate/pipeline/separate.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "cleanplate/error.hpp"
#include "cleanplate/io/json.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "separate_run.hpp"

namespace cleanplate::pipeline {
namespace fs = std::filesystem;

namespace {

void prepare_output_folder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error || !fs::is_directory(folder))
    throw Error("cannot create output folder '" + folder.string() + "': " + (error ? error.message() : "it is a file"));
  if (::access(folder.c_str(), W_OK) != 0)
    throw Error("cannot write to output folder '" + folder.string() + "': " + std::strerror(errno));
}

// --max-memory, or by default_memory_budget for this machine.
MemoryPlan memory_plan(const SeparateOptions& options, const stages::FrameGeometry& geometry) {
  const auto plan = [&](std::int64_t budget) {
    return MemoryPlan(geometry, options.method, options.rank, options.frames_in_flight, budget,
                      options.outputs.model && options.model.written_version() == 2);
  };
  if (options.max_memory > 0) return plan(options.max_memory);
  const std::int64_t physical = static_cast<std::int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
  return plan(default_memory_budget(plan(0), physical));
}

}  // namespace

SeparateRun::SeparateRun(const SeparateOptions& options, const Cluster& cluster)
    : options_(options),
      cluster_(cluster),
      source_(open_source()),
      progress_(options.progress && cluster.leader()),
      geometry_(stages::geometry_for(source_.size(), options.convert)),
      plan_(memory_plan(options, geometry_)) {
  result_.geometry = geometry_;
  result_.fps = source_.fps();
  result_.announced_frames = source_.frame_count();
}

// Grey unless --color: a video then gives its decoder's luma plane, with no colour conversion.
io::VideoSource SeparateRun::open_source(int decoder_threads) const {
  return io::VideoSource(options_.input,
                         {.format = options_.convert.color ? io::FrameFormat::bgr : io::FrameFormat::grey,
                          .decoder_threads = decoder_threads,
                          .strict = options_.strict,
                          .fps = options_.fps});
}

// read -> fit -> split; under mpirun the ranks agree at each step whether one was interrupted.
SeparateResult SeparateRun::run() {
  const auto started = Clock::now();
  if (ranks() > 1) plan_ranks();
  read();
  if (!agree_interrupted()) decompose();
  if (!agree_interrupted()) split();
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

// Frames this run will read: what the source announces after --start, at most --frames; -1 when
// neither says.
long SeparateRun::expected_frames() const {
  long available = source_.frame_count() < 0 ? -1 : std::max(0L, source_.frame_count() - options_.start);
  if (options_.frames >= 0) available = available < 0 ? options_.frames : std::min(available, options_.frames);
  return available;
}

stages::FramesRef SeparateRun::fitted_frames() const {
  const stages::FramesRef all = matrix_->view();
  const Eigen::Index stride = fitted_stride(all.cols(), plan_.most_fitted_frames());
  if (stride == 1) return all;
  return Eigen::Map<const stages::FrameLevels, 0, Eigen::OuterStride<>>(
      all.data(), all.rows(), (all.cols() + stride - 1) / stride, Eigen::OuterStride<>(all.rows() * stride));
}

// The model of the fitted frames, their noise levels, and the splitter every frame is split by.
void SeparateRun::decompose() {
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
  const auto& svd = model_.svd;
  const stages::NoiseModel noise =
      stages::estimate_noise(frames, svd.U, (svd.V * svd.singular_values.asDiagonal()).transpose(), geometry_);
  result_.seconds.threshold = seconds_since(started);
  started = Clock::now();
  splitter_.emplace(frames, model_, noise, geometry_, options_.mask);
  result_.noise_sigma = noise.global_sigma;
  result_.threshold = cv::mean(splitter_->seed_threshold())[0];
  if (options_.outputs.model) {
    io::ModelFile header = model_header(splitter_->refit_background());
    if (header.precision == io::FactorPrecision::int8) header.V_scale *= 1.5;  // room beyond the fitted range
    model_file_.emplace(output_or_part("model.npz"), std::move(header), 6, options_.model.preset);
  }
  result_.seconds.refit = seconds_since(started);
  result_.interrupted = interrupted();
}

// model.npz's arrays but the frames' own: geometry, factors, coding rules.
io::ModelFile SeparateRun::model_header(const linalg::SvdResult<float>& background) const {
  const auto& format = options_.model;
  io::ModelFile model;
  model.producer = std::string("cleanplate ") + CLEANPLATE_VERSION + " separate, method " +
                   method_name(options_.method) + ", rank " + std::to_string(options_.rank);
  model.frames = background.V.rows(), model.height = geometry_.height, model.width = geometry_.width,
  model.channels = geometry_.channels;
  model.fps = result_.fps;
  model.version = format.written_version();
  if (model.version == 2)
    io::quantize_factors(model, background, io::FactorPrecision::int16,
                         io::factor_step_for_quality(format.quality, std::max(expected_frames(), model.frames)));
  else
    io::quantize_factors(model, background, format.factors);
  model.energy = model_.energy;
  model.quality = format.quality;
  model.lossless = format.lossless;
  model.foreground_step = format.lossless ? 1 : format.foreground_step;
  model.foreground_tolerance = format.lossless ? 0 : format.tolerance;
  return model;
}

void SeparateRun::write_summary() {
  const auto& r = result_;
  const auto& s = r.seconds;
  io::Json summary = {{"input", options_.input},
                      {"status", r.interrupted ? "interrupted" : "complete"},
                      {"frames", r.frames},
                      {"announced_frames", r.announced_frames},
                      {"source_ended_early", r.source_ended_early},
                      {"undecodable_images", r.undecodable_images},
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
    summary["compression"] = {
        {"raw_bytes", c.raw_bytes},           {"input_bytes", c.input_bytes},           {"model_bytes", c.model_bytes},
        {"raw_to_model", ratio(c.raw_bytes)}, {"input_to_model", ratio(c.input_bytes)}, {"psnr", c.psnr},
        {"exact", std::isinf(c.psnr)},        {"lossless", options_.model.lossless}};
    if (model_file_->header().version == 2) {
      summary["compression"]["version"] = 2;
      summary["compression"]["quality"] = options_.model.quality;
    } else {
      summary["compression"]["version"] = 1;
      summary["compression"]["coded_share"] = c.coded_share;
      summary["compression"]["factors"] = io::factor_precision_name(options_.model.factors);
      summary["compression"]["foreground_step"] = options_.model.lossless ? 1L : options_.model.foreground_step;
      summary["compression"]["tolerance"] = options_.model.lossless ? 0 : options_.model.tolerance;
    }
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
