// Per-pixel residual tests shared by the mask makers (stages::frame_mask and OnlineBackground's seeds
// pass): frames as 8-bit levels or floats in [0, 1], compared with each pixel's seed level.
#pragma once
#include <oneapi/tbb/parallel_for.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <opencv2/core.hpp>
#include <type_traits>
#include <vector>

#include "cleanplate/error.hpp"
#include "cleanplate/stages/frame_matrix.hpp"
#include "cleanplate/stages/mask.hpp"

namespace cleanplate::stages::detail {

// A value's scale to [0, 1]: levels are turned into values where they are read, so a 1080p frame is
// 2 MB through memory rather than 8.
template <typename Value>
constexpr float value_scale = std::is_integral_v<Value> ? level_step : 1.0f;

// Calls `body` with the number of channels as a compile-time constant: the per-pixel loops unroll
// over the channels and vectorize over the pixels.
template <typename Body>
void with_channels(int channels, const Body& body) {
  if (channels == 1)
    body(std::integral_constant<int, 1>{});
  else if (channels == 3)
    body(std::integral_constant<int, 3>{});
  else
    throw Error("frames have 1 or 3 channels");
}

// The largest |residual| of a pixel's channels (stages::residual_magnitude, one pixel).
template <int Channels, typename Value>
float magnitude(const Value* x, const float* background) {
  float m = std::abs(x[0] * value_scale<Value> - background[0]);
  for (int c = 1; c < Channels; ++c) m = std::max(m, std::abs(x[c] * value_scale<Value> - background[c]));
  return m;
}

// The same against the background as the camera can show it, clipped to [0, 1]: where the light or the
// gain rises past white (or falls past black), the frame holds 255 (0), and that is no change. The
// masks and the noise levels use it; the fits do not, as a clipped pixel says nothing of the gain.
template <int Channels, typename Value>
float shown_magnitude(const Value* x, const float* background) {
  float m = 0;
#pragma GCC unroll 3
  for (int c = 0; c < Channels; ++c)
    m = std::max(m, std::abs(x[c] * value_scale<Value> - std::clamp(background[c], 0.0f, 1.0f)));
  return m;
}

// Seeds (magnitude above the seed level) and the pixels that may join them (above hysteresis times
// it), 255 or 0, for `count` pixels. Plain restrict pointers: through uint8_t* every store may alias
// anything, and nothing vectorizes.
template <int Channels, typename Value>
void compare_with_seeds(Eigen::Index count, const Value* __restrict x, const float* __restrict background,
                        const float* __restrict seed, float hysteresis, std::uint8_t* __restrict seeds,
                        std::uint8_t* __restrict grow) {
  for (Eigen::Index i = 0; i < count; ++i) {
    const float m = shown_magnitude<Channels>(x + i * Channels, background + i * Channels);
    seeds[i] = m > seed[i] ? 255 : 0;
    grow[i] = m > seed[i] * hysteresis ? 255 : 0;
  }
}

static_assert(std::endian::native == std::endian::little, "byte k of a loaded word is bits 8k..8k+7");

// The first column from x on whose byte in `seeds` or `grow` is set (or, with set = false, where
// both are clear), or `width`: eight bytes a step, as most of a frame is empty.
inline int next_column(const std::uint8_t* seeds, const std::uint8_t* grow, int x, int width, bool set) {
  constexpr std::uint64_t low_bits = 0x7f7f7f7f7f7f7f7f, high_bits = 0x8080808080808080;
  for (; x + 8 <= width; x += 8) {
    std::uint64_t a, b;
    std::memcpy(&a, seeds + x, 8);
    std::memcpy(&b, grow + x, 8);
    const std::uint64_t bytes = a | b, nonzero = (((bytes & low_bits) + low_bits) | bytes) & high_bits;
    if (const std::uint64_t hits = set ? nonzero : nonzero ^ high_bits) return x + std::countr_zero(hits) / 8;
  }
  for (; x < width; ++x)
    if (((seeds[x] | grow[x]) != 0) == set) return x;
  return width;
}

// Marks the `count` values (pixels of a run, as floats) that lie within the seed level of the
// background of the pixels from q on. Restrict pointers and no 8-bit access, so that it vectorizes.
template <int Channels, typename LevelAt>
void match_shifted(int count, const float* __restrict values, const float* __restrict background, LevelAt level,
                   Eigen::Index q, std::int32_t* __restrict matched) {
  for (int i = 0; i < count; ++i)
    matched[i] |= shown_magnitude<Channels>(values + i * Channels, background + i * Channels) <= level(q + i);
}

// Whether one seed's value lies within the seed level of the background of a pixel at most `radius`
// away, the nearest rows first: most noise seeds match at once. (The passes along a run below
// would cost a loop's set-up per neighbour for a pixel or two.)
template <int Channels, typename Value, typename LevelAt>
bool matches_nearby(const Value* x, const float* background, LevelAt level_at, int column, int y, int width, int height,
                    int radius) {
  float value[Channels];
  for (int c = 0; c < Channels; ++c) value[c] = x[c] * value_scale<Value>;
  for (int step = 0; step <= 2 * radius; ++step) {
    const int qy = y + (step % 2 == 0 ? step / 2 : -(step + 1) / 2);  // y, y - 1, y + 1, y - 2, ...
    if (qy >= 0 && qy < height)
      for (int qx = std::max(0, column - radius); qx <= std::min(width - 1, column + radius); ++qx) {
        const Eigen::Index q = static_cast<Eigen::Index>(qy) * width + qx;
        if (shown_magnitude<Channels>(value, background + q * Channels) <= level_at(q)) return true;
      }
  }
  return false;
}

// Runs shorter than this are tested a seed at a time (matches_nearby).
constexpr int short_run = 8;

// Clears each seed whose value lies within the seed level of the background of a pixel at most
// `radius` away (the spatial test of ViBe, Barnich and Van Droogenbroeck, IEEE TIP 2011): waving
// leaves, ripples and a shaking camera move the background by a pixel or two, and what they show was
// background next door, while an object's inside matches no neighbour. `background` holds the
// frame's background values; `level_at(q)` gives pixel q's seed level. Rows in parallel; the work
// follows the runs of seeds, a neighbour offset at a time along a run. A radius of 0 clears none.
template <int Channels, typename Value, typename LevelAt>
void clear_displaced_seeds(std::uint8_t* seeds, const Value* x, const float* background, LevelAt level_at, int width,
                           int height, int radius) {
  if (radius <= 0) return;
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int>(0, height), [&](const auto& rows) {
    std::vector<std::int32_t> matched(static_cast<std::size_t>(width));
    std::vector<float> values(static_cast<std::size_t>(width) * Channels);
    for (int y = rows.begin(); y < rows.end(); ++y) {
      std::uint8_t* row = seeds + static_cast<std::ptrdiff_t>(y) * width;
      const Value* row_values = x + static_cast<Eigen::Index>(y) * width * Channels;
      for (int start = next_column(row, row, 0, width, true), end = 0; start < width;
           start = next_column(row, row, end, width, true)) {
        end = next_column(row, row, start, width, false);
        if (end - start < short_run) {  // isolated seeds (noise, mostly): one at a time, each until it matches
          for (int column = start; column < end; ++column)
            if (matches_nearby<Channels>(row_values + column * Channels, background, level_at, column, y, width, height,
                                         radius))
              row[column] = 0;
          continue;
        }
        for (int i = start * Channels; i < end * Channels; ++i) values[i] = row_values[i] * value_scale<Value>;
        std::fill(matched.begin() + start, matched.begin() + end, 0);
        for (int qy = std::max(0, y - radius); qy <= std::min(height - 1, y + radius); ++qy)
          for (int dx = -radius; dx <= radius; ++dx) {
            const int first = std::max(start, -dx), last = std::min(end, width - dx);  // q inside the frame
            const Eigen::Index q = static_cast<Eigen::Index>(qy) * width + first + dx;
            if (last > first)
              match_shifted<Channels>(last - first, values.data() + first * Channels, background + q * Channels,
                                      level_at, q, matched.data() + first);
          }
        for (int column = start; column < end; ++column)
          if (matched[static_cast<std::size_t>(column)]) row[column] = 0;
      }
    }
  });
}

// The least light a shadow leaves, as a share of the light around it (MOG2's default shadow
// threshold): a pixel darker than that is an object.
constexpr float darkest_shadow = 0.5f;

// Marks (255) the pixels of a row that are changed and darker than their background by a ratio in
// [darkest_shadow, 1): a loop over the whole row that vectorizes, so that the window test below
// visits only these.
template <int Channels, typename Value>
void darker_pixels(int width, const std::uint8_t* __restrict changed, const Value* __restrict x,
                   const float* __restrict background, std::uint8_t* __restrict darker) {
  for (int i = 0; i < width; ++i) {
    float light = 0, energy = 0;
#pragma GCC unroll 3
    for (int c = 0; c < Channels; ++c) {
      const float lit = std::clamp(background[i * Channels + c], 0.0f, 1.0f);
      light += x[i * Channels + c] * value_scale<Value> * lit, energy += lit * lit;
    }
    darker[i] = (changed[i] != 0) & (light >= darkest_shadow * energy) & (light < energy) ? 255 : 0;
  }
}

// Relabels as 127 (MOG2's shadow label) each pixel of the mask that is darker than its background
// by a ratio in [darkest_shadow, 1) and whose changed neighbourhood (the mask's pixels among its 3x3,
// at least four) is its background dimmed by one gain in that range: a cast shadow lowers the light
// and keeps the colour and the texture, an object replaces them (the brightness and chromaticity test
// of Horprasert, Harwood and Davis, ICCV Frame-Rate Workshop 1999, over a neighbourhood so that grey
// frames have a texture to test; only changed pixels, so a shadow's edge is tested on the shadow).
// The gain is the least-squares <x, b> / <b, b> over those pixels' values (the background clipped as
// the camera shows it); every value must then lie within `level_at(pixel)`, the pixel's seed level,
// of the dimmed background: what is left is no change. Where the background there is flat (its
// values' range, dimmed, within that level), nothing tells a shadow from a flat dark object, and the
// pixel stays foreground. Rows in parallel.
template <int Channels, typename Value, typename LevelAt>
void mark_shadows(cv::Mat& mask, const Value* x, const float* background, LevelAt level_at) {
  const cv::Mat changed = mask.clone();  // read while the rows are relabelled
  const int width = mask.cols, height = mask.rows;
  oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int>(0, height), [&](const auto& rows) {
    std::vector<std::uint8_t> darker(static_cast<std::size_t>(width));
    std::array<float, 9 * Channels> values, lit;  // of the window's changed pixels
    for (int y = rows.begin(); y < rows.end(); ++y) {
      const std::uint8_t* row = changed.ptr<std::uint8_t>(y);
      if (next_column(row, row, 0, width, true) == width) continue;  // nothing changed in the row
      const Eigen::Index row_start = static_cast<Eigen::Index>(y) * width;
      darker_pixels<Channels>(width, row, x + row_start * Channels, background + row_start * Channels, darker.data());
      for (int column = next_column(darker.data(), darker.data(), 0, width, true); column < width;
           column = next_column(darker.data(), darker.data(), column + 1, width, true)) {
        std::size_t count = 0;
        for (int qy = std::max(0, y - 1); qy <= std::min(height - 1, y + 1); ++qy)
          for (int qx = std::max(0, column - 1); qx <= std::min(width - 1, column + 1); ++qx) {
            if (changed.ptr<std::uint8_t>(qy)[qx] == 0) continue;
            const Eigen::Index first = (static_cast<Eigen::Index>(qy) * width + qx) * Channels;
            for (Eigen::Index i = first; i < first + Channels; ++i, ++count) {
              values[count] = x[i] * value_scale<Value>;
              lit[count] = std::clamp(background[i], 0.0f, 1.0f);
            }
          }
        if (count < 4 * Channels) continue;
        float light = 0, energy = 0, darkest = 1, brightest = 0;
        for (std::size_t i = 0; i < count; ++i) {
          light += values[i] * lit[i], energy += lit[i] * lit[i];
          darkest = std::min(darkest, lit[i]), brightest = std::max(brightest, lit[i]);
        }
        const float gain = light / energy, level = level_at(row_start + column);
        if (gain < darkest_shadow || gain >= 1 || gain * (brightest - darkest) <= level) continue;
        bool dimmed = true;
        for (std::size_t i = 0; i < count; ++i) dimmed &= std::abs(values[i] - gain * lit[i]) <= level;
        if (dimmed) mask.ptr<std::uint8_t>(y)[column] = 127;
      }
    }
  });
}

// The mask from its seeds and the pixels that may join them (`grow`), as both mask makers finish it:
// the seeds the background shows nearby cleared, the growth, opening and closing (grow_mask), then
// the shadows labelled. `level_at(pixel)`: the pixel's seed level.
template <int Channels, typename Value, typename LevelAt>
cv::Mat finish_mask(cv::Mat seeds, const cv::Mat& grow, const Value* x, const float* background, LevelAt level_at,
                    const MaskOptions& options) {
  clear_displaced_seeds<Channels>(seeds.data, x, background, level_at, seeds.cols, seeds.rows,
                                  options.neighbour_radius);
  cv::Mat mask = grow_mask(std::move(seeds), options.hysteresis < 1 ? grow : cv::Mat(), options);
  if (options.shadows) mark_shadows<Channels>(mask, x, background, level_at);
  return mask;
}

}  // namespace cleanplate::stages::detail
