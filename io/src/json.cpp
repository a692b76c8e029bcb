#include "cleanplate/io/json.hpp"

#include <fstream>

#include "cleanplate/error.hpp"
#include "cleanplate/io/atomic_file.hpp"

namespace cleanplate::io {

void write_json(const std::filesystem::path& path, const Json& json) {
  write_file_atomically(path, json.dump(2) + "\n");
}

Json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read '" + path.string() + "'");
  try {
    return Json::parse(in);
  } catch (const Json::exception& error) {
    throw Error("'" + path.string() + "' is not valid JSON: " + error.what());
  }
}

}  // namespace cleanplate::io
