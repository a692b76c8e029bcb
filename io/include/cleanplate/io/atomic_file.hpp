// Files that are complete or absent: written under a temporary name in the destination folder
// (name.partial-PID.ext) and renamed into place on commit(); removed if never committed.
#pragma once
#include <filesystem>
#include <string>

namespace cleanplate::io {

// A file written under a temporary name and renamed into place on commit().
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path destination);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  const std::filesystem::path& temporary() const { return temporary_; }
  const std::filesystem::path& destination() const { return destination_; }
  void commit();

 private:
  std::filesystem::path destination_, temporary_;
  bool committed_ = false;
};

// Writes bytes to `path` atomically.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

}  // namespace cleanplate::io
