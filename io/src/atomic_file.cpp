#include "cleanplate/io/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "cleanplate/error.hpp"

namespace cleanplate::io {
namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path destination) : destination_(std::move(destination)) {
  // Keep the extension last: OpenCV picks the container from it.
  temporary_ = destination_.parent_path() / (destination_.stem().string() + ".partial-" + std::to_string(::getpid()) +
                                             destination_.extension().string());
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ignored;
    fs::remove(temporary_, ignored);
  }
}

void AtomicFile::commit() {
  std::error_code error;
  fs::rename(temporary_, destination_, error);
  if (error) throw Error("cannot write '" + destination_.string() + "': " + error.message());
  committed_ = true;
}

void write_file_atomically(const fs::path& path, const std::string& bytes) {
  AtomicFile file(path);
  {
    std::ofstream out(file.temporary(), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw Error("cannot write '" + path.string() + "': " + std::strerror(errno));
  }
  file.commit();
}

}  // namespace cleanplate::io
