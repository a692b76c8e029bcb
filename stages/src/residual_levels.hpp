// Per-pixel residual tests shared by the mask makers (stages::frame_mask and OnlineBackground's seeds
// pass): frames as 8-bit levels or floats in [0, 1], compared with each pixel's seed level.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cleanplate/stages/frame_matrix.hpp"

namespace cleanplate::stages::detail {

// A value's scale to [0, 1]: levels are turned into values where they are read, so a 1080p frame is
// 2 MB through memory rather than 8.
template <typename Value>
constexpr float value_scale = std::is_integral_v<Value> ? level_step : 1.0f;

// The largest |residual| of a pixel's channels (stages::residual_magnitude, one pixel).
template <int Channels, typename Value>
float magnitude(const Value* x, const float* background) {
  float m = std::abs(x[0] * value_scale<Value> - background[0]);
  for (int c = 1; c < Channels; ++c) m = std::max(m, std::abs(x[c] * value_scale<Value> - background[c]));
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
    const float m = magnitude<Channels>(x + i * Channels, background + i * Channels);
    seeds[i] = m > seed[i] ? 255 : 0;
    grow[i] = m > seed[i] * hysteresis ? 255 : 0;
  }
}

}  // namespace cleanplate::stages::detail
