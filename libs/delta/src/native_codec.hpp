// The two stream codecs of the native format: zstd frames (fast to decode) and raw LZMA2 with a
// 4 MiB dictionary (10–15% smaller on bsdiff-style diff streams). Both decoders are bounded by
// the format: window/dictionary at most 4 MiB.
#pragma once

#include <cstdint>
#include <memory>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"

namespace uplift::delta::native {

inline constexpr std::uint8_t kCompressionZstd = 1;
inline constexpr std::uint8_t kCompressionLzma2 = 2;
inline constexpr std::uint32_t kLzma2DictSize = 4u << 20;

// One-shot compression of a whole stream (the generator holds it in memory).
Result<Bytes> CompressStream(std::uint8_t codec, int level, ByteView raw);

class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual Status Reset() = 0;
  // Consumes input from *in (advancing it) and produces into out; returns bytes produced.
  // *finished becomes true once the stream's end marker has been decoded.
  virtual Result<std::size_t> Decode(ByteView* in, MutableByteView out, bool* finished) = 0;
};

// `max_stream` bounds every decoded stream (a segment, or the control limit): LZMA2 needs no
// bigger dictionary than that, whatever the encoder used.
Result<std::unique_ptr<StreamDecoder>> MakeStreamDecoder(std::uint8_t codec,
                                                         std::uint32_t max_stream);

}  // namespace uplift::delta::native
