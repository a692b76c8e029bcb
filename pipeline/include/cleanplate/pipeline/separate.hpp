// `cleanplate separate` as a function: reads a video into a frame matrix, decomposes it, and
// writes background, foreground, masks and factors. Two oneTBB flow graphs do the work:
//
//   read:   decode (serial) -> limiter -> convert (parallel) -> sequencer -> stack (serial)
//   split:  frame number (serial) -> limiter -> split + mask (parallel) -> sequencer
//             -> broadcast -> one writer per output (serial each) -> done (frees a limiter slot)
//
// with the decomposition (randomized SVD of the stacked matrix) in between. The limiters bound
// the frames in flight, so memory is the matrix plus a few frames.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cleanplate/io/model_file.hpp"
#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/pipeline/cluster.hpp"
#include "cleanplate/stages/decompose.hpp"
#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::pipeline {

struct SeparateOutputs {
  bool background = true;  // background.png (the clean plate); background.mp4 when rank > 1
  bool foreground = true;  // foreground.mp4: the frame where the mask is on, black elsewhere
  bool mask = true;        // mask.mp4
  bool model = true;       // model.npz: factors + coded foreground, the whole video (docs/FORMAT.md)
  bool png = false;        // masks/bin000001.png ... (CDnet naming, lossless)
};

// How model.npz stores the video.
struct ModelFormat {
  long version = 2;               // 2: the foreground as an H.264 residual video; 1: sparse values
  int quality = 23;               // version 2: libx264's CRF scale (lower: better and larger)
  std::string preset = "medium";  // version 2: libx264's preset for the foreground
  // Version 1 (written with --model-version 1 or --lossless-foreground):
  io::FactorPrecision factors = io::FactorPrecision::f16;  // U and V; f16 costs < 0.1 grey level
  long foreground_step = 4;  // grey levels per stored unit of the foreground residual (1: exact)
  int tolerance = 14;        // pixels off the mask are coded where they differ from the background by more
  bool lossless = false;     // code every pixel that differs from the background, step 1: exact frames

  long written_version() const { return lossless ? 1 : version; }  // lossless is version 1's
};

struct SeparateOptions {
  std::string input;                     // file, image pattern or folder, camera, URL
  std::filesystem::path output = "out";  // folder, created if missing
  stages::Method method = stages::Method::robust;
  long rank = 1;                   // of the background (an upper bound for robust_pca)
  stages::ConvertOptions convert;  // --scale, --color
  long start = 0;                  // frames skipped at the beginning
  long frames = -1;                // at most this many frames (-1: all)
  stages::MaskOptions mask;        // --threshold, --open, --close
  SeparateOutputs outputs;
  ModelFormat model;
  io::VideoOptions video;                 // --preset, --crf: the .mp4 files
  bool lossless_masks = false;            // mask.mp4 exact (H.264 at qp 0)
  std::string mask_preset = "ultrafast";  // mask.mp4's libx264 preset: a binary mask costs little at the fastest
  std::int64_t max_memory = 0;  // bytes for the frame matrix; 0: 1 GiB, or a quarter of a smaller machine's memory
  long frames_in_flight = 16;
  double fps = 0;        // --fps: the input's frame rate (0: the video's own; images 25)
  bool strict = false;   // an image of a folder that does not decode ends the run (else the frame before stands in)
  bool progress = true;  // on stderr, when it is a terminal
};

struct StageSeconds {
  double read = 0;    // wall time of the read graph (decode, convert, stack overlap)
  double decode = 0;  // busy time inside each node, summed over threads
  double convert = 0;
  double stack = 0;
  double decompose = 0;
  double threshold = 0;
  double split_wall = 0;  // wall time of the split graph
  double split = 0;
  double write = 0;  // all writers, busy time
  double refit = 0;  // the background refit's second step
  double model = 0;  // coding and writing model.npz
  double join = 0;   // mpirun: rank 0 joining the ranks' parts into the outputs
  double total = 0;
};

// How well model.npz compresses the frames it holds (the analysis geometry: grey unless --color).
struct Compression {
  std::int64_t raw_bytes = 0;     // the decoded 8-bit frames
  std::int64_t input_bytes = -1;  // the input file(s), their share for the frames separated; -1: a live source
  std::int64_t model_bytes = 0;
  double coded_share = 0;  // fraction of pixels coded in the foreground
  double psnr = 0;         // dB, rebuilt frames vs decoded input; +inf when exact
};

struct SeparateResult {
  long frames = 0;                  // frames separated
  long sample_frames = 0;           // frames in the model's sample when the video did not fit (0: all)
  long fitted_frames = 0;           // frames the model was fitted on (at most 512, evenly spaced)
  long announced_frames = -1;       // what the container said (-1: unknown)
  bool source_ended_early = false;  // fewer frames than announced: a truncated file
  long undecodable_images = 0;      // images of a folder that did not decode; the frame before stood in
  std::string first_undecodable_image;
  bool interrupted = false;
  long frames_written = 0;  // frames in the videos (fewer than frames when interrupted)
  stages::FrameGeometry geometry;
  double fps = 0;
  std::vector<double> singular_values;
  double energy = 0;       // fraction of ||X||^2 captured by the background
  double noise_sigma = 0;  // frame-wide robust residual standard deviation, [0, 1] units
  double threshold = 0;    // mean seed level of the mask over the pixels, [0, 1] units
  StageSeconds seconds;
  Compression compression;         // when the model was written
  std::vector<std::string> files;  // written, relative to the output folder
};

// Throws cleanplate::Error on bad input or options; an interrupt returns with interrupted set.
// Under mpirun (`cluster` of several ranks) each rank separates a range of the frames and rank 0
// writes the outputs one process would; its result describes the whole run.
SeparateResult separate(const SeparateOptions& options, const Cluster& cluster = Cluster());

// "robust", "svd", "godec", "rpca" and back; throws on an unknown name.
stages::Method parse_method(const std::string& name);
const char* method_name(stages::Method method);

// Parses "512M", "4G", "1.5G", "1000000" (bytes); throws on anything else.
std::int64_t parse_bytes(const std::string& text);

}  // namespace cleanplate::pipeline
