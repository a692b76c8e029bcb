// libFuzzer target for the model reader: any bytes must give either arrays or a cleanplate::Error,
// never a crash, a sanitizer report or a huge allocation. Built with clang (CLEANPLATE_FUZZ=ON);
// run by scripts/fuzz.sh, seeded with real model files.
#include <cleanplate/error.hpp>
#include <cleanplate/io/npz_reader.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto reader = cleanplate::io::NpzReader::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz",
                                                              std::int64_t{1} << 26);
    for (const char* name : {"U", "S", "V", "shape", "layout"}) {
      if (!reader.contains(name)) continue;
      try {  // each typed view checks dtype and shape on its own
        (void)reader.matrix(name);
      } catch (const cleanplate::Error&) {
      }
      try {
        (void)reader.vector(name);
      } catch (const cleanplate::Error&) {
      }
      try {
        (void)reader.integers(name);
      } catch (const cleanplate::Error&) {
      }
      try {
        (void)reader.text(name);
      } catch (const cleanplate::Error&) {
      }
    }
  } catch (const cleanplate::Error&) {
  }
  return 0;
}
