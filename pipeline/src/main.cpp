// The `cleanplate` executable: the command line of command_line.hpp.
#include <malloc.h>

#include <cstdlib>
#include <string>
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
  return cleanplate::pipeline::run_command_line(std::vector<std::string>(argv + 1, argv + argc));
}
