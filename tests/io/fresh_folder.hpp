// An empty scratch folder for one io test, under the system's temporary folder and this process.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

namespace cleanplate::test {

inline std::filesystem::path fresh_folder(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path folder = fs::temp_directory_path() / ("cleanplate-io-" + std::to_string(::getpid())) / name;
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder;
}

}  // namespace cleanplate::test
