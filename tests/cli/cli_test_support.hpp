// Helpers for end-to-end tests: run the built programs, read what they wrote, score masks.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>
#include <string>

#include "cleanplate/io/ground_truth.hpp"
#include "cleanplate/io/video_source.hpp"
#include "cleanplate/pipeline/evaluate.hpp"
#include "cleanplate/stages/frame_column.hpp"

namespace cleanplate::testing {
namespace fs = std::filesystem;

struct ProgramRun {
  int exit_code = -1;
  std::string errors;  // what the program wrote on stderr
};

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a shell command line, capturing stderr.
inline ProgramRun run(const std::string& command, const fs::path& scratch) {
  const fs::path errors = scratch / "stderr.txt";
  const int status = std::system((command + " 2> '" + errors.string() + "' > /dev/null < /dev/null").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_text(errors)};
}

inline std::string cleanplate_command(const std::string& arguments) {
  return std::string(CLEANPLATE_BINARY) + " " + arguments;
}

#ifdef CLEANPLATE_MPIEXEC
// `cleanplate ARGUMENTS` as `ranks` MPI ranks on this machine. As root (containers, CI) mpirun needs
// Open MPI's consent.
inline std::string mpirun(int ranks, const std::string& arguments) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " + std::string(CLEANPLATE_MPIEXEC) +
         " --oversubscribe -np " + std::to_string(ranks) + " " + cleanplate_command(arguments);
}
#endif

// A scratch folder per test, removed when the test passes.
inline fs::path scratch_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path folder =
      fs::temp_directory_path() / ("cleanplate-" + std::string(info->test_suite_name()) + "-" + info->name());
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder;
}

// The test data folder ($CLEANPLATE_SHARED_DATA, else ../shared/data); tests that need it skip with
// a message when it is absent.
inline fs::path shared_data() {
  const char* path = std::getenv("CLEANPLATE_SHARED_DATA");
  return path ? fs::path(path) : fs::path(CLEANPLATE_DEFAULT_SHARED_DATA);
}
// The one reason given for those skips, so scripts/test.sh can count them under it.
inline constexpr const char* no_shared_data = "the shared test data is absent (see ../shared/data/README.md)";

inline long decodable_frames(const fs::path& video) {
  cv::VideoCapture capture(video.string(), cv::CAP_FFMPEG);
  long frames = 0;
  for (cv::Mat frame; capture.read(frame) && !frame.empty();) ++frames;
  return frames;
}

// The synthetic scene (200 frames, 320x240, CDnet layout plus scene.mkv), made once per build of
// the generator and shared by the tests of this file.
inline fs::path synthetic_scene() {
  const auto stamp = fs::last_write_time(CLEANPLATE_SYNTH).time_since_epoch().count();
  const fs::path scene = fs::temp_directory_path() / ("cleanplate-scene-" + std::to_string(stamp));
  if (fs::exists(scene / "scene.mkv")) return scene;
  const fs::path partial = scene.string() + ".partial-" + std::to_string(::getpid());
  if (std::system((std::string(CLEANPLATE_SYNTH) + " '" + partial.string() + "' > /dev/null").c_str()) != 0)
    throw std::runtime_error("cleanplate-synth failed");
  std::error_code raced;  // another test process may have made it first
  fs::rename(partial, scene, raced);
  if (raced) fs::remove_all(partial);
  return scene;
}

inline bool one_line(const std::string& text) { return !text.empty() && text.find('\n') == text.size() - 1; }

inline bool has_partial_files(const fs::path& folder) {
  if (!fs::exists(folder)) return false;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    if (entry.path().filename().string().find(".partial-") != std::string::npos) return true;
  return false;
}

// The frames as separate analysed them (decoded, then grey or colour at full size).
inline std::vector<cv::Mat> decoded_frames(const std::string& input, bool color) {
  io::VideoSource source(input);
  const auto geometry = stages::geometry_for(source.size(), {.scale = 1, .color = color});
  std::vector<cv::Mat> frames;
  while (auto frame = source.next()) frames.push_back(stages::convert_frame(frame->image, geometry));
  return frames;
}

inline cv::Mat rebuilt_frame(const fs::path& folder, long number) {
  char name[32];
  std::snprintf(name, sizeof name, "frame%06ld.png", number);
  return cv::imread((folder / name).string(), cv::IMREAD_UNCHANGED);
}

// PSNR over all frames together (the definition separate reports), +inf when identical.
inline double video_psnr(const std::vector<cv::Mat>& original, const fs::path& rebuilt) {
  double squared_error = 0, values = 0;
  for (std::size_t j = 0; j < original.size(); ++j) {
    const cv::Mat frame = rebuilt_frame(rebuilt, static_cast<long>(j) + 1);
    EXPECT_EQ(frame.size(), original[j].size()) << "frame " << j;
    if (frame.size() != original[j].size()) return 0;
    squared_error += std::pow(cv::norm(frame, original[j], cv::NORM_L2), 2);
    values += static_cast<double>(frame.total() * frame.channels());
  }
  return squared_error == 0 ? INFINITY : 10 * std::log10(255.0 * 255 * values / squared_error);
}

inline double summary_number(const fs::path& summary, const std::string& key) {
  const std::string text = read_text(summary);
  const auto at = text.find("\"" + key + "\": ");
  if (at == std::string::npos) return NAN;
  const std::string value = text.substr(at + key.size() + 4, 24);
  return value.rfind("null", 0) == 0 ? INFINITY : std::stod(value);
}

// The F-measure of one sequence and method in eval.csv (0, and a failure, when the row is missing).
inline double eval_f_measure(const std::string& csv, const std::string& sequence, const std::string& method) {
  const auto row = csv.find("\n" + sequence + "," + method + ",");
  EXPECT_NE(row, std::string::npos) << sequence << ", " << method << " missing from\n" << csv;
  if (row == std::string::npos) return 0.0;
  std::stringstream fields(csv.substr(row + 1, csv.find('\n', row + 1) - row - 1));
  std::string field;
  for (int column = 0; column < 9; ++column) std::getline(fields, field, ',');
  return std::stod(field);
}

// Masks after warm-up against the ground truth: the sequence with its temporal ROI moved past it.
inline stages::ConfusionCounts score_after_warmup(const fs::path& scene, const fs::path& masks, long warmup,
                                                  long frames) {
  io::CdnetSequence sequence = io::open_cdnet_sequence(scene);
  sequence.first = warmup + 1;
  sequence.last = frames;
  return pipeline::score_mask_folder(masks, sequence);
}

}  // namespace cleanplate::testing
