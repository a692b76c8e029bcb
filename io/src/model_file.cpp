#include "cleanplate/io/model_file.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <mutex>

#include "cleanplate/error.hpp"
#include "cleanplate/io/npz.hpp"
#include "cleanplate/io/npz_reader.hpp"
#include "model_file_in_memory.hpp"
#include "residual_video.hpp"

namespace cleanplate::io {

FactorPrecision parse_factor_precision(const std::string& name) {
  if (name == "f32") return FactorPrecision::f32;
  if (name == "f16") return FactorPrecision::f16;
  if (name == "int8") return FactorPrecision::int8;
  if (name == "int16") return FactorPrecision::int16;
  throw Error("--factors must be f32, f16, int8 or int16, got '" + name + "'");
}

const char* factor_precision_name(FactorPrecision precision) {
  switch (precision) {
    case FactorPrecision::f32:
      return "f32";
    case FactorPrecision::int8:
      return "int8";
    case FactorPrecision::int16:
      return "int16";
    case FactorPrecision::f16:
      break;
  }
  return "f16";
}

namespace {

// The dtypes of U and of V in the file (int16: U's differences along its rows; V in float32).
const char* factor_dtype(FactorPrecision precision, bool of_U = true) {
  switch (precision) {
    case FactorPrecision::f32:
      return "<f4";
    case FactorPrecision::int8:
      return "|i1";
    case FactorPrecision::int16:
      return of_U ? "<i2" : "<f4";
    case FactorPrecision::f16:
      break;
  }
  return "<f2";
}

// The factor's rows as `precision` stores them with the given column scales (int8: clamped to
// +-127; int16: to +-16383, so that differences fit too).
Eigen::MatrixXf quantize_with(const Eigen::MatrixXf& factor, FactorPrecision precision, const Eigen::VectorXd& scale) {
  if (precision == FactorPrecision::f32) return factor;
  if (precision == FactorPrecision::f16) return factor.cast<Eigen::half>().cast<float>();
  const Eigen::ArrayXXd steps = (factor.cast<double>() * scale.cwiseInverse().asDiagonal()).array().round();
  const double largest = precision == FactorPrecision::int8 ? 127 : 16383;  // int16: differences fit too
  return steps.cwiseMax(-largest).cwiseMin(largest).cast<float>();
}

// The factor as `precision` stores it, and the per-column scales that restore it.
Eigen::MatrixXf quantize(const Eigen::MatrixXf& factor, FactorPrecision precision, Eigen::VectorXd& scale) {
  scale = Eigen::VectorXd::Ones(factor.cols());
  if (precision == FactorPrecision::int8)
    for (Eigen::Index k = 0; k < factor.cols(); ++k) {
      const double largest = factor.col(k).cwiseAbs().maxCoeff();
      if (largest > 0) scale(k) = largest / 127;
    }
  return quantize_with(factor, precision, scale);
}

// U's columns as stored in int16: each value minus the one before it in the column.
std::vector<std::int16_t> row_differences(const Eigen::MatrixXf& U) {
  std::vector<std::int16_t> stored(static_cast<std::size_t>(U.size()));  // C order: rows x k
  for (Eigen::Index k = 0; k < U.cols(); ++k)
    for (Eigen::Index i = 0; i < U.rows(); ++i)
      stored[static_cast<std::size_t>(i * U.cols() + k)] =
          static_cast<std::int16_t>(U(i, k) - (i > 0 ? U(i - 1, k) : 0.0f));
  return stored;
}

std::uint8_t clamp_level(double value) { return static_cast<std::uint8_t>(std::clamp(value, 0.0, 255.0)); }

// Nearest multiple of `step`, ties away from zero (integer arithmetic: exact).
std::int64_t quantize_residual(int difference, std::int64_t step) {
  return difference >= 0 ? (difference + step / 2) / step : -((-difference + step / 2) / step);
}

}  // namespace

double factor_step_for_quality(std::int64_t quality, std::int64_t frames) {
  const double quantizer_step = 0.625 * std::exp2(static_cast<double>(quality - 6) / 6);
  return std::max(0.5, 2 * quantizer_step / std::sqrt(static_cast<double>(std::max<std::int64_t>(frames, 1))));
}

void quantize_factors(ModelFile& model, const linalg::SvdResult<float>& svd, FactorPrecision precision,
                      double grey_step) {
  model.precision = precision;
  model.S = svd.singular_values.cast<double>();
  if (precision == FactorPrecision::int16) {
    // A step of U moves a fitted frame's background by at most `grey_step` levels; the steps'
    // differences deflate to a few bits.
    model.V = svd.V, model.V_scale = Eigen::VectorXd::Ones(svd.V.cols());
    model.U_scale.resize(svd.U.cols());
    for (Eigen::Index k = 0; k < svd.U.cols(); ++k) {
      const double largest = model.S(k) * svd.V.col(k).cwiseAbs().maxCoeff() * 255;
      model.U_scale(k) = largest > 0 ? grey_step / largest : 1.0;
    }
    model.U = quantize_with(svd.U, precision, model.U_scale);
    return;
  }
  model.U = quantize(svd.U, precision, model.U_scale);
  model.V = quantize(svd.V, precision, model.V_scale);
}

CodedFrame encode_foreground(std::span<const std::uint8_t> frame, std::span<const std::uint8_t> background,
                             std::span<const std::uint8_t> keep, int channels, std::int64_t step, int tolerance) {
  const std::size_t pixels = frame.size() / static_cast<std::size_t>(channels);
  std::array<std::int16_t, 511> quantized;  // of each difference -255 ... 255: no division per value
  for (int d = -255; d <= 255; ++d)
    quantized[static_cast<std::size_t>(d + 255)] = static_cast<std::int16_t>(quantize_residual(d, step));
  CodedFrame coded;
  coded.mask.assign((pixels + 7) / 8, 0);
  if (!keep.empty()) std::copy_n(keep.begin(), coded.mask.size(), coded.mask.begin());
  // First every value as if kept from the background, in branch-free passes that vectorize: the
  // squared error, and which pixels differ by more than the tolerance. Most pixels are background.
  std::int64_t squared_error = 0;
  std::vector<std::uint8_t> beyond(frame.size());  // per value, then per pixel
  constexpr std::size_t chunk = 16384;             // 255^2 x 16,384 fits in 32 bits
  for (std::size_t first = 0; first < frame.size(); first += chunk) {
    std::uint32_t sum = 0;
    for (std::size_t v = first; v < std::min(frame.size(), first + chunk); ++v) {
      const int difference = frame[v] - background[v];
      sum += static_cast<std::uint32_t>(difference * difference);
      beyond[v] = std::abs(difference) > tolerance;
    }
    squared_error += sum;
  }
  if (channels > 1)
    for (std::size_t p = 0; p < pixels; ++p)
      beyond[p] = std::any_of(&beyond[p * channels], &beyond[p * channels] + channels, [](auto on) { return on; });
  for (std::size_t byte = 0; byte < pixels / 8; ++byte) {
    std::uint8_t bits = 0;
    for (std::size_t b = 0; b < 8; ++b) bits |= static_cast<std::uint8_t>(beyond[byte * 8 + b] << (7 - b));
    coded.mask[byte] |= bits;
  }
  for (std::size_t p = pixels / 8 * 8; p < pixels; ++p)
    coded.mask[p / 8] |= static_cast<std::uint8_t>(beyond[p] << (7 - p % 8));
  // Then the coded pixels: their values, and their error once rebuilt instead of kept.
  coded.values.reserve(frame.size() / 8);
  for (std::size_t byte = 0; byte < coded.mask.size(); ++byte) {
    if (!coded.mask[byte]) continue;
    for (std::size_t p = byte * 8; p < std::min(pixels, byte * 8 + 8); ++p) {
      if (!(coded.mask[byte] & (0x80 >> (p % 8)))) continue;
      for (std::size_t v = p * channels; v < (p + 1) * channels; ++v) {
        const int x = frame[v], b = background[v];
        const std::int16_t q = quantized[static_cast<std::size_t>(x - b + 255)];
        coded.values.push_back(q);
        const int rebuilt = std::clamp(b + q * static_cast<int>(step), 0, 255);
        squared_error += (x - rebuilt) * (x - rebuilt) - (x - b) * (x - b);
      }
    }
  }
  coded.squared_error = static_cast<double>(squared_error);
  return coded;
}

void append_frame(ModelFile& model, CodedFrame frame) {
  model.foreground_mask.insert(model.foreground_mask.end(), frame.mask.begin(), frame.mask.end());
  model.foreground_values.insert(model.foreground_values.end(), frame.values.begin(), frame.values.end());
  model.foreground_offsets.push_back(static_cast<std::int64_t>(model.foreground_values.size()) / model.channels);
}

// The products are formed in the order numpy forms them in docs/FORMAT.md's snippet
// ((U * U_scale) * S, then the sum over k), so both give the same grey levels.

namespace {

// Grey levels of (U diag(U_scale) diag(S)) v, v a row of V diag(V_scale): what the numpy snippet computes.
// `weights`: U_scale S. U's values are weighted in registers, each as double(U) * weight, the
// product numpy's broadcast makes: the same bits as a weighted copy of U, a quarter of its bytes.
std::vector<std::uint8_t> background_levels(const Eigen::MatrixXf& U, const Eigen::VectorXd& weights,
                                            const Eigen::Ref<const Eigen::RowVectorXd>& v) {
  // Whole columns of a block at a time (they vectorize, and the block stays in cache), summed over
  // k in numpy's order; rint rounds half to even, as numpy's rint does.
  constexpr Eigen::Index block = 4096;
  std::vector<std::uint8_t> levels(static_cast<std::size_t>(U.rows()));
  Eigen::ArrayXd value(block);
  const auto weighted = [&](Eigen::Index k, Eigen::Index first, Eigen::Index n) {
    return U.col(k).segment(first, n).cast<double>().array() * weights(k);
  };
  for (Eigen::Index first = 0; first < U.rows(); first += block) {
    const Eigen::Index n = std::min(block, U.rows() - first);
    auto sum = value.head(n);
    sum = weighted(0, first, n) * v(0);
    for (Eigen::Index k = 1; k < U.cols(); ++k) sum += weighted(k, first, n) * v(k);
    Eigen::Map<Eigen::Array<std::uint8_t, Eigen::Dynamic, 1>>(levels.data() + first, n) =
        (sum * 255).rint().max(0.0).min(255.0).cast<std::uint8_t>();
  }
  return levels;
}

Eigen::VectorXd column_weights(const ModelFile& model) { return model.U_scale.cwiseProduct(model.S); }

}  // namespace

std::int64_t ModelFile::block_bytes() const {
  return block_bitmap_bytes(static_cast<int>(width), static_cast<int>(height));
}

// Version 2's residual planes of each frame, decoded in stream order; frames decoded but not yet
// asked for wait in `decoded` (rebuild asks for a few at once, nearly in order).
struct ModelDecoder::Stream {
  static constexpr std::size_t kept = 64;
  std::mutex mutex;
  std::unique_ptr<ResidualDecoder> decoder;
  std::int64_t next_packet = 0, next_frame = 0;
  std::map<std::int64_t, std::vector<std::uint8_t>> decoded;

  std::vector<std::uint8_t> planes(const ModelFile& model, std::int64_t frame) {
    const std::lock_guard lock(mutex);
    if (frame < next_frame && !decoded.count(frame)) {  // gone: decode again from the start
      decoder.reset(), decoded.clear();
      next_packet = next_frame = 0;
    }
    if (!decoder)
      decoder = std::make_unique<ResidualDecoder>(static_cast<int>(model.width), static_cast<int>(model.height),
                                                  static_cast<int>(model.channels), "model.npz");
    const auto& at = model.foreground_packets;
    while (!decoded.count(frame)) {
      if (next_packet > model.frames) throw Error("the model's foreground video holds fewer frames than the model");
      std::span<const std::uint8_t> packet;  // empty after the last: the decoder's flush
      if (next_packet < model.frames) {
        const auto first = static_cast<std::size_t>(at[static_cast<std::size_t>(next_packet)]),
                   end = static_cast<std::size_t>(at[static_cast<std::size_t>(next_packet) + 1]);
        packet = std::span(model.foreground_video).subspan(first, end - first);
      }
      ++next_packet;
      for (auto& planes : decoder->decode(packet)) {
        decoded.emplace(next_frame++, std::move(planes));
        if (decoded.size() > kept) decoded.erase(decoded.begin());
      }
      if (next_frame > model.frames) throw Error("the model's foreground video holds more frames than the model");
    }
    return decoded.at(frame);
  }
};

ModelDecoder::ModelDecoder(const ModelFile& model)
    : model_(model),
      column_weights_(column_weights(model)),
      V_(model.V.cast<double>() * model.V_scale.asDiagonal()),
      stream_(model.version == 2 ? std::make_unique<Stream>() : nullptr) {}

ModelDecoder::~ModelDecoder() = default;

std::vector<std::uint8_t> ModelDecoder::background(std::int64_t frame) const {
  if (frame < 0 || frame >= model_.frames)
    throw Error("frame " + std::to_string(frame) + " is not in the model (" + std::to_string(model_.frames) +
                " frames)");
  return background_levels(model_.U, column_weights_, V_.row(frame));
}

std::vector<std::uint8_t> ModelDecoder::frame(std::int64_t frame) const {
  std::vector<std::uint8_t> levels = background(frame);
  if (stream_) {
    const auto blocks = std::span(model_.foreground_blocks)
                            .subspan(static_cast<std::size_t>(frame * model_.block_bytes()),
                                     static_cast<std::size_t>(model_.block_bytes()));
    apply_blocks(levels, blocks, static_cast<int>(model_.width), static_cast<int>(model_.channels));
    add_residual(levels, stream_->planes(model_, frame), static_cast<int>(model_.channels));
    return levels;
  }
  const std::int64_t channels = model_.channels, pixels = model_.height * model_.width;
  const std::uint8_t* mask = model_.foreground_mask.data() + frame * model_.mask_bytes();
  const std::int16_t* value =
      model_.foreground_values.data() + model_.foreground_offsets[static_cast<std::size_t>(frame)] * channels;
  for (std::int64_t p = 0; p < pixels; ++p) {
    if (!(mask[p / 8] & (0x80 >> (p % 8)))) continue;
    for (std::int64_t c = 0; c < channels; ++c, ++value) {
      auto& level = levels[static_cast<std::size_t>(p * channels + c)];
      level = clamp_level(level + static_cast<double>(*value) * static_cast<double>(model_.foreground_step));
    }
  }
  return levels;
}

Eigen::VectorXf quantize_row(const Eigen::VectorXf& row, FactorPrecision precision, const Eigen::VectorXd& scale) {
  if (precision == FactorPrecision::int16) return row;  // V in float32
  return quantize_with(row.transpose(), precision, scale).transpose();
}

namespace {

// Every array but the frame-sized ones: V, the foreground (offsets, mask and values, or the
// video and its packets), and psnr.
void add_header(NpzWriter& npz, const ModelFile& model) {
  npz.add_string("format", "cleanplate model");
  npz.add_scalar<std::int64_t>("version", model.version);
  npz.add_string("producer", model.producer);
  npz.add("shape", std::vector<std::int64_t>{model.frames, model.height, model.width, model.channels});
  npz.add_string("layout", model.channels == 3 ? "8-bit BGR, interleaved, row-major" : "8-bit grey, row-major");
  npz.add_scalar("fps", model.fps);
  npz.add_string("factors", factor_precision_name(model.precision));
  if (model.precision == FactorPrecision::int16)
    npz.add("U", row_differences(model.U), {model.U.rows(), model.U.cols()});
  else
    npz.add("U", model.U, factor_dtype(model.precision));
  const auto doubles = [](const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); };
  npz.add("S", doubles(model.S), {model.rank()});
  npz.add("U_scale", doubles(model.U_scale), {model.rank()});
  npz.add("V_scale", doubles(model.V_scale), {model.rank()});
  npz.add_scalar("energy", model.energy);
  if (model.version == 2) {
    npz.add_string("foreground_codec", "h264");
    npz.add_scalar<std::int64_t>("foreground_bias", residual_bias);
    npz.add_scalar<std::int64_t>("foreground_scale", residual_scale);
    npz.add_scalar("quality", model.quality);
    return;
  }
  npz.add_scalar("foreground_step", model.foreground_step);
  npz.add_scalar("foreground_tolerance", model.foreground_tolerance);
  npz.add_scalar<std::int64_t>("lossless", model.lossless);
}

}  // namespace

void write_model_file(const std::filesystem::path& path, const ModelFile& model) {
  NpzWriter npz;
  add_header(npz, model);
  npz.add("V", model.V, factor_dtype(model.precision, false));
  npz.add_scalar("psnr", model.psnr);
  if (model.version == 2) {
    npz.add("foreground_packets", model.foreground_packets);
    npz.add("foreground_blocks", model.foreground_blocks, {model.frames, model.block_bytes()});
    npz.add("foreground_video", model.foreground_video, {static_cast<std::int64_t>(model.foreground_video.size())});
    npz.write(path);
    return;
  }
  npz.add("foreground_offsets", model.foreground_offsets);
  npz.add("foreground_mask", model.foreground_mask, {model.frames, model.mask_bytes()});
  const std::vector<std::int64_t> value_shape{model.coded_pixels(), model.channels};
  const auto& values = model.foreground_values;
  if (std::all_of(values.begin(), values.end(), [](std::int16_t v) { return v >= -128 && v <= 127; }))
    npz.add("foreground_values", std::vector<std::int8_t>(values.begin(), values.end()), value_shape);
  else
    npz.add("foreground_values", values, value_shape);
  npz.write(path);
}

// Version 2's encoder, and a decoder of its packets that measures the rebuilt frames' error: the
// frames the encoder has not returned yet wait in `pending` (a few dozen: its lookahead).
struct ModelWriter::Stream {
  ResidualEncoder encoder;
  ResidualDecoder decoder;
  struct Pending {
    std::vector<std::uint8_t> levels, base;  // the frame, and what its planes are coded against
  };
  std::deque<Pending> pending;
};

ModelWriter::ModelWriter(std::filesystem::path path, ModelFile header, int level, const std::string& preset)
    : path_(std::move(path)),
      header_(std::move(header)),
      level_(level),
      column_weights_(column_weights(header_)),
      masks_(std::make_unique<DeflatedNpyWriter>(path_, "|u1")),
      values_(std::make_unique<DeflatedNpyWriter>(path_, header_.version == 2 ? "|u1"
                                                         : narrow_values()    ? "|i1"
                                                                              : "<i2")) {
  if (header_.version == 2) {
    const int width = static_cast<int>(header_.width), height = static_cast<int>(header_.height),
              channels = static_cast<int>(header_.channels);
    // The stream holds the residual halved: 6 steps of CRF halve the quantizer, so CRF quality - 6
    // quantizes the residual as CRF `quality` quantizes a whole frame.
    const int crf = static_cast<int>(std::max<std::int64_t>(header_.quality - 6, 0));
    stream_.reset(new Stream{ResidualEncoder(width, height, channels, header_.fps, crf, preset),
                             ResidualDecoder(width, height, channels, path_.string()),
                             {}});
  }
}

ModelWriter::~ModelWriter() = default;

std::vector<std::uint8_t> ModelWriter::background(const Eigen::VectorXf& v) const {
  return background_levels(header_.U, column_weights_, (v.cast<double>().cwiseProduct(header_.V_scale)).transpose());
}

namespace {

// Coded values as the file stores them: int8 when narrow (each fits), else int16 little-endian.
std::vector<std::uint8_t> stored_bytes(std::span<const std::int16_t> values, bool narrow) {
  if (narrow) return {values.begin(), values.end()};
  const auto bytes = std::as_bytes(values);
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()),
          reinterpret_cast<const std::uint8_t*>(bytes.data() + bytes.size())};
}

}  // namespace

ModelWriter::DeflatedFrame ModelWriter::deflate(const CodedFrame& frame, const CodedFrame* previous) const {
  if (static_cast<std::int64_t>(frame.mask.size()) != header_.mask_bytes())
    throw Error("ModelWriter: the frame does not match the model");
  const std::vector<std::uint8_t> values = stored_bytes(frame.values, narrow_values());
  std::vector<std::uint8_t> previous_values;  // deflate's window is 32 KiB: no more of them counts
  if (previous)
    previous_values = stored_bytes(
        std::span(previous->values).last(std::min<std::size_t>(previous->values.size(), 32768)), narrow_values());
  DeflatedFrame deflated;
  deflated.mask =
      deflate_piece(frame.mask.data(), frame.mask.size(), level_,
                    previous ? std::span<const std::uint8_t>(previous->mask) : std::span<const std::uint8_t>(), true);
  deflated.values = deflate_piece(values.data(), values.size(), level_, previous_values);
  deflated.coded_pixels = static_cast<std::int64_t>(frame.values.size()) / header_.channels;
  deflated.squared_error = frame.squared_error;
  return deflated;
}

ModelWriter::DeflatedFrame ModelWriter::prepare(std::span<const std::uint8_t> frame, const Eigen::VectorXf& v,
                                                std::span<const std::uint8_t> keep) const {
  std::vector<std::uint8_t> levels = background(v);
  const int channels = static_cast<int>(header_.channels);
  if (header_.version == 1)
    return deflate(encode_foreground(frame, levels, keep, channels, header_.foreground_step,
                                     static_cast<int>(header_.foreground_tolerance)));
  DeflatedFrame prepared;
  const int width = static_cast<int>(header_.width);
  const std::vector<std::uint8_t> blocks = foreground_blocks(keep, width, static_cast<int>(header_.height));
  prepared.base = std::move(levels);
  apply_blocks(prepared.base, blocks, width, channels);
  prepared.residual = residual_planes(frame, prepared.base, channels);
  prepared.levels.assign(frame.begin(), frame.end());
  prepared.mask = deflate_piece(blocks.data(), blocks.size(), level_);
  return prepared;
}

void ModelWriter::append(const DeflatedFrame& frame, const Eigen::VectorXf& v) {
  if (v.size() != header_.rank()) throw Error("ModelWriter: the frame does not match the model");
  V_rows_.push_back(v);
  if (stream_) {
    if (static_cast<std::int64_t>(frame.residual.size()) != header_.values_per_frame())
      throw Error("ModelWriter: the frame does not match the model");
    masks_->append(frame.mask);
    stream_->pending.push_back({frame.levels, frame.base});
    code_packets(stream_->encoder.encode(frame.residual));
    return;
  }
  masks_->append(frame.mask);
  values_->append(frame.values);
  coded_pixels_ += frame.coded_pixels;
  offsets_.push_back(coded_pixels_);
  squared_error_ += frame.squared_error;
}

// The encoder's packets into the file, and each through the decoder to measure its frame's error;
// at the end of the stream, the decoder's last frames too.
void ModelWriter::code_packets(const std::vector<std::vector<std::uint8_t>>& packets, bool end_of_stream) {
  const auto measure = [&](const std::vector<std::vector<std::uint8_t>>& decoded) {
    for (const auto& planes : decoded) {
      if (stream_->pending.empty()) throw Error("ModelWriter: the foreground video returned more frames than it took");
      const auto& [levels, base] = stream_->pending.front();
      std::vector<std::uint8_t> rebuilt = base;
      add_residual(rebuilt, planes, static_cast<int>(header_.channels));
      std::int64_t sum = 0;
      for (std::size_t i = 0; i < rebuilt.size(); ++i) sum += (rebuilt[i] - levels[i]) * (rebuilt[i] - levels[i]);
      squared_error_ += static_cast<double>(sum);
      stream_->pending.pop_front();
    }
  };
  for (const auto& packet : packets) {
    values_->append(deflate_piece(packet.data(), packet.size(), 1));
    offsets_.push_back(offsets_.back() + static_cast<std::int64_t>(packet.size()));
    measure(stream_->decoder.decode(packet));
  }
  if (!end_of_stream) return;
  measure(stream_->decoder.decode({}));
  if (!stream_->pending.empty() || static_cast<long>(offsets_.size()) != frames() + 1)
    throw Error("ModelWriter: the foreground video did not return every frame");
}

double ModelWriter::psnr() const {
  const double values = static_cast<double>(frames()) * static_cast<double>(header_.values_per_frame());
  return squared_error_ > 0 ? 10 * std::log10(255.0 * 255.0 * values / squared_error_)
                            : std::numeric_limits<double>::infinity();
}

Eigen::MatrixXf ModelWriter::stored_V() const {
  Eigen::MatrixXf V(frames(), header_.rank());
  for (long j = 0; j < frames(); ++j) V.row(j) = V_rows_[static_cast<std::size_t>(j)].transpose();
  return V;
}

void ModelWriter::finish() {
  if (stream_) code_packets(stream_->encoder.encode({}), true);
  header_.frames = frames();
  NpzWriter npz;
  add_header(npz, header_);
  npz.add("V", stored_V(), factor_dtype(header_.precision, false));
  if (stream_) {
    npz.add("foreground_packets", offsets_);
    masks_->finish({header_.frames, header_.block_bytes()});
    values_->finish({offsets_.back()});
    npz.add_deflated("foreground_blocks", *masks_);
    npz.add_deflated("foreground_video", *values_);
  } else {
    npz.add("foreground_offsets", offsets_);
    masks_->finish({header_.frames, header_.mask_bytes()});
    values_->finish({coded_pixels_, header_.channels});
    npz.add_deflated("foreground_mask", *masks_);
    npz.add_deflated("foreground_values", *values_);
  }
  npz.add_scalar("psnr", psnr());
  npz.write(path_);
}

namespace {

// A deflated run as a part file stores it: offset, compressed bytes, bytes, CRC-32.
std::vector<std::int64_t> run_numbers(const DeflatedRun& run) {
  return {static_cast<std::int64_t>(run.offset), static_cast<std::int64_t>(run.compressed),
          static_cast<std::int64_t>(run.size), run.crc};
}

std::filesystem::path beside(const std::filesystem::path& part, const std::string& array) {
  return std::filesystem::path(part) += "." + array + ".deflate";
}

}  // namespace

void ModelWriter::finish_part() {
  if (stream_) code_packets(stream_->encoder.encode({}), true);  // each part is a stream of its own
  NpzWriter npz;
  npz.add("V", stored_V());  // float32 holds the stored values exactly
  npz.add("foreground_offsets", offsets_);
  npz.add("foreground_mask", run_numbers(masks_->keep(beside(path_, "foreground_mask"))));
  npz.add("foreground_values", run_numbers(values_->keep(beside(path_, "foreground_values"))));
  npz.add_scalar("squared_error", squared_error_);
  npz.write(path_);
}

void ModelWriter::append_part(const std::filesystem::path& part) {
  const NpzReader npz(part);
  const Eigen::MatrixXf V = npz.matrix("V");
  const std::vector<std::int64_t> offsets = npz.integers("foreground_offsets");
  const auto run = [&](const std::string& array) {
    const std::vector<std::int64_t> numbers = npz.integers(array);
    if (numbers.size() != 4) throw Error("cannot read model part '" + part.string() + "': " + array + " is not a run");
    return DeflatedRun{beside(part, array), static_cast<std::uint64_t>(numbers[0]),
                       static_cast<std::uint64_t>(numbers[1]), static_cast<std::uint64_t>(numbers[2]),
                       static_cast<std::uint32_t>(numbers[3])};
  };
  if (V.cols() != header_.rank() || offsets.size() != static_cast<std::size_t>(V.rows()) + 1 || offsets.front() != 0)
    throw Error("cannot read model part '" + part.string() + "': it does not match the model");
  masks_->append(run("foreground_mask"));
  values_->append(run("foreground_values"));
  const std::int64_t base = offsets_.back();
  for (Eigen::Index j = 0; j < V.rows(); ++j) {
    offsets_.push_back(base + offsets[static_cast<std::size_t>(j) + 1]);
    V_rows_.push_back(V.row(j).transpose());
  }
  if (!stream_) coded_pixels_ += offsets.back();
  const NpyArray& error = npz.array("squared_error");
  if (error.dtype != "<f8" || error.count() != 1) throw Error("cannot read model part '" + part.string() + "'");
  squared_error_ += *reinterpret_cast<const double*>(error.bytes.data());
}

namespace {

// Whether a bitmap of `bytes` bytes that holds `bits` bits (numpy.packbits order) leaves the
// last byte's spare low bits clear.
bool spare_bits_clear(const std::uint8_t* bitmap, std::int64_t bytes, std::int64_t bits) {
  return (bitmap[bytes - 1] & ((1u << (bytes * 8 - bits)) - 1)) == 0;
}

// Checks of one file's arrays; every failure names the file and what is wrong.
class Validator {
 public:
  Validator(const NpzReader& npz, std::string name) : npz_(npz), name_(std::move(name)) {}

  [[noreturn]] void fail(const std::string& why) const { throw Error("cannot read '" + name_ + "': " + why); }
  void require(bool condition, const std::string& why) const {
    if (!condition) fail(why);
  }

  const NpyArray& array(const std::string& key, std::initializer_list<const char*> dtypes,
                        std::vector<std::int64_t> shape) const {
    const NpyArray& a = npz_.array(key);
    require(std::any_of(dtypes.begin(), dtypes.end(), [&](const char* d) { return a.dtype == d; }),
            "'" + key + "' has dtype " + a.dtype + ", expected " + *dtypes.begin());
    require(!a.fortran_order || a.shape.size() < 2 || key == "U" || key == "V", "'" + key + "' must be in C order");
    require(a.shape == shape, "'" + key + "' has shape " + format(a.shape) + ", expected " + format(shape));
    return a;
  }
  template <class T>
  std::vector<T> values(const std::string& key, std::vector<std::int64_t> shape) const {
    const NpyArray& a = array(key, {npy_dtype<T>()}, std::move(shape));
    std::vector<T> v(static_cast<std::size_t>(a.count()));
    std::copy_n(a.bytes.data(), a.bytes.size(), reinterpret_cast<char*>(v.data()));
    return v;
  }
  template <class T>
  T scalar(const std::string& key) const {
    return values<T>(key, {})[0];
  }
  std::vector<std::int64_t> shape_of(const std::string& key) const { return npz_.array(key).shape; }

 private:
  static std::string format(const std::vector<std::int64_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + ")";
  }
  const NpzReader& npz_;
  std::string name_;
};

}  // namespace

ModelFile parse_model_file(const NpzReader& npz, const std::string& name) {
  const Validator check(npz, name);
  check.require(npz.contains("format") && npz.text("format") == "cleanplate model",
                "not a cleanplate model (no 'format' saying so)");
  const auto version = check.scalar<std::int64_t>("version");
  check.require(version == 1 || version == 2, "model format version " + std::to_string(version) +
                                                  " is not supported (this cleanplate reads versions 1 and 2)");
  ModelFile m;
  m.version = version;
  m.producer = npz.text("producer");
  const auto shape = check.values<std::int64_t>("shape", {4});
  m.frames = shape[0], m.height = shape[1], m.width = shape[2], m.channels = shape[3];
  check.require(m.frames >= 1 && m.frames <= (std::int64_t{1} << 31) && m.height >= 1 && m.width >= 1 &&
                    m.height <= (1 << 16) && m.width <= (1 << 16) && (m.channels == 1 || m.channels == 3),
                "the shape [frames, height, width, channels] is absurd");
  m.fps = check.scalar<double>("fps");
  check.require(std::isfinite(m.fps) && m.fps >= 0, "fps is not a number >= 0");

  m.precision = parse_factor_precision(npz.text("factors"));
  const std::int64_t rank = check.shape_of("S").empty() ? 0 : check.shape_of("S")[0];
  check.require(rank >= 1 && rank <= m.frames,
                "the rank " + std::to_string(rank) + " is not between 1 and the frame count");
  check.require((version == 2) == (m.precision == FactorPrecision::int16),
                "factors '" + npz.text("factors") + "' do not belong in version " + std::to_string(version));
  if (m.precision == FactorPrecision::int16) {  // differences along U's rows
    const auto differences = check.values<std::int16_t>("U", {m.values_per_frame(), rank});
    m.U.resize(m.values_per_frame(), rank);
    for (std::int64_t k = 0; k < rank; ++k) {
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < m.values_per_frame(); ++i) {
        sum += differences[static_cast<std::size_t>(i * rank + k)];
        check.require(std::abs(sum) <= 16383, "U's steps leave the range int16 differences can hold");
        m.U(i, k) = static_cast<float>(sum);
      }
    }
  } else {
    check.array("U", {factor_dtype(m.precision)}, {m.values_per_frame(), rank});
    m.U = npz.matrix("U");
  }
  check.array("V", {factor_dtype(m.precision, false)}, {m.frames, rank});
  m.V = npz.matrix("V");
  const auto vector = [&](const std::string& key) {
    const auto v = check.values<double>(key, {rank});
    return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(v.data(), rank));
  };
  m.S = vector("S"), m.U_scale = vector("U_scale"), m.V_scale = vector("V_scale");
  check.require(m.U.allFinite() && m.V.allFinite() && m.S.allFinite() && m.U_scale.allFinite() && m.V_scale.allFinite(),
                "the factors hold values that are not finite");
  m.energy = check.scalar<double>("energy");
  m.psnr = check.scalar<double>("psnr");
  if (version == 2) {
    check.require(npz.text("foreground_codec") == "h264", "the foreground codec is not h264");
    check.require(check.scalar<std::int64_t>("foreground_bias") == residual_bias &&
                      check.scalar<std::int64_t>("foreground_scale") == residual_scale,
                  "the foreground's bias and scale are not 128 and 2");
    m.quality = check.scalar<std::int64_t>("quality");
    m.foreground_packets = check.values<std::int64_t>("foreground_packets", {m.frames + 1});
    const auto& at = m.foreground_packets;
    check.require(at[0] == 0 && std::adjacent_find(at.begin(), at.end(), std::greater_equal<>()) == at.end(),
                  "foreground_packets do not rise from 0");
    m.foreground_video = check.values<std::uint8_t>("foreground_video", {at.back()});
    m.foreground_blocks = check.values<std::uint8_t>("foreground_blocks", {m.frames, m.block_bytes()});
    const std::int64_t blocks =
        std::int64_t{blocks_across(static_cast<int>(m.width))} * blocks_across(static_cast<int>(m.height));
    for (std::int64_t j = 0; j < m.frames; ++j)
      check.require(spare_bits_clear(&m.foreground_blocks[static_cast<std::size_t>(j * m.block_bytes())],
                                     m.block_bytes(), blocks),
                    "frame " + std::to_string(j) + "'s block bitmap sets bits past the last block");
    return m;
  }

  m.foreground_step = check.scalar<std::int64_t>("foreground_step");
  check.require(m.foreground_step >= 1 && m.foreground_step <= 255, "foreground_step is not between 1 and 255");
  m.foreground_tolerance = check.scalar<std::int64_t>("foreground_tolerance");
  m.lossless = check.scalar<std::int64_t>("lossless") != 0;
  m.foreground_offsets = check.values<std::int64_t>("foreground_offsets", {m.frames + 1});
  m.foreground_mask = check.values<std::uint8_t>("foreground_mask", {m.frames, m.mask_bytes()});
  const auto& offsets = m.foreground_offsets;
  check.require(offsets[0] == 0 && std::is_sorted(offsets.begin(), offsets.end()),
                "foreground_offsets do not rise from 0");
  const std::vector<std::int64_t> value_shape{offsets.back(), m.channels};
  const NpyArray& values = check.array("foreground_values", {"|i1", "<i2"}, value_shape);
  if (values.dtype == "|i1") {
    const auto narrow = check.values<std::int8_t>("foreground_values", value_shape);
    m.foreground_values.assign(narrow.begin(), narrow.end());
  } else {
    m.foreground_values = check.values<std::int16_t>("foreground_values", value_shape);
  }
  // Each frame's bitmap must set exactly as many bits as it has values, and none past the last pixel.
  const std::int64_t pixels = m.height * m.width;
  for (std::int64_t j = 0; j < m.frames; ++j) {
    const std::uint8_t* row = &m.foreground_mask[static_cast<std::size_t>(j * m.mask_bytes())];
    std::int64_t bits = 0;
    for (std::int64_t b = 0; b < m.mask_bytes(); ++b) bits += std::popcount(row[b]);
    check.require(bits == offsets[j + 1] - offsets[j],
                  "frame " + std::to_string(j) + "'s foreground bitmap and value count disagree");
    check.require(spare_bits_clear(row, m.mask_bytes(), pixels),
                  "frame " + std::to_string(j) + "'s bitmap sets bits past the last pixel");
  }
  return m;
}

ModelFile read_model_file(const std::filesystem::path& path) {
  return parse_model_file(NpzReader(path), path.string());
}

}  // namespace cleanplate::io
