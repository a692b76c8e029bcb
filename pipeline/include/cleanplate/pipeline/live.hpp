// `cleanplate live` as a function: real-time separation of a camera, a network stream or a file
// played at its own frame rate, with the online decomposer (stages/online_background.hpp).
//
//   reader thread: decode -> mailbox (holds `queue` frames; when full, the oldest is dropped
//                  and counted, so a slow consumer never builds a backlog: bounded latency)
//   flow graph:    take (serial) -> convert (parallel) -> sequencer -> decompose (serial)
//                    -> broadcast -> one writer per output (serial each) -> done
//
// A dropped stream is reopened with back-off (1, 2, 4 ... s, `reconnect` attempts); frames that
// fail to decode are skipped and counted. When the source ends or cannot be reopened, or on
// Ctrl-C / SIGTERM, the outputs are finalized and summary.json says what happened.
#pragma once
#include <filesystem>
#include <string>

#include "cleanplate/stages/frame_column.hpp"
#include "cleanplate/stages/online_background.hpp"

namespace cleanplate::pipeline {

struct LiveOptions {
  std::string input;                  // camera index, stream URL, or a file
  std::filesystem::path output;       // empty: no files
  stages::ConvertOptions convert;     // --scale, --color
  stages::OnlineOptions online;       // rank, warm-up, mask rules (memory is set from memory_seconds)
  double memory_seconds = 10;         // --memory: how fast a change becomes background
  bool realtime = true;               // files: play at their frame rate (live sources always are)
  bool display = false;               // a window: original | background | mask, and the fps
  double snapshot_every = 0;          // seconds between background snapshots (0: none)
  int reconnect = 5;                  // attempts to reopen a lost stream
  bool foreground_video = false;      // foreground.mp4 besides mask.mp4
  bool png = false;                   // masks/bin000001.png ...
  long max_frames = -1;               // stop after this many frames (-1: when the source ends)
  std::size_t queue = 16;             // frames waiting between the reader and the graph: absorbs a
                                      // stream's start-up burst; latency stays under queue / fps
  bool progress = true;
};

struct LiveResult {
  long frames_read = 0, frames_processed = 0, frames_dropped = 0, decode_failures = 0, reconnects = 0;
  std::string ended;                  // "end of input", "stream lost", "interrupted", "frame limit", "window closed"
  double seconds = 0, fps = 0;        // processed frames per wall second
  double latency_median = 0, latency_p99 = 0;  // seconds from decode to written
  stages::FrameGeometry geometry;
};

LiveResult live(const LiveOptions& options);

}  // namespace cleanplate::pipeline
