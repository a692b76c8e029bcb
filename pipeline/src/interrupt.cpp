#include "cleanplate/pipeline/interrupt.hpp"

#include <atomic>
#include <csignal>

namespace cleanplate::pipeline {
namespace {
std::atomic<bool> flag{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void on_signal(int) { flag.store(true); }
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool interrupted() { return flag.load(std::memory_order_relaxed); }
void request_interrupt() { flag.store(true); }

}  // namespace cleanplate::pipeline
