#include "cleanplate/io/npz_reader.hpp"

#include <zip.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <memory>

#include "cleanplate/error.hpp"

namespace cleanplate::io {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  throw Error("cannot read '" + what + "': " + why);
}

std::int64_t item_size(const std::string& dtype, const std::string& what) {
  if (dtype == "<f4" || dtype == "<i4" || dtype == "<u4") return 4;
  if (dtype == "<f8" || dtype == "<i8" || dtype == "<u8") return 8;
  if (dtype == "<f2" || dtype == "<i2" || dtype == "<u2") return 2;
  if (dtype == "|i1" || dtype == "|u1" || dtype == "|b1") return 1;
  if (dtype.size() > 2 && dtype.compare(0, 2, "<U") == 0 && dtype.size() <= 12 &&
      dtype.find_first_not_of("0123456789", 2) == std::string::npos) {
    const long long characters = std::stoll(dtype.substr(2));
    if (characters < 1 || characters > (1 << 20))
      fail(what, "a text array of " + std::to_string(characters) + " characters");
    return 4 * characters;
  }
  fail(what, "unsupported dtype '" + dtype + "'");
}

// The value after 'key': in a numpy header dict, up to the next top-level ',' or '}'.
std::string header_value(const std::string& header, const std::string& key, const std::string& what) {
  const std::string quoted = "'" + key + "':";
  const auto at = header.find(quoted);
  if (at == std::string::npos) fail(what, "the array header has no '" + key + "'");
  std::size_t begin = at + quoted.size();
  while (begin < header.size() && header[begin] == ' ') ++begin;
  std::size_t end = begin;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(' || c == '[')
      ++depth;
    else if ((c == ')' || c == ']') && depth > 0)
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  if (end == header.size()) fail(what, "the array header is malformed");
  return header.substr(begin, end - begin);
}

std::vector<std::int64_t> parse_shape(std::string text, const std::string& what) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    fail(what, "the array shape '" + text + "' is malformed");
  text = text.substr(1, text.size() - 2);
  std::vector<std::int64_t> shape;
  std::size_t position = 0;
  while (position < text.size()) {
    while (position < text.size() && (text[position] == ' ' || text[position] == ',')) ++position;
    if (position == text.size()) break;
    std::size_t end = position;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == position || end - position > 15) fail(what, "the array shape '(" + text + ")' is malformed");
    shape.push_back(std::stoll(text.substr(position, end - position)));
    if (shape.size() > 8) fail(what, "the array has more than 8 dimensions");
    position = end;
  }
  return shape;
}

}  // namespace

std::int64_t NpyArray::count() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;  // parse_npy has checked that this does not overflow
  return n;
}

NpyArray parse_npy(const std::string& npy, const std::string& what) {
  if (npy.size() < 10 || std::memcmp(npy.data(), "\x93NUMPY", 6) != 0) fail(what, "not a .npy array (bad magic)");
  const auto major = static_cast<unsigned char>(npy[6]);
  std::size_t header_length = 0, header_start = 0;
  if (major == 1) {
    header_length = static_cast<unsigned char>(npy[8]) | static_cast<std::size_t>(static_cast<unsigned char>(npy[9]))
                                                             << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (npy.size() < 12) fail(what, "the array header is truncated");
    for (int i = 3; i >= 0; --i) header_length = header_length << 8 | static_cast<unsigned char>(npy[8 + i]);
    header_start = 12;
  } else {
    fail(what, "unsupported .npy version " + std::to_string(major));
  }
  if (header_length > npy.size() - header_start) fail(what, "the array header is truncated");
  const std::string header = npy.substr(header_start, header_length);

  NpyArray array;
  std::string descr = header_value(header, "descr", what);
  if (descr.size() < 2 || descr.front() != '\'' || descr.back() != '\'')
    fail(what, "the dtype " + descr + " is malformed");
  array.dtype = descr.substr(1, descr.size() - 2);
  const std::string order = header_value(header, "fortran_order", what);
  if (order != "True" && order != "False") fail(what, "fortran_order is '" + order + "'");
  array.fortran_order = order == "True";
  array.shape = parse_shape(header_value(header, "shape", what), what);

  const std::int64_t item = item_size(array.dtype, what);
  std::int64_t count = 1;
  for (auto d : array.shape) {
    if (d != 0 && count > std::numeric_limits<std::int64_t>::max() / item / d)
      fail(what, "the array shape is absurdly large");
    count *= d;
  }
  const auto payload = static_cast<std::int64_t>(npy.size() - header_start - header_length);
  if (payload != count * item)
    fail(what, "the array holds " + std::to_string(payload) + " bytes, its header promises " +
                   std::to_string(count * item) + " (truncated or corrupted)");
  array.bytes = npy.substr(header_start + header_length);
  return array;
}

namespace {

struct ZipCloser {
  void operator()(zip_t* zip) const { zip_discard(zip); }
};

}  // namespace

NpzReader NpzReader::from_bytes(const std::string& bytes, const std::string& name, std::int64_t limit) {
  NpzReader reader;
  reader.name_ = name;
  if (bytes.empty()) fail(name, "the file is empty");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source) fail(name, "out of memory");
  std::unique_ptr<zip_t, ZipCloser> zip(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  if (!zip) {
    zip_source_free(source);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail(name, "not a readable zip/npz file (" + why + ")");
  }
  const zip_int64_t entries = zip_get_num_entries(zip.get(), 0);
  if (entries <= 0) fail(name, "it holds no arrays");
  std::int64_t total = 0;
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(zip.get(), static_cast<zip_uint64_t>(i), 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE) ||
        !(stat.valid & ZIP_STAT_NAME))
      fail(name, "entry " + std::to_string(i) + " of the zip is unreadable");
    std::string entry = stat.name;
    if (entry.size() < 5 || entry.compare(entry.size() - 4, 4, ".npy") != 0)
      fail(name, "entry '" + entry + "' is not a .npy array");
    entry.resize(entry.size() - 4);
    total += static_cast<std::int64_t>(stat.size);
    if (static_cast<std::int64_t>(stat.size) < 0 || total > limit)
      fail(name, "its arrays would need more than " + std::to_string(limit) + " bytes");
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(i), 0),
                                                           zip_fclose);
    if (!file) fail(name, "cannot open entry '" + entry + "': " + zip_strerror(zip.get()));
    std::string npy(static_cast<std::size_t>(stat.size), '\0');
    const zip_int64_t read = zip_fread(file.get(), npy.data(), stat.size);
    if (read != static_cast<zip_int64_t>(stat.size)) fail(name, "entry '" + entry + "' is truncated or corrupted");
    NpyArray& array = reader.arrays_[entry] = parse_npy(npy, name + ": " + entry);
    array.stored_bytes = (stat.valid & ZIP_STAT_COMP_SIZE) ? static_cast<std::int64_t>(stat.comp_size) : array.count();
  }
  return reader;
}

NpzReader::NpzReader(const std::filesystem::path& path, std::int64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "no such file or not readable");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  *this = from_bytes(bytes, path.string(), limit);
}

const NpyArray& NpzReader::array(const std::string& name) const {
  const auto found = arrays_.find(name);
  if (found == arrays_.end()) fail(name_, "it has no array '" + name + "'");
  return found->second;
}

namespace {

template <class T>
Eigen::MatrixXf to_float_matrix(const NpyArray& a) {
  const auto* data = reinterpret_cast<const T*>(a.bytes.data());
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColumnMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  if (a.fortran_order) return Eigen::Map<const ColumnMajor>(data, a.shape[0], a.shape[1]).template cast<float>();
  return Eigen::Map<const RowMajor>(data, a.shape[0], a.shape[1]).template cast<float>();
}

}  // namespace

Eigen::MatrixXf NpzReader::matrix(const std::string& name) const {
  const NpyArray& a = array(name);
  if (a.shape.size() != 2) fail(name_, "'" + name + "' is not a 2-D array");
  if (a.dtype == "<f4") return to_float_matrix<float>(a);
  if (a.dtype == "<f2") return to_float_matrix<Eigen::half>(a);
  if (a.dtype == "|i1") return to_float_matrix<std::int8_t>(a);
  fail(name_, "'" + name + "' is not a float32, float16 or int8 matrix");
}

Eigen::VectorXf NpzReader::vector(const std::string& name) const {
  const NpyArray& a = array(name);
  if (a.dtype != "<f4" || a.shape.size() != 1) fail(name_, "'" + name + "' is not a 1-D float32 array");
  Eigen::VectorXf v(a.shape[0]);
  std::memcpy(v.data(), a.bytes.data(), a.bytes.size());
  return v;
}

std::vector<std::int64_t> NpzReader::integers(const std::string& name) const {
  const NpyArray& a = array(name);
  if (a.dtype != "<i8" || a.shape.size() != 1) fail(name_, "'" + name + "' is not a 1-D int64 array");
  std::vector<std::int64_t> values(static_cast<std::size_t>(a.shape[0]));
  std::memcpy(values.data(), a.bytes.data(), a.bytes.size());
  return values;
}

std::string NpzReader::text(const std::string& name) const {
  const NpyArray& a = array(name);
  if (a.dtype.compare(0, 2, "<U") != 0 || !a.shape.empty()) fail(name_, "'" + name + "' is not a text scalar");
  std::string text;
  for (std::size_t i = 0; i + 4 <= a.bytes.size(); i += 4) {
    char32_t c;
    std::memcpy(&c, a.bytes.data() + i, 4);
    if (c == 0) break;
    text += c < 0x80 ? static_cast<char>(c) : '?';
  }
  return text;
}

}  // namespace cleanplate::io
