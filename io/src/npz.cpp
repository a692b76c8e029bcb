#include "cleanplate/io/npz.hpp"

#include <zip.h>

#include <cstring>

#include "cleanplate/error.hpp"
#include "cleanplate/io/atomic_file.hpp"

namespace cleanplate::io {

void NpzWriter::add_array(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                          bool fortran_order, const void* data, std::size_t bytes) {
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();  // (n,) for one dimension, (m,n) otherwise
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': (" + dims + "), }";
  // NPY 1.0: magic, version, header length; the header is padded with spaces to a multiple of 64.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string npy = std::string("\x93NUMPY\x01\x00", 8);
  npy += static_cast<char>(header.size() & 0xff);
  npy += static_cast<char>(header.size() >> 8);
  npy += header;
  npy.append(static_cast<const char*>(data), bytes);
  entries_.emplace_back(name + ".npy", std::move(npy));
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
  add_array(name, "<U" + std::to_string(std::max<std::size_t>(wide.size(), 1)), {}, false, wide.data(), wide.size() * 4);
}

void NpzWriter::write(const std::filesystem::path& path) const {
  AtomicFile file(path);
  int error = 0;
  zip_t* zip = zip_open(file.temporary().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!zip) throw Error("cannot write '" + path.string() + "': cannot create the file");
  for (const auto& [name, bytes] : entries_) {
    zip_source_t* source = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
    const zip_int64_t index = source ? zip_file_add(zip, name.c_str(), source, ZIP_FL_OVERWRITE) : -1;
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
