// Synthetic images shared by the delta tests.
#pragma once

#include <cstdint>
#include <random>

#include "uplift/base/bytes.hpp"

namespace uplift::delta::testing {

inline Bytes Random(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

// Looks like machine code: few distinct opcodes, small immediates, repeated structure.
inline Bytes BinaryLike(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto r = rng();
    b[i] = (r % 4 == 0) ? static_cast<std::uint8_t>(r >> 8) : static_cast<std::uint8_t>(r % 16);
  }
  return b;
}

}  // namespace uplift::delta::testing
