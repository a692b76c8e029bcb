// libFuzzer target for the model reader: any bytes must give either a model or a cleanplate::Error,
// never a crash, a sanitizer report or a huge allocation. A model that parses is also decoded
// (first and last frame), which exercises every index the validation vouched for. Built with clang
// (CLEANPLATE_FUZZ=ON); run by scripts/fuzz.sh, seeded with real model files.
#include <cleanplate/error.hpp>
#include <cleanplate/io/model_file.hpp>
#include <cleanplate/io/npz_reader.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cleanplate;
  try {
    const auto npz = io::NpzReader::from_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz",
                                               std::int64_t{1} << 26);
    const io::ModelFile model = io::parse_model_file(npz, "fuzz");
    const io::ModelDecoder decoder(model);
    (void)decoder.frame(0);
    (void)decoder.frame(model.frames - 1);
  } catch (const Error&) {
  }
  return 0;
}
