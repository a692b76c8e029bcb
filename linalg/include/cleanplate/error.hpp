// cleanplate::Error — the one exception type every cleanplate module throws.
// Its message is meant for a user: it says what is wrong and, where it can, what to do.
#pragma once
#include <stdexcept>
#include <string>

namespace cleanplate {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace cleanplate
