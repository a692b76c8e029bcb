// `cleanplate rebuild` and `cleanplate info` as functions: frames rebuilt from a model.npz (its
// factors plus its coded foreground) and written as a video or PNG frames; a description of what a
// model holds. The rebuild runs as a oneTBB flow graph:
//
//   frame number (serial) -> limiter -> rebuild (parallel) -> sequencer -> write (serial)
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace cleanplate::pipeline {

struct RebuildOptions {
  std::filesystem::path model;
  // .mp4: H.264 (plays everywhere, lossy); .mkv or .avi: FFV1 (lossless); no extension: a folder
  // of PNG frames frame000001.png ... (lossless, numbered from the model's first frame).
  std::filesystem::path output = "rebuilt.mp4";
  long first = 0, end = -1;      // frames [first, end) of the model; end -1: to the last
  bool background_only = false;  // the low-rank background without the foreground
  bool progress = true;
};

struct RebuildResult {
  long frames = 0;  // written
  bool interrupted = false;
  double seconds = 0;
  double model_psnr = 0;  // what separate measured when it wrote the model (dB, +inf: exact)
};

RebuildResult rebuild(const RebuildOptions& options);

// "A:B" (frames A to B-1), "A:" or ":B", counted from 0 as in Python; throws on anything else.
std::pair<long, long> parse_frame_range(const std::string& text);

// What `cleanplate info` prints: geometry, rank, energy, precision, foreground share, PSNR, and the
// stored and raw size of every part.
std::string describe_model(const std::filesystem::path& model);

}  // namespace cleanplate::pipeline
