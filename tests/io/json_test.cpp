// Summaries through nlohmann-json: written atomically in insertion order, read back as written,
// non-finite numbers as null, and a clear error for a file that is not JSON.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/atomic_file.hpp>
#include <cleanplate/io/json.hpp>
#include <limits>

namespace cleanplate {
namespace {
namespace fs = std::filesystem;

TEST(Json, SummaryRoundTripKeepsOrderAndValues) {
  const fs::path folder = fs::temp_directory_path() / ("cleanplate-json-" + std::to_string(::getpid()));
  fs::create_directories(folder);
  const io::Json written = {{"zeta", 1},
                            {"alpha", "quote \" and newline \n"},
                            {"psnr", std::numeric_limits<double>::infinity()},
                            {"seconds", {{"read", 0.25}, {"total", 1.5}}},
                            {"files", {"mask.mp4", "model.npz"}}};
  io::write_json(folder / "summary.json", written);
  const io::Json read = io::read_json(folder / "summary.json");
  EXPECT_EQ(read.begin().key(), "zeta");  // insertion order, not alphabetical
  EXPECT_EQ(read["alpha"], "quote \" and newline \n");
  EXPECT_TRUE(read["psnr"].is_null());
  EXPECT_EQ(read["seconds"]["total"].get<double>(), 1.5);
  EXPECT_EQ(read["files"][1], "model.npz");

  io::write_file_atomically(folder / "broken.json", "{\"frames\": ");
  EXPECT_THROW(io::read_json(folder / "broken.json"), Error);
  EXPECT_THROW(io::read_json(folder / "missing.json"), Error);
  fs::remove_all(folder);
}

}  // namespace
}  // namespace cleanplate
