// Summaries through nlohmann-json: written atomically in insertion order, read back as written,
// non-finite numbers as null, and a clear error for a file that is not JSON.
#include <gtest/gtest.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/atomic_file.hpp>
#include <cleanplate/io/json.hpp>
#include <limits>

#include "fresh_folder.hpp"

namespace cleanplate {
namespace {
namespace fs = std::filesystem;

TEST(Json, SummaryRoundTripKeepsOrderAndValues) {
  const fs::path folder = test::fresh_folder("json");
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
}

}  // namespace
}  // namespace cleanplate
