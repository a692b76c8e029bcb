// Reading NPZ files (a zip of .npy arrays) without trusting them: the zip directory, every .npy
// header (magic, version, dtype, order, shape) and every size is checked against the file before
// anything is allocated or indexed, so a truncated or corrupted file gives a clear
// cleanplate::Error naming what is wrong, never a crash or a huge allocation.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace cleanplate::io {

struct NpyArray {
  std::string dtype;  // numpy descr: "<f4", "<f2", "|i1", "<i8", "<U12", ...
  bool fortran_order = false;
  std::vector<std::int64_t> shape;  // () for a scalar
  std::string bytes;                // exactly count() x item size
  std::int64_t stored_bytes = 0;    // its compressed size in the zip (0 outside one)
  std::int64_t count() const;       // product of the shape
};

// One .npy file's bytes -> array; throws naming `what` when anything is off.
NpyArray parse_npy(const std::string& npy, const std::string& what);

class NpzReader {
 public:
  static constexpr std::int64_t default_limit = std::int64_t{1} << 34;  // 16 GiB of array data

  explicit NpzReader(const std::filesystem::path& path, std::int64_t limit = default_limit);
  // The same from bytes in memory (what the fuzzer feeds).
  static NpzReader from_bytes(const std::string& bytes, const std::string& name = "<memory>",
                              std::int64_t limit = default_limit);

  bool contains(const std::string& name) const { return arrays_.count(name) > 0; }
  const NpyArray& array(const std::string& name) const;  // throws when missing
  const std::map<std::string, NpyArray>& arrays() const { return arrays_; }
  // Typed views with their checks: a 2-D matrix stored as float32, float16 or int8 (converted
  // exactly to float); float32 vector (1-D); int64 vector; text.
  Eigen::MatrixXf matrix(const std::string& name) const;
  Eigen::VectorXf vector(const std::string& name) const;
  std::vector<std::int64_t> integers(const std::string& name) const;
  std::string text(const std::string& name) const;

 private:
  NpzReader() = default;
  std::string name_;
  std::map<std::string, NpyArray> arrays_;
};

}  // namespace cleanplate::io
