// Latency percentiles of a live run, in constant memory.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>

namespace cleanplate::pipeline {

// Latency percentiles in constant memory: 1 ms bins up to 10 s.
class LatencyHistogram {
 public:
  void add(double seconds) {
    ++bins_[static_cast<std::size_t>(std::clamp(seconds * 1000, 0.0, static_cast<double>(bins_.size() - 1)))], ++count_;
  }
  double percentile(double p) const {
    long seen = 0;
    for (std::size_t i = 0; i < bins_.size(); ++i)
      if ((seen += bins_[i]) > 0 && static_cast<double>(seen) >= p * static_cast<double>(count_))
        return (static_cast<double>(i) + 0.5) / 1000;
    return 0;
  }

 private:
  std::array<long, 10000> bins_{};
  long count_ = 0;
};

}  // namespace cleanplate::pipeline
