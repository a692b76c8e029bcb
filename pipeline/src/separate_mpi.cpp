// `separate` under mpirun: what crosses the ranks. Every rank keeps the same sample (each reads the
// sample's frames in its own range, and they share them), fits the same model, and splits its range
// of the frames as one process splits a long video, writing its part of each output; rank 0 joins
// the parts into the outputs one process would write.
#include <opencv2/imgcodecs.hpp>

#include "cleanplate/error.hpp"
#include "cleanplate/pipeline/interrupt.hpp"
#include "separate_run.hpp"

namespace cleanplate::pipeline {
namespace fs = std::filesystem;

namespace {

// mpirun: the preview rows go to rank 0 as PNG files (exact), an image per part of the row.
constexpr std::array<std::pair<const char*, cv::Mat stages::PreviewRow::*>, 4> preview_images{
    {{"original", &stages::PreviewRow::original},
     {"background", &stages::PreviewRow::background},
     {"foreground", &stages::PreviewRow::foreground},
     {"mask", &stages::PreviewRow::mask}}};

}  // namespace

// mpirun: every rank keeps the even sample one process keeps for a video that does not fit (at
// most the fitted frames, as the memory allows) and reads the sample's frames in its own range; the
// ranks share them, so each fits the same model. Then each decodes and splits its range, as one
// process does a long video: what crosses ranges is the sample, once.
void SeparateRun::plan_ranks() {
  const long n = expected_frames();
  if (n < 0)
    throw Error("under mpirun the input must announce its frame count (a video file or image folder), and '" +
                options_.input + "' does not");
  if (n < ranks())
    throw Error("under mpirun every rank needs a frame: " + std::to_string(n) + " frames for " +
                std::to_string(ranks()) + " ranks");
  sample_ = stages::evenly_spaced_frames(n, plan_.sample_size(n));
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
long SeparateRun::sample_column(long frame) const {
  return static_cast<long>(std::lower_bound(sample_.begin(), sample_.end(), frame) - sample_.begin());
}

// Where this process writes an output: its own name, or under mpirun the rank's part of it.
fs::path SeparateRun::part(const std::string& name, int rank) const {
  return parts_ / ("rank" + std::to_string(rank) + "-" + name);
}
fs::path SeparateRun::output_or_part(const std::string& name) const {
  return ranks() > 1 ? part(name, cluster_.rank()) : options_.output / name;
}
fs::path SeparateRun::preview_part(std::size_t row, const char* image, int rank) const {
  return part("preview" + std::to_string(row) + "-" + image + ".png", rank);
}

// mpirun: the sample's columns, each read by the rank whose range holds the frame, to every rank.
void SeparateRun::share_sample(bool complete) {
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
bool SeparateRun::agree_interrupted() {
  std::array<double, 1> flag{result_.interrupted ? 1.0 : 0.0};
  cluster_.sum(flag);
  return result_.interrupted = flag[0] > 0;
}

void SeparateRun::gather_rank_figures() {
  const auto& s = result_.seconds;
  const std::array<double, 6> figures{
      static_cast<double>(first_), static_cast<double>(rank_frames_), s.read, s.decompose, s.split_wall, s.total};
  rank_figures_ = cluster_.gather(figures);
}

// mpirun: rank 0 joins the ranks' parts into the outputs one process would write. They hold the
// video's first frames: every rank's up to the first that did not finish its range (an
// interrupt), as one process's outputs hold its first frames. The videos are joined without
// re-encoding and model.npz's foreground without compressing it again.
void SeparateRun::join_parts(long written, const SplitSums& rank_sums) {
  const auto started = Clock::now();
  const long n = expected_frames();
  if (!result_.interrupted && written < last_ - first_)
    throw Error("'" + options_.input + "' ended at frame " + std::to_string(options_.start + first_ + written) +
                ", before the " + std::to_string(n) + " frames it announced; separate it without mpirun");
  if (model_file_ && written > 0) model_file_->finish_part();
  for (std::size_t i = 0; i < previews_.size(); ++i)
    if (!previews_[i].mask.empty())
      for (const auto& [name, image] : preview_images)
        io::write_png(preview_part(i, name, cluster_.rank()), previews_[i].*image);

  const std::array<double, 1> mine{static_cast<double>(written)};
  const std::vector<double> counts = cluster_.gather(mine);  // also: every part is on disk
  int joined = 0;
  long frames = 0;
  for (bool complete = true; complete && joined < ranks(); ++joined) {
    const long count = static_cast<long>(counts[static_cast<std::size_t>(joined)]);
    complete = count == cluster_.first_frame(joined + 1, n) - cluster_.first_frame(joined, n);
    frames += count;
  }
  // The clean plate's sums over the joined ranks.
  std::vector<double> sums(static_cast<std::size_t>(options_.rank), 0.0);
  if (cluster_.rank() < joined) std::copy(rank_sums.refit.begin(), rank_sums.refit.end(), sums.begin());
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
  for (const std::string& name : videos_) {  // rank 0's: it wrote frames, as every rank joined did
    io::concatenate_videos(parts(name), out(name));
    wrote(name);
  }
  if (mask_images_) {
    wrote("masks/");
    std::error_code absent;
    for (long j = frames; j < n; ++j)  // masks of ranks after the first unfinished one: not joined
      fs::remove(mask_images_->path(options_.start + j + 1), absent);
  }
  if (options_.outputs.background)
    write_clean_plate(Eigen::Map<const Eigen::VectorXd>(sums.data(), options_.rank), frames);
  if (frames == n) {
    std::vector<stages::PreviewRow> rows;
    for (std::size_t i = 0; i < preview_frames_.size(); ++i) {
      int r = 0;
      while (cluster_.first_frame(r + 1, n) <= preview_frames_[i]) ++r;
      stages::PreviewRow& row = rows.emplace_back();
      for (const auto& [name, image] : preview_images)
        row.*image = cv::imread(preview_part(i, name, r).string(), cv::IMREAD_UNCHANGED);
    }
    io::write_png(out("preview.png"), stages::contact_sheet(rows));
    wrote("preview.png");
  }
  if (model_file_) {
    io::ModelWriter model(out("model.npz"), model_file_->header());
    for (const fs::path& part : parts("model.npz")) model.append_part(part);
    model.finish();
    model_written(frames, model.coded_pixels(), model.psnr());
  }
  result_.seconds.join = seconds_since(started);
}

}  // namespace cleanplate::pipeline
