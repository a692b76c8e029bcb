// Residual video (private to cleanplate::io): model.npz version 2's foreground, each frame's residual
// against its 8-bit background coded as one H.264 stream by libx264 and decoded by libavcodec.
//
// A plane holds 128 + (frame - base) / 2, rounded half away from zero, clipped to 255, where the
// base is the background, except in the 16x16 blocks (libx264's macroblocks) that hold foreground,
// where it is mid-grey: there the frame is coded itself, as a plain codec would (a residual of a
// person over a textured wall carries the wall's texture too, and moves with the person). Halved so
// that every residual (-255 ... 255) fits 8 bits (the codec's quantizer is far coarser than the
// halving at the rates it is used); grey is coded as 4:0:0, colour as 4:4:4 with the B, G, R planes.
// The stream is Annex B with one packet per frame, tagged full range so that no reader rescales
// its levels.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cleanplate::io {

inline constexpr int residual_bias = 128;  // the plane value of a zero residual
inline constexpr int residual_scale = 2;   // grey levels per plane level
inline constexpr int residual_block = 16;  // pixels a side of a block coded against mid-grey
inline constexpr int frame_coded_base = 128;

// Blocks that cover `pixels` along one side.
constexpr int blocks_across(int pixels) { return (pixels + residual_block - 1) / residual_block; }

// The blocks' bitmap (row-major over ceil(h/16) x ceil(w/16) blocks, numpy.packbits order): set
// where `mask` (a pixel bitmap in the same order) has a pixel in the block. (Choosing by which base
// leaves less variation in the block was measured too: worse on highway and on Board, since blocks
// then switch base more often from frame to frame.)
std::vector<std::uint8_t> foreground_blocks(std::span<const std::uint8_t> mask, int width, int height);
std::int64_t block_bitmap_bytes(int width, int height);

// In place: a frame's background becomes the base its planes are coded against (mid-grey in the
// blocks set in `blocks`).
void apply_blocks(std::span<std::uint8_t> background, std::span<const std::uint8_t> blocks, int width, int channels);
// The planes (channels x height x width, planar) of an interleaved 8-bit frame against its base, as
// the encoder takes them.
std::vector<std::uint8_t> residual_planes(std::span<const std::uint8_t> frame, std::span<const std::uint8_t> base,
                                          int channels);
// frame = clip(base + residual_scale (plane - residual_bias)), interleaved, in place of `base`.
void add_residual(std::span<std::uint8_t> base, std::span<const std::uint8_t> planes, int channels);

class ResidualEncoder {
 public:
  // `crf`: libx264's constant rate factor of the residual stream; `preset`: ultrafast ... veryslow.
  ResidualEncoder(int width, int height, int channels, double fps, int crf, const std::string& preset);
  ~ResidualEncoder();
  ResidualEncoder(const ResidualEncoder&) = delete;
  ResidualEncoder& operator=(const ResidualEncoder&) = delete;
  // One frame's planes in; the packets that came out, in stream order (the encoder lags a few dozen
  // frames). An empty span flushes: the remaining packets.
  std::vector<std::vector<std::uint8_t>> encode(std::span<const std::uint8_t> planes);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class ResidualDecoder {
 public:
  // `name`: the file, for messages.
  ResidualDecoder(int width, int height, int channels, std::string name);
  ~ResidualDecoder();
  ResidualDecoder(const ResidualDecoder&) = delete;
  ResidualDecoder& operator=(const ResidualDecoder&) = delete;
  // One packet in (an empty span flushes); the frames' planes that came out, in display order.
  // Throws cleanplate::Error when the stream is not what the model declares.
  std::vector<std::vector<std::uint8_t>> decode(std::span<const std::uint8_t> packet);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cleanplate::io
