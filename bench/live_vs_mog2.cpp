// cleanplate's online decomposer against OpenCV's MOG2 on the same pre-decoded frames, in the
// same run: frames per second, per-frame latency (median and 99th percentile), and resident
// memory after 1,000 and 10,000 frames (each method in its own child process, so the figures are
// its own). The video's frames are decoded once, turned grey, and cycled.
//   bench_live_vs_mog2 VIDEO [FRAMES]        (default 10000; bench/live_vs_mog2.sh makes a video)
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cleanplate/stages/online_background.hpp>
#include <cstdio>
#include <fstream>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>
#include <opencv2/videoio.hpp>
#include <string>
#include <vector>

using namespace cleanplate;
using Clock = std::chrono::steady_clock;

namespace {

double resident_megabytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGE_SIZE)) / 1e6;
}

struct Figures {
  double fps = 0, median_ms = 0, p99_ms = 0, memory_1000 = 0, memory_end = 0;
};

template <class Process>
Figures measure(const std::vector<cv::Mat>& frames, long count, Process process) {
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(count));
  Figures figures;
  const auto started = Clock::now();
  for (long i = 0; i < count; ++i) {
    const auto before = Clock::now();
    process(frames[static_cast<std::size_t>(i) % frames.size()]);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
    if (i + 1 == 1000) figures.memory_1000 = resident_megabytes();
  }
  figures.fps = static_cast<double>(count) / std::chrono::duration<double>(Clock::now() - started).count();
  figures.memory_end = resident_megabytes();
  std::sort(latencies.begin(), latencies.end());
  figures.median_ms = latencies[latencies.size() / 2];
  figures.p99_ms = latencies[latencies.size() * 99 / 100];
  return figures;
}

// Runs `work` in a child process and returns what it measured (memory figures are the child's).
template <class Work>
Figures in_child(Work work) {
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) std::exit(1);
  const pid_t child = ::fork();
  if (child == 0) {
    const Figures figures = work();
    if (::write(pipe_ends[1], &figures, sizeof figures) != sizeof figures) ::_exit(1);
    ::_exit(0);
  }
  Figures figures;
  if (::read(pipe_ends[0], &figures, sizeof figures) != sizeof figures) std::exit(1);
  ::waitpid(child, nullptr, 0);
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_live_vs_mog2 VIDEO [FRAMES]\n");
    return 2;
  }
  const long count = argc > 2 ? std::stol(argv[2]) : 10000;
  ::mallopt(M_MMAP_THRESHOLD, 256 << 20);  // frame buffers stay in the heap, as cleanplate's main() sets it
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
  cv::VideoCapture capture(argv[1], cv::CAP_FFMPEG);
  std::vector<cv::Mat> frames;
  for (cv::Mat frame; capture.read(frame) && !frame.empty();) {
    cv::Mat grey;
    cv::cvtColor(frame, grey, cv::COLOR_BGR2GRAY);
    frames.push_back(grey);
  }
  if (frames.empty()) {
    std::fprintf(stderr, "bench_live_vs_mog2: cannot read frames from '%s'\n", argv[1]);
    return 1;
  }
  const stages::FrameGeometry geometry{.width = frames[0].cols, .height = frames[0].rows, .channels = 1};
  std::printf("%zu grey frames of %dx%d, cycled to %ld; %d threads available to OpenCV\n", frames.size(),
              geometry.width, geometry.height, count, cv::getNumThreads());

  // As `live` runs it: the model's block side by the frame's size, the masks without the background;
  // then without the shadow labels, and without the neighbour test too, to show what each costs.
  const auto online = [&](const stages::MaskOptions& mask) {
    return in_child([&] {
      stages::OnlineBackground model(geometry,
                                     {.rank = 1, .memory = 300, .warmup = 25, .mask = mask, .background = false});
      return measure(frames, count, [&](const cv::Mat& frame) { (void)model.split(stages::image_levels(frame)); });
    });
  };
  const Figures ours = online({}), without_shadows = online({.shadows = false}),
                without_either = online({.neighbour_radius = 0, .shadows = false});
  const Figures mog2 = in_child([&] {
    const auto subtractor = cv::createBackgroundSubtractorMOG2();
    cv::Mat mask;
    return measure(frames, count, [&](const cv::Mat& frame) { subtractor->apply(frame, mask); });
  });

  std::printf("%-36s %9s %12s %12s %14s %14s\n", "method", "fps", "median ms", "p99 ms", "RSS@1000 MB", "RSS@end MB");
  for (const auto& [name, f] : {std::pair{"cleanplate OnlineBackground", ours},
                                {"  --no-shadows", without_shadows},
                                {"  --no-shadows --neighbours 0", without_either},
                                {"OpenCV MOG2", mog2}})
    std::printf("%-36s %9.1f %12.2f %12.2f %14.1f %14.1f\n", name, f.fps, f.median_ms, f.p99_ms, f.memory_1000,
                f.memory_end);
  std::printf("speed ratio cleanplate / MOG2: %.2f (%.2f --no-shadows, %.2f --no-shadows --neighbours 0)\n",
              ours.fps / mog2.fps, without_shadows.fps / mog2.fps, without_either.fps / mog2.fps);
  return 0;
}
