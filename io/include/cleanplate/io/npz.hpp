// NPZ files (a zip of .npy arrays, what numpy.savez_compressed writes and numpy.load reads),
// compressed with libzip's deflate. NpzWriter adds arrays and writes the file atomically.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

namespace cleanplate::io {

// numpy's dtype string for a C++ element type.
template <class T>
constexpr const char* npy_dtype() {
  if constexpr (std::is_same_v<T, float>)
    return "<f4";
  else if constexpr (std::is_same_v<T, double>)
    return "<f8";
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return "<i8";
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return "<i2";
  else if constexpr (std::is_same_v<T, std::int8_t>)
    return "|i1";
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return "|u1";
  else
    static_assert(sizeof(T) == 0, "no numpy dtype for this type");
}

class NpzWriter {
 public:
  // Column-major Eigen matrices are stored with fortran_order, so numpy sees the same shape.
  // `dtype` may narrow: "<f2" (half precision) or "|i1" (the values must be integers in [-128, 127]).
  void add(const std::string& name, const Eigen::MatrixXf& matrix, const std::string& dtype = "<f4");
  void add(const std::string& name, const Eigen::VectorXf& vector);
  void add(const std::string& name, const std::vector<std::int64_t>& values);
  // Any array in C order; shape {} is a scalar, the default shape is one dimension.
  template <class T>
  void add(const std::string& name, const std::vector<T>& values, std::vector<std::int64_t> shape) {
    add_array(name, npy_dtype<T>(), shape, false, values.data(), values.size() * sizeof(T));
  }
  template <class T>
  void add_scalar(const std::string& name, T value) {
    add(name, std::vector<T>{value}, {});
  }
  void add_string(const std::string& name, const std::string& text);  // numpy unicode scalar
  // An .npy file on disk (NpyFileWriter's), read when the zip is written.
  void add_file(const std::string& name, const std::filesystem::path& npy);
  void write(const std::filesystem::path& path) const;  // atomic

 private:
  void add_array(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                 bool fortran_order, const void* data, std::size_t bytes);
  struct Entry {
    std::string name;            // in the zip
    std::string bytes;           // the .npy, or
    std::filesystem::path file;  // where it is
  };
  std::vector<Entry> entries_;
};

// An .npy array in C order written piece by piece to a temporary file (removed with the writer),
// for arrays too large to keep in memory; its first dimension is known only at the end.
class NpyFileWriter {
 public:
  NpyFileWriter(const std::filesystem::path& near, std::string descr);  // the file goes next to `near`
  ~NpyFileWriter();
  NpyFileWriter(const NpyFileWriter&) = delete;
  NpyFileWriter& operator=(const NpyFileWriter&) = delete;
  void append(const void* data, std::size_t bytes);
  // Writes the header for `shape` (the elements appended); the file is then complete.
  const std::filesystem::path& finish(const std::vector<std::int64_t>& shape);

 private:
  std::filesystem::path path_;
  std::string descr_;
  std::FILE* file_ = nullptr;
};

}  // namespace cleanplate::io
