// The model file (model.npz, format version 1, described in docs/FORMAT.md): a video as low-rank
// background factors plus a sparse, quantized foreground, from which every frame is rebuilt.
//
//   ModelFile            what the file holds (geometry, factors, coded foreground, provenance)
//   quantize_factors     an SVD's factors in float32, float16 or int8 with per-column scales
//   encode_foreground    one frame's foreground against its 8-bit background
//   ModelDecoder         rebuilds 8-bit frames (or backgrounds) exactly as the numpy snippet does
//   write_model_file / read_model_file   atomic writing; reading validates everything first
//
// Frames are 8-bit, row-major, channels interleaved (grey, or B, G, R as OpenCV decodes them).
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "cleanplate/linalg/svd.hpp"

namespace cleanplate::io {

class NpzReader;

enum class FactorPrecision { f32, f16, int8 };
FactorPrecision parse_factor_precision(const std::string& name);  // "f32", "f16", "int8"
const char* factor_precision_name(FactorPrecision precision);

struct ModelFile {
  static constexpr std::int64_t format_version = 1;
  std::string producer;  // the program and command line that wrote it
  std::int64_t frames = 0, height = 0, width = 0, channels = 1;
  double fps = 0;
  // Background, in [0, 1]: (U diag(U_scale)) diag(S) (V diag(V_scale))^T. U and V hold values that
  // `precision` stores exactly (integers for int8), so writing and reading change nothing.
  FactorPrecision precision = FactorPrecision::f16;
  Eigen::MatrixXf U, V;                  // pixels*channels x k, frames x k
  Eigen::VectorXd S, U_scale, V_scale;   // k each
  double energy = 0;                     // share of the video's energy in the background
  // Foreground: per frame, a bitmap of the coded pixels and, for each coded pixel in raster order,
  // its residual against the 8-bit background in units of `foreground_step` grey levels.
  std::int64_t foreground_step = 1;
  std::int64_t foreground_tolerance = 0;               // pixels off the mask are coded when they differ by more
  bool lossless = false;                               // every differing pixel coded, step 1
  std::vector<std::int64_t> foreground_offsets{0};     // frames + 1: frame j's values are [o[j], o[j+1])
  std::vector<std::uint8_t> foreground_mask;           // frames x mask_bytes(), numpy.packbits order
  std::vector<std::int16_t> foreground_values;         // offsets.back() x channels
  double psnr = 0;  // dB of the rebuilt frames against the decoded input; +inf when exact

  std::int64_t values_per_frame() const { return height * width * channels; }
  std::int64_t mask_bytes() const { return (height * width + 7) / 8; }
  std::int64_t rank() const { return S.size(); }
  std::int64_t coded_pixels() const { return foreground_offsets.back(); }
  long coded_frames() const { return static_cast<long>(foreground_offsets.size()) - 1; }
};

// Fills the model's factors from an SVD at the given precision (int8: scale = max |column| / 127).
void quantize_factors(ModelFile& model, const linalg::SvdResult<float>& svd, FactorPrecision precision);

// One frame's foreground, ready to append to a ModelFile.
struct CodedFrame {
  std::vector<std::uint8_t> mask;      // mask_bytes()
  std::vector<std::int16_t> values;    // coded pixels x channels
  double squared_error = 0;            // of the rebuilt frame against `frame`, in grey levels^2
};

// Codes the pixels set in `keep` (a bitmap in foreground_mask's layout, or empty) and every pixel
// that differs from the background by more than `tolerance` grey levels in some channel
// (tolerance 0 and step 1: lossless).
CodedFrame encode_foreground(std::span<const std::uint8_t> frame, std::span<const std::uint8_t> background,
                             std::span<const std::uint8_t> keep, int channels, std::int64_t step, int tolerance);
void append_frame(ModelFile& model, CodedFrame frame);

class ModelDecoder {
 public:
  explicit ModelDecoder(const ModelFile& model);  // keeps a reference: the model must outlive it
  std::vector<std::uint8_t> background(std::int64_t frame) const;  // values_per_frame() grey levels
  std::vector<std::uint8_t> frame(std::int64_t frame) const;       // background + foreground

 private:
  const ModelFile& model_;
  Eigen::MatrixXd weighted_U_;  // U diag(U_scale) diag(S)
  Eigen::MatrixXd V_;           // V diag(V_scale)
};

void write_model_file(const std::filesystem::path& path, const ModelFile& model);  // atomic
ModelFile read_model_file(const std::filesystem::path& path);
ModelFile parse_model_file(const NpzReader& npz, const std::string& name);  // validates everything

}  // namespace cleanplate::io
