// Progress on stderr for long runs: "phase  done/total  fps  ETA", redrawn in place at most a
// few times a second, and only when stderr is a terminal (logs and pipes stay clean).
#pragma once
#include <chrono>
#include <string>

namespace cleanplate::pipeline {

class Progress {
 public:
  explicit Progress(bool wanted);  // shown when wanted and stderr is a terminal
  void start(std::string phase, long total);  // total < 0: unknown
  void update(long done);
  void finish();  // clears the line

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::string phase_;
  long total_ = -1;
  Clock::time_point started_, drawn_;
};

}  // namespace cleanplate::pipeline
