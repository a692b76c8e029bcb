// The model file (model.npz, described in docs/FORMAT.md): a video as low-rank background factors
// plus a foreground, from which every frame is rebuilt. Version 2 (the default) codes the
// foreground, each frame's residual against its background, as an H.264 stream; version 1 codes it
// as sparse quantized values (exact with --lossless-foreground).
//
//   ModelFile            what the file holds (geometry, factors, coded foreground, provenance)
//   quantize_factors     an SVD's factors in float32, float16, int8 or int16 with per-column scales
//   encode_foreground    one frame's version-1 foreground against its 8-bit background
//   ModelDecoder         rebuilds 8-bit frames (or backgrounds) exactly as the numpy snippet does
//   ModelWriter / read_model_file   atomic, streamed writing; reading validates everything first
//
// Frames are 8-bit, row-major, channels interleaved (grey, or B, G, R as OpenCV decodes them).
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cleanplate/io/npz.hpp"
#include "cleanplate/linalg/svd.hpp"

namespace cleanplate::io {

class NpzReader;

// int16 (version 2): U in integer steps that move the fitted frames' background by at most a given
// number of grey levels, stored as differences along its rows (what deflate codes well); V in float32.
enum class FactorPrecision { f32, f16, int8, int16 };
FactorPrecision parse_factor_precision(const std::string& name);  // "f32", "f16", "int8", "int16"
const char* factor_precision_name(FactorPrecision precision);

struct ModelFile {
  static constexpr std::int64_t newest_version = 2;
  std::int64_t version = newest_version;
  std::string producer;  // the program and command line that wrote it
  std::int64_t frames = 0, height = 0, width = 0, channels = 1;
  double fps = 0;
  // Background, in [0, 1]: (U diag(U_scale)) diag(S) (V diag(V_scale))^T. U and V hold values that
  // `precision` stores exactly (integers for int8), so writing and reading change nothing.
  FactorPrecision precision = FactorPrecision::f16;
  Eigen::MatrixXf U, V;                 // pixels*channels x k, frames x k
  Eigen::VectorXd S, U_scale, V_scale;  // k each
  double energy = 0;                    // share of the video's energy in the background
  // Version 2's foreground: the residual video (residual_video.hpp), packet j (one per frame) is
  // bytes [packets[j], packets[j + 1]) of `foreground_video`; per frame, a bitmap of the 16x16
  // blocks coded against mid-grey instead of the background; `quality` is on libx264's CRF scale.
  std::int64_t quality = 23;
  std::vector<std::int64_t> foreground_packets{0};
  std::vector<std::uint8_t> foreground_video;
  std::vector<std::uint8_t> foreground_blocks;  // frames x block_bytes()
  // Version 1's foreground: per frame, a bitmap of the coded pixels and, for each coded pixel in
  // raster order, its residual against the 8-bit background in units of `foreground_step` grey levels.
  std::int64_t foreground_step = 1;
  std::int64_t foreground_tolerance = 0;            // pixels off the mask are coded when they differ by more
  bool lossless = false;                            // every differing pixel coded, step 1
  std::vector<std::int64_t> foreground_offsets{0};  // frames + 1: frame j's values are [o[j], o[j+1])
  std::vector<std::uint8_t> foreground_mask;        // frames x mask_bytes(), numpy.packbits order
  std::vector<std::int16_t> foreground_values;      // offsets.back() x channels
  double psnr = 0;  // dB of the rebuilt frames against the decoded input; +inf when exact

  std::int64_t values_per_frame() const { return height * width * channels; }
  std::int64_t mask_bytes() const { return (height * width + 7) / 8; }
  std::int64_t block_bytes() const;
  std::int64_t rank() const { return S.size(); }
  std::int64_t coded_pixels() const { return foreground_offsets.back(); }
  long coded_frames() const { return static_cast<long>(foreground_offsets.size()) - 1; }
};

// Fills the model's factors from an SVD at the given precision (int8: scale = max |column| / 127;
// int16: a step of U moves a fitted frame's background by at most `grey_step` levels).
void quantize_factors(ModelFile& model, const linalg::SvdResult<float>& svd, FactorPrecision precision,
                      double grey_step = 0.5);

// Version 2's U step, in grey levels, for a quality and a video of `frames` frames: where a bit
// spent on U lowers the error as much as a bit spent on the stream (U's error, step^2/12, is paid
// in every frame and its bits once; the stream's rate falls by 1/(2 ln 2 MSE) a unit of error),
// 2 Qstep / sqrt(frames) with the stream's nominal MSE (2 Qstep)^2/12, Qstep = 0.625 x 2^(QP/6) at
// QP = quality - 6; at least half a level.
double factor_step_for_quality(std::int64_t quality, std::int64_t frames);

// One frame's foreground, ready to append to a ModelFile.
struct CodedFrame {
  std::vector<std::uint8_t> mask;    // mask_bytes()
  std::vector<std::int16_t> values;  // coded pixels x channels
  double squared_error = 0;          // of the rebuilt frame against `frame`, in grey levels^2
};

// Codes the pixels set in `keep` (a bitmap in foreground_mask's layout, or empty) and every pixel
// that differs from the background by more than `tolerance` grey levels in some channel
// (tolerance 0 and step 1: lossless).
CodedFrame encode_foreground(std::span<const std::uint8_t> frame, std::span<const std::uint8_t> background,
                             std::span<const std::uint8_t> keep, int channels, std::int64_t step, int tolerance);

// Thread-safe. A version-2 foreground is decoded in stream order: frames asked for in order (or
// nearly: a few dozen are kept) cost one decoding each; going back restarts at the first frame.
class ModelDecoder {
 public:
  explicit ModelDecoder(const ModelFile& model);  // keeps a reference: the model must outlive it
  ~ModelDecoder();
  std::vector<std::uint8_t> background(std::int64_t frame) const;  // values_per_frame() grey levels
  std::vector<std::uint8_t> frame(std::int64_t frame) const;       // background + foreground

 private:
  const ModelFile& model_;
  Eigen::VectorXd column_weights_;  // U_scale S: U's columns' weights
  Eigen::MatrixXd V_;               // V diag(V_scale)
  struct Stream;                    // version 2's decoder and the frames it decoded last
  std::unique_ptr<Stream> stream_;
};

// model.npz written a frame at a time in memory that does not grow with the video (`separate` on a
// video longer than its memory allows). The header holds everything but the frames: version,
// geometry, U, S, the scales and the foreground's coding rules. Each frame brings its row of V, as
// stored, and its foreground, prepared on the caller's threads; version 1's is deflated there,
// version 2's is coded by libx264 as frames are appended. Both go to temporary files beside `path`
// until finish() zips them in. The PSNR is measured as the file is written (version 2 decodes its
// stream back as it goes, keeping the frames the encoder has not yet returned).
class ModelWriter {
 public:
  // `level`: zlib's, 1 (fastest, what keeps pace with a 1080p stream) to 9. `preset`: libx264's,
  // for a version-2 foreground.
  ModelWriter(std::filesystem::path path, ModelFile header, int level = 1, const std::string& preset = "medium");
  ~ModelWriter();  // removes the temporary files
  // The 8-bit background a reader rebuilds for a frame whose stored row of V is `v` (thread-safe).
  std::vector<std::uint8_t> background(const Eigen::VectorXf& v) const;
  // A frame as the writer takes it (thread-safe: the costly part of appending). Version 1: its
  // coded foreground, deflated; given the frame appended just before it, the frame refers back to
  // it as one stream would (about 15% smaller at 640x480). Version 2: its residual planes.
  struct DeflatedFrame {
    DeflatedPiece mask, values;  // version 2: mask holds the blocks' bitmap
    std::int64_t coded_pixels = 0;
    double squared_error = 0;
    std::vector<std::uint8_t> residual, levels, base;  // version 2: the planes; the frame and its base for the PSNR
  };
  DeflatedFrame deflate(const CodedFrame& frame, const CodedFrame* previous = nullptr) const;  // version 1
  // `frame`: its 8-bit levels; `v`: its stored row of V; `keep`: the mask as a bitmap (version 1).
  DeflatedFrame prepare(std::span<const std::uint8_t> frame, const Eigen::VectorXf& v,
                        std::span<const std::uint8_t> keep) const;
  void append(const DeflatedFrame& frame, const Eigen::VectorXf& v);  // in frame order
  void finish();                                                      // the frames appended; atomic
  double psnr() const;  // of the frames appended (after finish or finish_part); +inf when exact
  // Across processes (mpirun): each writes its frames as a part instead of finish(), in `path`
  // (its rows of V and foreground offsets) and two files beside it (the deflated foreground);
  // one writer with the same header appends the parts in frame order, then finishes.
  void finish_part();
  void append_part(const std::filesystem::path& part);
  const ModelFile& header() const { return header_; }
  std::int64_t coded_pixels() const { return coded_pixels_; }
  long frames() const { return static_cast<long>(V_rows_.size()); }

 private:
  std::filesystem::path path_;
  ModelFile header_;
  int level_;
  Eigen::VectorXd column_weights_;  // U_scale S: U's columns' weights
  std::vector<Eigen::VectorXf> V_rows_;
  std::vector<std::int64_t> offsets_{0};  // version 1: of the values; version 2: of the packets' bytes
  std::int64_t coded_pixels_ = 0;
  double squared_error_ = 0;
  std::unique_ptr<DeflatedNpyWriter> masks_, values_;  // version 2: values_ holds the stream
  struct Stream;                                       // version 2's encoder, and its decoder for the PSNR
  std::unique_ptr<Stream> stream_;
  void code_packets(const std::vector<std::vector<std::uint8_t>>& packets, bool end_of_stream = false);
  Eigen::MatrixXf stored_V() const;  // the rows appended, as a matrix
  // Residuals of at most 255 grey levels in steps of 3 or more fit in int8.
  bool narrow_values() const { return header_.foreground_step >= 3; }
};

// A frame's row of V as `precision` stores it with the given column scales (int8: clamped to +-127).
Eigen::VectorXf quantize_row(const Eigen::VectorXf& row, FactorPrecision precision, const Eigen::VectorXd& scale);

ModelFile read_model_file(const std::filesystem::path& path);
ModelFile parse_model_file(const NpzReader& npz, const std::string& name);  // validates everything

}  // namespace cleanplate::io
