// Helpers for end-to-end tests: run the built programs, read what they wrote, score masks.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "cleanplate/io/ground_truth.hpp"
#include "cleanplate/stages/metrics.hpp"

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

inline std::string cleanplate_command(const std::string& arguments) { return std::string(CLEANPLATE_BINARY) + " " + arguments; }

// A scratch folder per test, removed when the test passes.
inline fs::path scratch_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path folder = fs::temp_directory_path() / ("cleanplate-" + std::string(info->test_suite_name()) + "-" + info->name());
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder;
}

// The test data folder; tests that need it skip with a message when it is absent.
inline fs::path shared_data() {
  const char* path = std::getenv("CLEANPLATE_SHARED_DATA");
  return path ? fs::path(path) : fs::path();
}

// CDnet scores of masks/binNNNNNN.png against a sequence's ground truth over its temporal ROI.
inline stages::ConfusionCounts score_masks(const fs::path& masks, const io::CdnetSequence& sequence) {
  stages::ConfusionCounts counts;
  char name[32];
  for (long number = sequence.first; number <= sequence.last; ++number) {
    std::snprintf(name, sizeof name, "bin%06ld.png", number);
    const cv::Mat mask = cv::imread((masks / name).string(), cv::IMREAD_GRAYSCALE);
    if (mask.empty()) throw std::runtime_error("missing mask " + (masks / name).string());
    counts.add(mask, sequence.labels(number), sequence.roi);
  }
  return counts;
}

}  // namespace cleanplate::testing
