#include "cleanplate/pipeline/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace cleanplate::pipeline {

Progress::Progress(bool wanted) : enabled_(wanted && ::isatty(STDERR_FILENO)) {}

void Progress::start(std::string phase, long total) {
  phase_ = std::move(phase);
  total_ = total;
  started_ = Clock::now();
  drawn_ = {};
}

void Progress::update(long done) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now - drawn_ < std::chrono::milliseconds(200) && done != total_) return;
  drawn_ = now;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double fps = seconds > 0 ? done / seconds : 0;
  if (total_ > 0 && fps > 0)
    std::fprintf(stderr, "\r\033[K%s %ld/%ld frames  %.0f fps  ETA %.0f s", phase_.c_str(), done, total_, fps, (total_ - done) / fps);
  else
    std::fprintf(stderr, "\r\033[K%s %ld frames  %.0f fps", phase_.c_str(), done, fps);
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace cleanplate::pipeline
