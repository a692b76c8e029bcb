// One run of `separate`, shared by its files: separate.cpp (the steps in order, the fit, the
// summary), separate_read.cpp (the read graph), separate_split.cpp (the split graph and the
// outputs) and separate_mpi.cpp (what crosses ranks under mpirun).
//
// The plan: the model is fitted on at most 512 evenly spaced frames (fewer for large frames:
// pipeline::fitted_frames) and every frame is split against it (stages::FittedSplitter). A video
// whose frames fit the memory plan is read once: the matrix holds every frame and the fit sees
// every s-th column. A longer one is read twice: an evenly spaced sample of its frames first (the
// matrix; in a video file, by two decoders that skip what no frame refers to), then every frame,
// split as it is decoded again. Under mpirun every rank keeps the same sample and splits a range of
// the frames.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cleanplate/io/model_file.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/io/video_source.hpp"
#include "cleanplate/pipeline/cluster.hpp"
#include "cleanplate/pipeline/memory_plan.hpp"
#include "cleanplate/pipeline/progress.hpp"
#include "cleanplate/pipeline/separate.hpp"
#include "cleanplate/stages/frame_matrix.hpp"
#include "cleanplate/stages/frame_splitter.hpp"
#include "cleanplate/stages/preview.hpp"

namespace cleanplate::pipeline {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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

class SeparateRun {
 public:
  SeparateRun(const SeparateOptions& options, const Cluster& cluster);
  SeparateResult run();

 private:
  // What the split hands the outputs for one frame; copied to each writer (what is large is shared).
  struct SplitOutputs {
    long index = 0;
    cv::Mat mask, foreground, background;
    Eigen::VectorXd refit;   // the frame's coordinates on the refit (for the clean plate)
    Eigen::VectorXf stored;  // its row of model.npz's V
    std::shared_ptr<const io::ModelWriter::DeflatedFrame> coded;  // its foreground, as the model's writer takes it
  };
  // What the writers add up, for the clean plate.
  struct SplitSums {
    Eigen::VectorXd refit;
  };

  // separate.cpp
  io::VideoSource open_source(int decoder_threads = 0) const;
  long expected_frames() const;
  void decompose();
  io::ModelFile model_header(const linalg::SvdResult<float>& background) const;
  void write_summary();
  // separate_read.cpp
  void read();
  void note_undecodable(const io::VideoSource& source);
  // separate_split.cpp
  void split();
  SplitOutputs split_frame(long index, const cv::Mat& decoded);
  void finish_outputs(long written, const SplitSums& sums);
  void write_clean_plate(const Eigen::VectorXd& refit_sum, long frames);
  void model_written(long frames, std::int64_t coded_pixels, double psnr);
  // separate_mpi.cpp
  int ranks() const { return cluster_.size(); }
  void plan_ranks();
  long sample_column(long frame) const;
  std::filesystem::path part(const std::string& name, int rank) const;
  std::filesystem::path output_or_part(const std::string& name) const;
  void share_sample(bool complete);
  bool agree_interrupted();
  void gather_rank_figures();
  std::filesystem::path preview_part(std::size_t row, const char* image, int rank) const;
  void join_parts(long written, const SplitSums& sums);

  std::filesystem::path out(const std::string& name) const { return options_.output / name; }
  void wrote(const std::string& name) { result_.files.push_back(name); }
  bool sampled() const { return !sample_.empty(); }
  // background.mp4: the background of every frame, when it can change (rank > 1).
  bool background_video() const { return options_.outputs.background && options_.rank > 1; }
  // The frames the model is fitted on: the matrix, or every s-th of its columns (without a copy).
  stages::FramesRef fitted_frames() const;

  const SeparateOptions& options_;
  const Cluster& cluster_;
  io::VideoSource source_;
  Progress progress_;
  stages::FrameGeometry geometry_;
  MemoryPlan plan_;
  SeparateResult result_;
  std::vector<Eigen::Index> sample_;  // frame numbers in the matrix; empty when it holds them all
  std::optional<stages::FrameMatrix> matrix_;
  double squared_norm_ = 0;  // ||X||_F^2, summed while stacking
  stages::BackgroundModel model_;
  std::optional<stages::FittedSplitter> splitter_;
  std::optional<io::ModelWriter> model_file_;
  // The split's outputs as they are written, for the previews and the MPI join.
  std::vector<std::string> videos_;
  std::optional<io::PngSequenceSink> mask_images_;
  std::vector<Eigen::Index> preview_frames_;
  std::vector<stages::PreviewRow> previews_;
  // mpirun: this process splits frames [first_, last_) (after --start) and writes its outputs as
  // parts that rank 0 joins; one process splits them all.
  long first_ = 0, last_ = -1;
  std::filesystem::path parts_;
  std::vector<double> rank_figures_;  // rank_figure_names, rank after rank
  long rank_frames_ = 0;              // frames this process split
  static constexpr std::array<const char*, 6> rank_figure_names{"first_frame", "frames",     "read",
                                                                "decompose",   "split_wall", "total"};
};

}  // namespace cleanplate::pipeline
