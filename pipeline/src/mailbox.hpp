// The queue between a live source's reader thread and the flow graph.
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace cleanplate::pipeline {

// Frames between the reader and the graph. When full, a live source drops the oldest waiting
// frame (counted); a file processed as fast as possible makes the reader wait instead.
template <typename Frame>
class Mailbox {
 public:
  Mailbox(std::size_t capacity, bool drop_when_full) : capacity_(capacity), drop_(drop_when_full) {}
  void put(Frame frame) {
    std::unique_lock lock(mutex_);
    if (!drop_) changed_.wait(lock, [&] { return queue_.size() < capacity_ || closed_; });
    if (queue_.size() >= capacity_) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(std::move(frame));
    changed_.notify_all();
  }
  std::optional<Frame> take() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return std::nullopt;
    Frame frame = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return frame;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }
  long dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Frame> queue_;
  std::size_t capacity_;
  bool drop_, closed_ = false;
  long dropped_ = 0;
};

}  // namespace cleanplate::pipeline
