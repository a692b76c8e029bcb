// NPZ files (a zip of .npy arrays, what numpy.savez_compressed writes and numpy.load reads),
// compressed with libzip's deflate. NpzWriter adds arrays and writes the file atomically.
// DeflatedNpyWriter builds an array too large for memory from pieces deflated on any thread
// (deflate_piece), so that compressing a long video's model keeps pace with the video.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
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

class DeflatedNpyWriter;

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
  // A finished DeflatedNpyWriter's array, copied in without compressing it again; the writer must
  // outlive write().
  void add_deflated(const std::string& name, const DeflatedNpyWriter& array);
  void write(const std::filesystem::path& path) const;  // atomic

 private:
  void add_array(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                 bool fortran_order, const void* data, std::size_t bytes);
  struct Entry {
    std::string name;                             // in the zip
    std::string bytes;                            // the .npy, or
    const DeflatedNpyWriter* deflated = nullptr;  // where it is, compressed
  };
  std::vector<Entry> entries_;
};

// Bytes deflated on their own (raw deflate, ending on a byte boundary) so that pieces made on
// several threads join, in order, into one deflate stream, as pigz joins them.
struct DeflatedPiece {
  std::string bytes;       // compressed
  std::uint32_t crc = 0;   // CRC-32 of the uncompressed bytes
  std::uint64_t size = 0;  // uncompressed bytes
};
// Thread-safe. `level`: zlib's, 1 (fastest) to 9. `history`: the bytes that come right before the
// piece in the array (its last 32 KiB count), so that it compresses as part of one stream would.
// `runs_only`: matches only of runs of one byte (zlib's Z_RLE), for bit-packed masks, whose
// redundancy is their runs: as small as the full search, several times faster.
DeflatedPiece deflate_piece(const void* data, std::size_t bytes, int level = 1,
                            std::span<const std::uint8_t> history = {}, bool runs_only = false);

// The compressed bytes of a run of pieces, [offset, offset + compressed) of a file: what one
// process wrote of an array that another assembles (mpirun).
struct DeflatedRun {
  std::filesystem::path path;
  std::uint64_t offset = 0, compressed = 0;
  std::uint64_t size = 0;  // uncompressed
  std::uint32_t crc = 0;   // of the uncompressed bytes
};

// An .npy array in C order whose bytes arrive as deflated pieces, kept in a temporary file beside
// `near` (removed with the writer): for arrays too large to keep in memory, whose first dimension
// is known only at the end.
class DeflatedNpyWriter {
 public:
  DeflatedNpyWriter(const std::filesystem::path& near, std::string descr);
  ~DeflatedNpyWriter();
  DeflatedNpyWriter(const DeflatedNpyWriter&) = delete;
  DeflatedNpyWriter& operator=(const DeflatedNpyWriter&) = delete;
  void append(const DeflatedPiece& piece);  // in the array's order
  void append(const DeflatedRun& run);      // copied without compressing it again
  // Instead of finish(): the pieces appended, moved to `path` for another writer to append.
  DeflatedRun keep(const std::filesystem::path& path);
  // Writes the header for `shape` (of the elements appended) and ends the stream.
  void finish(const std::vector<std::int64_t>& shape);

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t compressed_size() const { return compressed_size_; }
  std::uint64_t size() const { return size_; }  // of the .npy
  std::uint32_t crc() const { return crc_; }    // of the .npy

 private:
  std::filesystem::path path_;
  std::string descr_;
  std::FILE* file_ = nullptr;
  std::uint64_t room_ = 0;  // the header's, at the start of the file
  std::uint64_t compressed_size_ = 0, size_ = 0;
  std::uint32_t crc_ = 0;
  std::uint32_t data_crc_ = 0;  // of the bytes after the header
};

}  // namespace cleanplate::io
