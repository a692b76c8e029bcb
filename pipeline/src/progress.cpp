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

std::string progress_line(const std::string& phase, long done, long total, double seconds, long dropped) {
  const double fps = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  char line[256];
  const int length = total > 0 && fps > 0
                         ? std::snprintf(line, sizeof line, "%s %ld/%ld frames  %.0f fps  ETA %.0f s", phase.c_str(),
                                         done, total, fps, static_cast<double>(total - done) / fps)
                         : std::snprintf(line, sizeof line, "%s %ld frames  %.0f fps", phase.c_str(), done, fps);
  if (dropped >= 0 && length > 0 && static_cast<std::size_t>(length) < sizeof line)
    std::snprintf(
        line + length, sizeof line - static_cast<std::size_t>(length), "  %ld dropped (%.1f%%)", dropped,
        done + dropped > 0 ? 100.0 * static_cast<double>(dropped) / static_cast<double>(done + dropped) : 0.0);
  return line;
}

void Progress::update(long done, long dropped) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now - drawn_ < std::chrono::milliseconds(200) && done != total_) return;
  drawn_ = now;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  std::fprintf(stderr, "\r\033[K%s", progress_line(phase_, done, total_, seconds, dropped).c_str());
  std::fflush(stderr);
}

void Progress::show(const std::string& text) {
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace cleanplate::pipeline
