#include "cleanplate/io/npz.hpp"

#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "cleanplate/error.hpp"
#include "cleanplate/io/atomic_file.hpp"

namespace cleanplate::io {

namespace {

// NPY 1.0: magic, version, header length, then the header padded with spaces to at least
// `minimum_size` bytes in all and a multiple of 64.
std::string npy_preamble(const std::string& descr, const std::vector<std::int64_t>& shape, bool fortran_order,
                         std::size_t minimum_size = 0) {
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();  // (n,) for one dimension, (m,n) otherwise
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': (" + dims + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  const std::size_t size = std::max(minimum_size, unpadded + (64 - unpadded % 64) % 64);
  header.append(size - unpadded, ' ');
  header += '\n';
  std::string npy = std::string("\x93NUMPY\x01\x00", 8);
  npy += static_cast<char>(header.size() & 0xff);
  npy += static_cast<char>(header.size() >> 8);
  return npy + header;
}

// Room for any shape of up to two dimensions.
constexpr std::size_t file_preamble_size = 128;

}  // namespace

void NpzWriter::add_array(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                          bool fortran_order, const void* data, std::size_t bytes) {
  std::string npy = npy_preamble(descr, shape, fortran_order);
  npy.append(static_cast<const char*>(data), bytes);
  entries_.push_back({name + ".npy", std::move(npy), {}});
}

void NpzWriter::add_file(const std::string& name, const std::filesystem::path& npy) {
  entries_.push_back({name + ".npy", {}, npy});
}

NpyFileWriter::NpyFileWriter(const std::filesystem::path& near, std::string descr) : descr_(std::move(descr)) {
  static std::atomic<int> count{0};  // several arrays beside one file
  path_ = near;
  path_ += ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(count++) + ".npy";
  file_ = std::fopen(path_.c_str(), "w+b");
  if (!file_) throw Error("cannot write '" + path_.string() + "': " + std::strerror(errno));
  const std::string blank(file_preamble_size, ' ');
  append(blank.data(), blank.size());
}

NpyFileWriter::~NpyFileWriter() {
  if (file_) std::fclose(file_);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void NpyFileWriter::append(const void* data, std::size_t bytes) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes)
    throw Error("cannot write '" + path_.string() + "': " + std::strerror(errno));
}

const std::filesystem::path& NpyFileWriter::finish(const std::vector<std::int64_t>& shape) {
  const std::string preamble = npy_preamble(descr_, shape, false, file_preamble_size);
  if (preamble.size() != file_preamble_size || std::fseek(file_, 0, SEEK_SET) != 0 ||
      std::fwrite(preamble.data(), 1, preamble.size(), file_) != preamble.size() || std::fflush(file_) != 0)
    throw Error("cannot write '" + path_.string() + "': " + std::strerror(errno));
  return path_;
}

void NpzWriter::add(const std::string& name, const Eigen::MatrixXf& m, const std::string& dtype) {
  const std::vector<std::int64_t> shape{m.rows(), m.cols()};
  if (dtype == "<f4") return add_array(name, dtype, shape, true, m.data(), m.size() * sizeof(float));
  if (dtype == "<f2") {
    const Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic> half = m.cast<Eigen::half>();
    return add_array(name, dtype, shape, true, half.data(), half.size() * sizeof(Eigen::half));
  }
  if (dtype == "|i1") {
    const Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic> bytes = m.cast<std::int8_t>();
    return add_array(name, dtype, shape, true, bytes.data(), bytes.size());
  }
  throw Error("cannot store a matrix as '" + dtype + "'");
}
void NpzWriter::add(const std::string& name, const Eigen::VectorXf& v) {
  add_array(name, "<f4", {v.size()}, false, v.data(), v.size() * sizeof(float));
}
void NpzWriter::add(const std::string& name, const std::vector<std::int64_t>& values) {
  add_array(name, "<i8", {static_cast<std::int64_t>(values.size())}, false, values.data(), values.size() * 8);
}
void NpzWriter::add_string(const std::string& name, const std::string& text) {
  // numpy's '<U' is UTF-32; the texts written here are ASCII.
  std::vector<char32_t> wide(text.begin(), text.end());
  add_array(name, "<U" + std::to_string(std::max<std::size_t>(wide.size(), 1)), {}, false, wide.data(),
            wide.size() * 4);
}

void NpzWriter::write(const std::filesystem::path& path) const {
  AtomicFile file(path);
  int error = 0;
  zip_t* zip = zip_open(file.temporary().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!zip) throw Error("cannot write '" + path.string() + "': cannot create the file");
  for (const auto& entry : entries_) {
    zip_source_t* source = entry.file.empty() ? zip_source_buffer(zip, entry.bytes.data(), entry.bytes.size(), 0)
                                              : zip_source_file(zip, entry.file.c_str(), 0, -1);
    const zip_int64_t index = source ? zip_file_add(zip, entry.name.c_str(), source, ZIP_FL_OVERWRITE) : -1;
    if (index < 0) {
      if (source) zip_source_free(source);
      const std::string message = zip_strerror(zip);  // before zip_discard frees it
      zip_discard(zip);
      throw Error("cannot write '" + path.string() + "': " + message);
    }
    zip_set_file_compression(zip, index, ZIP_CM_DEFLATE, 6);
  }
  if (zip_close(zip) != 0) {
    const std::string message = zip_strerror(zip);
    zip_discard(zip);
    throw Error("cannot write '" + path.string() + "': " + message);
  }
  file.commit();
}

}  // namespace cleanplate::io
