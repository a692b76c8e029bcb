// NpzReader: reads back what NpzWriter writes, and refuses damaged files with clear errors.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/npz.hpp>
#include <cleanplate/io/npz_reader.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace cleanplate::io {
namespace {
namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string npy(const std::string& header, const std::string& payload) {
  std::string h = header;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + payload;
}

template <typename Check>
void expect_error(Check check, const std::string& part) {
  try {
    check();
    ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

fs::path written_model() {
  const fs::path path = fs::temp_directory_path() / "cleanplate-npz-reader-test.npz";
  Eigen::MatrixXf u(3, 2);
  u << 1, 2, 3, 4, 5, 6;
  NpzWriter npz;
  npz.add("U", u);
  npz.add("S", Eigen::VectorXf(Eigen::VectorXf::LinSpaced(4, 0, 3)));
  npz.add("shape", std::vector<std::int64_t>{200, 240, 320, 1});
  npz.add_string("layout", "grey");
  npz.write(path);
  return path;
}

TEST(NpzReader, ReadsBackWhatTheWriterWrote) {
  const NpzReader reader(written_model());
  EXPECT_EQ(reader.matrix("U")(2, 1), 6);
  EXPECT_EQ(reader.matrix("U")(1, 0), 3);
  EXPECT_EQ(reader.vector("S")(3), 3);
  EXPECT_EQ(reader.integers("shape"), (std::vector<std::int64_t>{200, 240, 320, 1}));
  EXPECT_EQ(reader.text("layout"), "grey");
  expect_error([&] { (void)reader.array("V"); }, "no array 'V'");
  expect_error([&] { (void)reader.vector("U"); }, "not a 1-D float32");
}

// A packed mask (1024 x 512 pixels, two moving boxes whose edges fall inside bytes) deflated with
// runs only: it inflates back to the mask, and its runs are compressed. (On real masks it is as
// small as the full search; these boxes repeat rows, which only the full search finds.)
TEST(DeflatePiece, RunsOnlyInflatesBackToTheMask) {
  constexpr int row_bytes = 128, rows = 512;
  std::vector<std::uint8_t> mask(row_bytes * rows, 0);
  for (int y = 0; y < rows; ++y)
    for (const int x0 : {100 + y / 4, 700 - y / 3})
      for (int x = x0; x < x0 + 37 && (y / 64) % 2 == 0; ++x) mask[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
  const DeflatedPiece runs = deflate_piece(mask.data(), mask.size(), 6, {}, true);
  EXPECT_LT(runs.bytes.size(), mask.size() / 20);
  EXPECT_EQ(runs.crc, crc32_z(0, mask.data(), mask.size()));
  z_stream stream{};
  ASSERT_EQ(inflateInit2(&stream, -15), Z_OK);
  std::vector<std::uint8_t> inflated(mask.size() + 1);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(runs.bytes.data()));
  stream.avail_in = static_cast<uInt>(runs.bytes.size());
  stream.next_out = inflated.data();
  stream.avail_out = static_cast<uInt>(inflated.size());
  inflate(&stream, Z_SYNC_FLUSH);
  inflated.resize(stream.total_out);
  inflateEnd(&stream);
  EXPECT_EQ(inflated, mask);
}

TEST(NpzReader, RefusesTruncatedFilesAtEveryLength) {
  const std::string bytes = read_bytes(written_model());
  for (std::size_t length = 0; length < bytes.size(); length += 7)
    EXPECT_THROW(NpzReader::from_bytes(bytes.substr(0, length)), Error) << "length " << length;
}

TEST(NpzReader, RefusesCorruptedBytesWithoutCrashing) {
  const std::string bytes = read_bytes(written_model());
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    try {
      (void)NpzReader::from_bytes(damaged);  // a flip in slack bytes may still read; it must not crash
    } catch (const Error&) {
    }
  }
}

TEST(NpyHeader, ChecksMagicVersionDtypeShapeAndSize) {
  const std::string four_floats(16, '\0');
  EXPECT_EQ(parse_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", four_floats), "x").count(), 4);
  expect_error([&] { parse_npy("not numpy at all", "x"); }, "bad magic");
  expect_error([&] { parse_npy(std::string("\x93NUMPY\x07\x00\x00\x00", 10), "x"); }, "version 7");
  expect_error([&] { parse_npy(npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", four_floats), "x"); },
               "unsupported dtype");
  expect_error([&] { parse_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", four_floats), "x"); },
               "promises 24");
  expect_error(
      [&] {
        parse_npy(
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999, 999999999999999), }", four_floats),
            "x");
      },
      "absurdly large");
  expect_error([&] { parse_npy(npy("{'descr': '<f4', 'fortran_order': maybe, 'shape': (4,), }", four_floats), "x"); },
               "fortran_order");
  expect_error([&] { parse_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four_floats), "x"); },
               "malformed");
  expect_error([&] { parse_npy(npy("{'descr': '<f4', 'fortran_order': False}", four_floats), "x"); }, "no 'shape'");
}

TEST(NpzReader, RegressionInputsGiveErrorsNotCrashes) {
  long inputs = 0;
  for (const auto& entry : fs::directory_iterator(CLEANPLATE_FUZZ_REGRESSIONS)) {
    if (entry.path().extension() == ".md") continue;
    EXPECT_THROW(NpzReader::from_bytes(read_bytes(entry.path())), Error) << entry.path();
    ++inputs;
  }
  std::printf("%ld regression inputs\n", inputs);
  EXPECT_GE(inputs, 4) << "the regression inputs are missing from " << CLEANPLATE_FUZZ_REGRESSIONS;
}

TEST(NpzReader, RefusesMissingAndNonZipFiles) {
  expect_error([] { NpzReader("/nonexistent/model.npz"); }, "no such file");
  expect_error([] { NpzReader::from_bytes("PK but not really a zip"); }, "not a readable zip");
}

}  // namespace
}  // namespace cleanplate::io
