#include "cleanplate/stages/frame_matrix.hpp"

#include <algorithm>
#include <cstdint>
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace cleanplate::stages {
namespace {

void advise_huge_pages([[maybe_unused]] FrameLevels& storage) {
#ifdef __linux__
  constexpr std::uintptr_t huge = 2 << 20;
  const auto begin = (reinterpret_cast<std::uintptr_t>(storage.data()) + huge - 1) & ~(huge - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(storage.data() + storage.size()) & ~(huge - 1);
  if (end > begin)
    ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
}

}  // namespace

FrameMatrix::FrameMatrix(Eigen::Index rows, Eigen::Index expected_columns)
    : storage_(rows, std::max<Eigen::Index>(expected_columns, 1)) {
  advise_huge_pages(storage_);
}

void FrameMatrix::reserve(Eigen::Index columns) {
  if (columns <= storage_.cols()) return;
  FrameLevels grown(storage_.rows(), std::max(columns, storage_.cols() * 3 / 2 + 1));
  advise_huge_pages(grown);
  grown.leftCols(storage_.cols()) = storage_;  // every column: writers fill them before the count is set
  storage_.swap(grown);
}

double values_squared_norm(const Eigen::Ref<const FrameColumnLevels>& levels) {
  // 32,768 squares of at most 255^2 fit in 32 bits.
  constexpr Eigen::Index chunk = 32768;
  const std::uint8_t* level = levels.data();
  std::uint64_t sum = 0;
  for (Eigen::Index first = 0; first < levels.size(); first += chunk) {
    const Eigen::Index end = std::min(levels.size(), first + chunk);
    std::uint32_t part = 0;
    for (Eigen::Index i = first; i < end; ++i) part += static_cast<std::uint32_t>(level[i]) * level[i];
    sum += part;
  }
  return static_cast<double>(sum) / (255.0 * 255.0);
}

}  // namespace cleanplate::stages
