// Throughput of the checksums and of SHA-256 on 1 MiB buffers: which one a format can afford on a
// device, and whether the slice-by-8 tables earn their 40 KiB.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "uplift/base/bytes.hpp"
#include "uplift/crypto/crc.hpp"
#include "uplift/crypto/hash.hpp"

namespace {

using uplift::Bytes;
using uplift::ByteView;

constexpr std::size_t kBufferSize = std::size_t{1} << 20;

// Pseudo-random rather than zeros, so no implementation can profit from a degenerate input.
const Bytes& Buffer() {
  static const Bytes buffer = [] {
    Bytes b(kBufferSize);
    std::uint64_t x = 0x9E3779B97F4A7C15u;
    for (auto& byte : b) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      byte = static_cast<std::uint8_t>(x >> 32);
    }
    return b;
  }();
  return buffer;
}

template <typename Fn>
void Throughput(benchmark::State& state, Fn fn) {
  const ByteView buffer = Buffer();
  for (auto _ : state) {
    auto result = fn(buffer);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(buffer.size()));
}

void BM_Crc32(benchmark::State& state) {
  Throughput(state, [](ByteView b) { return uplift::crypto::Crc32(b); });
}
void BM_Crc32c(benchmark::State& state) {
  Throughput(state, [](ByteView b) { return uplift::crypto::Crc32c(b); });
}
void BM_Crc16Xmodem(benchmark::State& state) {
  Throughput(state, [](ByteView b) { return uplift::crypto::Crc16Xmodem(b); });
}
void BM_Crc16CcittFalse(benchmark::State& state) {
  Throughput(state, [](ByteView b) { return uplift::crypto::Crc16CcittFalse(b); });
}
void BM_Sha256(benchmark::State& state) {
  Throughput(state, [](ByteView b) { return uplift::crypto::Sha256::Of(b); });
}

BENCHMARK(BM_Crc32);
BENCHMARK(BM_Crc32c);
BENCHMARK(BM_Crc16Xmodem);
BENCHMARK(BM_Crc16CcittFalse);
BENCHMARK(BM_Sha256);

}  // namespace

BENCHMARK_MAIN();
