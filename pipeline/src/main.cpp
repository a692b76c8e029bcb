// The `cleanplate` executable: the command line of command_line.hpp.
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cleanplate/pipeline/command_line.hpp"

int main(int argc, char** argv) {
  // FFmpeg's own log lines ("moov atom not found") would break the one-line errors; cleanplate
  // reports what went wrong itself. A user's setting wins.
  ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);
  // Frame-sized buffers (a few MB) come and go with every frame. glibc would serve each from a
  // fresh mmap and return it on free, so every frame would fault its pages in again (measured:
  // `live` at 640x480 fell from 60 to 20 fps). Keep such blocks in the heap, and the heap's top.
  ::mallopt(M_MMAP_THRESHOLD, 256 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // One heap (arena) per core, not glibc's eight: each of the many threads (oneTBB's, x264's,
  // FFmpeg's) would keep the frames it freed in a heap of its own (measured: `separate` at 1080p
  // 1.10 GB peak RSS with eight per core, 0.99 GB with one, at the same speed).
  ::mallopt(M_ARENA_MAX, static_cast<int>(std::max(2U, std::thread::hardware_concurrency())));
  return cleanplate::pipeline::run_command_line(std::vector<std::string>(argv + 1, argv + argc));
}
