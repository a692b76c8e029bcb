// NPZ files (a zip of .npy arrays, what numpy.savez_compressed writes and numpy.load reads),
// compressed with libzip's deflate. NpzWriter adds arrays and writes the file atomically.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cleanplate::io {

class NpzWriter {
 public:
  // Column-major Eigen matrices are stored with fortran_order, so numpy sees the same shape.
  void add(const std::string& name, const Eigen::MatrixXf& matrix);
  void add(const std::string& name, const Eigen::VectorXf& vector);
  void add(const std::string& name, const std::vector<std::int64_t>& values);
  void add_string(const std::string& name, const std::string& text);  // numpy unicode scalar
  void write(const std::filesystem::path& path) const;                // atomic

 private:
  void add_array(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                 bool fortran_order, const void* data, std::size_t bytes);
  std::vector<std::pair<std::string, std::string>> entries_;  // file name in the zip, .npy bytes
};

}  // namespace cleanplate::io
