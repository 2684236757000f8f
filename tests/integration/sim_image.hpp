// The image layout `uplift-agent sim-boot` accepts as "a kernel that starts" (docs/agent.md
// §sim-boot): a magic line, the body length, the body, and the body's SHA-256.
#pragma once

#include <cstdint>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::testing {

inline std::string SimImage(std::size_t n, std::uint32_t seed) {
  std::string body(n, '\0');
  std::uint32_t x = seed;
  for (auto& c : body) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  std::string img = "UPLIFT-SIM-BOOT\n";
  std::uint8_t len[8];
  StoreLe64(len, n);
  img.append(reinterpret_cast<const char*>(len), 8);
  img += body;
  const auto d = crypto::Sha256::Of(AsBytes(body));
  img.append(reinterpret_cast<const char*>(d.data()), d.size());
  return img;
}

}  // namespace uplift::testing
