#include "cleanplate/io/npz.hpp"

#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

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

// Raw deflate (no zlib or gzip wrapper) of one piece: Z_SYNC_FLUSH ends it on a byte boundary
// without ending the stream, Z_FINISH ends the stream. `history`: the bytes right before the piece,
// whose last 32 KiB (deflate's window) it may refer back to.
std::string deflate_raw(const void* data, std::size_t bytes, int level, int flush,
                        std::span<const std::uint8_t> history = {}, int strategy = Z_DEFAULT_STRATEGY) {
  if (bytes > std::numeric_limits<uInt>::max()) throw Error("deflate: a piece of more than 4 GiB");
  z_stream stream{};
  if (deflateInit2(&stream, level, Z_DEFLATED, -15, 8, strategy) != Z_OK) throw Error("deflate: out of memory");
  history = history.last(std::min<std::size_t>(history.size(), 32768));
  if (!history.empty()) deflateSetDictionary(&stream, history.data(), static_cast<uInt>(history.size()));
  std::string out(deflateBound(&stream, static_cast<uLong>(bytes)) + 64, '\0');  // + the flush markers
  stream.next_in = const_cast<Bytef*>(static_cast<const Bytef*>(data));
  stream.avail_in = static_cast<uInt>(bytes);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, flush);
  const bool complete = stream.avail_in == 0 && stream.avail_out > 0 && status != Z_STREAM_ERROR;
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (!complete) throw Error("deflate: the output did not fit its bound");
  return out;
}

// The .npy header of a DeflatedNpyWriter, stored (level 0), so its compressed size does not
// depend on the shape and room for it can be kept at the start of the file.
std::string stored_preamble(const std::string& descr, const std::vector<std::int64_t>& shape) {
  const std::string preamble = npy_preamble(descr, shape, false, file_preamble_size);
  if (preamble.size() != file_preamble_size) throw Error("npz: an array header longer than its room");
  return deflate_raw(preamble.data(), preamble.size(), 0, Z_SYNC_FLUSH);
}

// A libzip source that hands libzip a DeflatedNpyWriter's file as compressed data: libzip copies
// deflated data it is given with its CRC and sizes instead of compressing it again.
struct DeflatedSource {
  const DeflatedNpyWriter& array;
  std::FILE* file = nullptr;
  zip_error_t error{};

  static zip_int64_t call(void* state, void* data, zip_uint64_t length, zip_source_cmd_t command) {
    auto& source = *static_cast<DeflatedSource*>(state);
    switch (command) {
      case ZIP_SOURCE_OPEN:
        source.file = std::fopen(source.array.path().c_str(), "rb");
        return source.file ? 0 : source.fail(ZIP_ER_OPEN);
      case ZIP_SOURCE_READ: {
        const std::size_t read = std::fread(data, 1, length, source.file);
        return read < length && std::ferror(source.file) ? source.fail(ZIP_ER_READ) : static_cast<zip_int64_t>(read);
      }
      case ZIP_SOURCE_CLOSE:
        if (source.file) std::fclose(source.file);
        source.file = nullptr;
        return 0;
      case ZIP_SOURCE_STAT: {
        auto* stat = static_cast<zip_stat_t*>(data);
        zip_stat_init(stat);
        stat->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_CRC | ZIP_STAT_COMP_METHOD;
        stat->size = source.array.size();
        stat->comp_size = source.array.compressed_size();
        stat->crc = source.array.crc();
        stat->comp_method = ZIP_CM_DEFLATE;
        return sizeof(zip_stat_t);
      }
      case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&source.error, data, length);
      case ZIP_SOURCE_FREE:
        if (source.file) std::fclose(source.file);
        zip_error_fini(&source.error);
        delete &source;
        return 0;
      case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
      default:
        return source.fail(ZIP_ER_OPNOTSUPP);
    }
  }
  zip_int64_t fail(int code) {
    zip_error_set(&error, code, errno);
    return -1;
  }
};

}  // namespace

void NpzWriter::add_array(const std::string& name, const std::string& descr, const std::vector<std::int64_t>& shape,
                          bool fortran_order, const void* data, std::size_t bytes) {
  std::string npy = npy_preamble(descr, shape, fortran_order);
  npy.append(static_cast<const char*>(data), bytes);
  entries_.push_back({name + ".npy", std::move(npy), nullptr});
}

void NpzWriter::add_deflated(const std::string& name, const DeflatedNpyWriter& array) {
  entries_.push_back({name + ".npy", {}, &array});
}

DeflatedPiece deflate_piece(const void* data, std::size_t bytes, int level, std::span<const std::uint8_t> history,
                            bool runs_only) {
  return {deflate_raw(data, bytes, level, Z_SYNC_FLUSH, history, runs_only ? Z_RLE : Z_DEFAULT_STRATEGY),
          static_cast<std::uint32_t>(crc32_z(0, static_cast<const Bytef*>(data), bytes)), bytes};
}

DeflatedNpyWriter::DeflatedNpyWriter(const std::filesystem::path& near, std::string descr) : descr_(std::move(descr)) {
  static std::atomic<int> count{0};  // several arrays beside one file
  path_ = near;
  path_ += ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(count++) + ".deflate";
  file_ = std::fopen(path_.c_str(), "w+b");
  if (!file_) throw Error("cannot write '" + path_.string() + "': " + std::strerror(errno));
  append(DeflatedPiece{std::string(stored_preamble(descr_, {0, 0}).size(), '\0'), 0, 0});  // the header's room
  room_ = compressed_size_;
}

DeflatedNpyWriter::~DeflatedNpyWriter() {
  if (file_) std::fclose(file_);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void DeflatedNpyWriter::append(const DeflatedPiece& piece) {
  if (!piece.bytes.empty() && std::fwrite(piece.bytes.data(), 1, piece.bytes.size(), file_) != piece.bytes.size())
    throw Error("cannot write '" + path_.string() + "': " + std::strerror(errno));
  compressed_size_ += piece.bytes.size();
  data_crc_ = static_cast<std::uint32_t>(crc32_combine(data_crc_, piece.crc, static_cast<z_off_t>(piece.size)));
  size_ += piece.size;
}

void DeflatedNpyWriter::append(const DeflatedRun& run) {
  std::FILE* input = std::fopen(run.path.c_str(), "rb");
  if (!input || std::fseek(input, static_cast<long>(run.offset), SEEK_SET) != 0) {
    if (input) std::fclose(input);
    throw Error("cannot read '" + run.path.string() + "': " + std::strerror(errno));
  }
  std::vector<char> buffer(1 << 20);
  for (std::uint64_t left = run.compressed; left > 0;) {
    const std::size_t chunk = std::min<std::uint64_t>(left, buffer.size());
    const bool read = std::fread(buffer.data(), 1, chunk, input) == chunk;
    if (!read || std::fwrite(buffer.data(), 1, chunk, file_) != chunk) {
      std::fclose(input);
      throw Error("cannot append '" + run.path.string() + "' to '" + path_.string() + "'" +
                  (read ? std::string(": ") + std::strerror(errno) : ": it is shorter than its part says"));
    }
    left -= chunk;
  }
  std::fclose(input);
  compressed_size_ += run.compressed;
  data_crc_ = static_cast<std::uint32_t>(crc32_combine(data_crc_, run.crc, static_cast<z_off_t>(run.size)));
  size_ += run.size;
}

DeflatedRun DeflatedNpyWriter::keep(const std::filesystem::path& path) {
  const bool closed = std::fclose(std::exchange(file_, nullptr)) == 0;
  std::error_code error;
  if (closed) std::filesystem::rename(path_, path, error);
  if (!closed || error)
    throw Error("cannot keep '" + path_.string() + "' as '" + path.string() +
                "': " + (closed ? error.message() : std::strerror(errno)));
  return {path, room_, compressed_size_ - room_, size_, data_crc_};
}

void DeflatedNpyWriter::finish(const std::vector<std::int64_t>& shape) {
  const std::string header = stored_preamble(descr_, shape), end = deflate_raw(nullptr, 0, Z_BEST_SPEED, Z_FINISH);
  const std::string preamble = npy_preamble(descr_, shape, false, file_preamble_size);
  if (std::fwrite(end.data(), 1, end.size(), file_) != end.size() || std::fseek(file_, 0, SEEK_SET) != 0 ||
      std::fwrite(header.data(), 1, header.size(), file_) != header.size() || std::fflush(file_) != 0)
    throw Error("cannot write '" + path_.string() + "': " + std::strerror(errno));
  compressed_size_ += end.size();
  const auto preamble_crc =
      static_cast<std::uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(preamble.data()), preamble.size()));
  crc_ = static_cast<std::uint32_t>(crc32_combine(preamble_crc, data_crc_, static_cast<z_off_t>(size_)));
  size_ += preamble.size();
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
    // (braces: clang 14, which builds the fuzzer, has no aggregate initialization with parentheses)
    std::unique_ptr<DeflatedSource> state(entry.deflated ? new DeflatedSource{*entry.deflated} : nullptr);
    zip_source_t* source = state ? zip_source_function(zip, &DeflatedSource::call, state.get())
                                 : zip_source_buffer(zip, entry.bytes.data(), entry.bytes.size(), 0);
    if (source && state) state.release();  // the source frees it
    const zip_int64_t index = source ? zip_file_add(zip, entry.name.c_str(), source, ZIP_FL_OVERWRITE) : -1;
    if (index < 0) {
      if (source) zip_source_free(source);
      const std::string message = zip_strerror(zip);  // before zip_discard frees it
      zip_discard(zip);
      throw Error("cannot write '" + path.string() + "': " + message);
    }
    if (!entry.deflated) zip_set_file_compression(zip, index, ZIP_CM_DEFLATE, 6);
  }
  if (zip_close(zip) != 0) {
    const std::string message = zip_strerror(zip);
    zip_discard(zip);
    throw Error("cannot write '" + path.string() + "': " + message);
  }
  file.commit();
}

}  // namespace cleanplate::io
