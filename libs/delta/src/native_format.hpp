// Byte layout of the native delta format shared by the generator and the applier
// (docs/formats/delta.md is the specification; keep the two in step).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "native_codec.hpp"
#include "uplift/delta/native.hpp"

namespace uplift::delta::native {

inline constexpr std::array<std::uint8_t, 8> kMagic = {0x89, 'U', 'D', 'L', 0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kSegmentHeaderSize = 48;
inline constexpr std::array<std::uint8_t, 4> kSegmentMagic = {'S', 'E', 'G', '1'};
// Segment sizes are multiples of the filter block so filters never straddle a segment.
inline constexpr std::uint32_t kSegmentAlign = 64 * 1024;
inline constexpr std::uint32_t kMaxCtrlSize = 1u << 20;  // decoded control bytes per segment
// Upper bound of a compressed stream of n raw bytes, for both codecs.
inline constexpr std::uint64_t CompressedBound(std::uint64_t n) { return n + n / 16 + 4096; }

struct SegmentHeader {
  std::uint32_t index = 0;
  std::uint32_t new_length = 0;
  std::uint32_t new_crc32c = 0;
  std::uint64_t old_start = 0;  // old position at the segment's first op
  std::uint32_t ctrl_size = 0;  // compressed sizes of the three streams, in patch order
  std::uint32_t ctrl_raw_size = 0;
  std::uint32_t diff_size = 0;
  std::uint32_t extra_size = 0;
  std::uint32_t op_count = 0;

  std::uint64_t body_size() const {
    return std::uint64_t{ctrl_size} + diff_size + extra_size;
  }
};

// One control operation: `add` bytes of diff added to old bytes at the old position (which then
// advances by `add`), `copy` literal bytes from the extra stream, then the old position moves by
// `seek`.
struct Op {
  std::uint64_t add = 0;
  std::uint64_t copy = 0;
  std::int64_t seek = 0;
};

std::array<std::uint8_t, kNativeHeaderSize> EncodeHeader(const NativeHeader& h);
Result<NativeHeader> DecodeHeader(ByteView bytes);

std::array<std::uint8_t, kSegmentHeaderSize> EncodeSegmentHeader(const SegmentHeader& s);
// Checks magic and CRC only; the caller checks values against the file header.
Result<SegmentHeader> DecodeSegmentHeader(ByteView bytes);

void PutOp(Bytes& ctrl, const Op& op);
// Reads one op at *pos; kCorrupt if the varints are malformed or run past the end.
Result<Op> GetOp(ByteView ctrl, std::size_t* pos);

}  // namespace uplift::delta::native
