// Ctrl-C and SIGTERM as a flag the flow graphs poll: a run stops taking new frames, finalizes
// what it has written, and reports that it was interrupted.
#pragma once

namespace cleanplate::pipeline {

void install_interrupt_handlers();  // SIGINT and SIGTERM set the flag
bool interrupted();
void request_interrupt();  // what the handlers do; also for tests

}  // namespace cleanplate::pipeline
