// Progress on stderr for long runs: "phase  done/total  fps  ETA", redrawn in place at most a
// few times a second, and only when stderr is a terminal (logs and pipes stay clean).
#pragma once
#include <chrono>
#include <string>

namespace cleanplate::pipeline {

// The line: "phase done/total frames  fps  ETA s" (the total and ETA only when the total is known),
// then, when `dropped` >= 0 (a live source), "N dropped (p%)" with p the share of the frames read.
std::string progress_line(const std::string& phase, long done, long total, double seconds, long dropped = -1);

class Progress {
 public:
  explicit Progress(bool wanted);             // shown when wanted and stderr is a terminal
  void start(std::string phase, long total);  // total < 0: unknown
  void update(long done, long dropped = -1);
  void show(const std::string& text);  // a step without frames to count, until the next line
  void finish();                       // clears the line

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::string phase_;
  long total_ = -1;
  Clock::time_point started_, drawn_;
};

}  // namespace cleanplate::pipeline
