// `cleanplate live` as a function: real-time separation of a camera, a network stream or a file
// played at its own frame rate, with the online decomposer (stages/online_background.hpp).
//
//   reader thread: decode -> mailbox (holds `queue_seconds` of frames; when full, the oldest is
//                  dropped and counted, so a slow consumer never builds a backlog: bounded latency)
//   flow graph:    take (serial) -> limiter -> convert (parallel) -> sequencer -> decompose (serial)
//                    -> write (serial)
//
// A dropped stream is reopened with back-off (0.5, 1, 2 ... 8 s, `reconnect` attempts); frames that
// fail to decode are skipped and counted. When the source ends or cannot be reopened, or on
// Ctrl-C / SIGTERM, the outputs are finalized and summary.json says what happened.
#pragma once
#include <filesystem>
#include <string>

#include "cleanplate/io/video_sink.hpp"
#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/online_background.hpp"

namespace cleanplate::pipeline {

struct LiveOptions {
  std::string input;                      // camera index, stream URL, or a file
  std::filesystem::path output;           // empty: no files
  stages::ConvertOptions convert;         // --scale, --color
  stages::OnlineOptions online;           // rank, warm-up, mask rules (memory is set from memory_seconds)
  double memory_seconds = 10;             // --memory: how fast a change becomes background
  double fps = 0;                         // --fps: the input's frame rate (0: the source's own, else 25)
  bool realtime = true;                   // files: play at their frame rate (live sources always are)
  bool display = false;                   // a window: original | background | mask, and the fps
  double snapshot_every = 0;              // seconds between background snapshots (0: none)
  int reconnect = 5;                      // attempts to reopen a lost stream
  bool foreground_video = false;          // foreground.mp4 besides mask.mp4
  bool png = false;                       // masks/bin000001.png ...
  io::VideoOptions video;                 // --preset, --crf: the .mp4 files
  bool lossless_masks = false;            // mask.mp4 exact (H.264 at qp 0)
  std::string mask_preset = "ultrafast";  // mask.mp4's libx264 preset: a binary mask costs little at the fastest
  long max_frames = -1;                   // stop after this many frames (-1: when the source ends)
  double queue_seconds = 1;               // --queue: frames waiting between the reader and the graph, in
                                          // seconds of the source (at most 256 MB). It absorbs the burst a
                                          // stream delivers after FFmpeg's probe (0.7 s at 30 fps); when it
                                          // is full the oldest frame is dropped, so latency stays under it.
  bool progress = true;
};

struct LiveResult {
  long frames_read = 0, frames_processed = 0, frames_dropped = 0, decode_failures = 0, reconnects = 0;
  std::string ended;            // "end of input", "stream lost", "interrupted", "frame limit", "window closed"
  double seconds = 0, fps = 0;  // processed frames per wall second
  double latency_median = 0, latency_p99 = 0;  // seconds from decode to written
  stages::FrameGeometry geometry;
};

LiveResult live(const LiveOptions& options);

}  // namespace cleanplate::pipeline
