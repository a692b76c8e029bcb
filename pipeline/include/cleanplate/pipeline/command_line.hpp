// The `cleanplate` command line as functions, for the executable and for the Python module (whose
// `separate(path, **options)` takes the same options as keyword arguments).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cleanplate/error.hpp"
#include "cleanplate/pipeline/separate.hpp"

namespace cleanplate::pipeline {

// An option the command does not know, or a value it cannot take: reported with a hint to --help.
struct UsageError : Error {
  using Error::Error;
};

// `cleanplate WORDS...` (the words after the program's name): the exit code. Errors are reported as
// one line on stderr; Ctrl-C stops the work and finalizes the outputs (exit 130).
int run_command_line(const std::vector<std::string>& words);

// `cleanplate separate ARGUMENTS...` without the error reporting or signal handlers: the result, or
// nullopt when --help was asked (printed to stdout). Throws UsageError or Error.
std::optional<SeparateResult> separate_command(const std::vector<std::string>& arguments,
                                               const Cluster& cluster = Cluster());

}  // namespace cleanplate::pipeline
