// One copy of a durable single record (the agent's journal): a 24-byte header, the payload, and
// padding the decoder ignores. Byte-exact specification and test vectors:
// docs/formats/record-store.md.
//
//   magic "UPRC" (4) | version u8 | reserved (3) | sequence u64 | length u32 | crc32c u32 | payload
#pragma once

#include <array>
#include <cstdint>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {

inline constexpr std::array<std::uint8_t, 4> kRecordMagic = {'U', 'P', 'R', 'C'};
inline constexpr std::uint8_t kRecordVersion = 1;
inline constexpr std::size_t kRecordHeaderSize = 24;
inline constexpr std::uint32_t kMaxRecordPayload = 64 * 1024;

struct RecordCopy {
  std::uint64_t sequence = 0;
  Bytes payload;

  // Header plus payload, without padding.
  std::size_t encoded_size() const { return kRecordHeaderSize + payload.size(); }
};

// Header followed by the payload. The payload must not exceed kMaxRecordPayload (a broken
// invariant: callers bound it first).
Bytes EncodeRecordCopy(std::uint64_t sequence, ByteView payload);

// Decodes the copy at the start of `bytes`; bytes after header + length are padding and are not
// looked at. Checks, in this order: enough bytes for a header (kTruncated), magic (kBadMagic),
// version (kUnsupportedVersion), length bound (kOversize), payload present (kTruncated), CRC-32C
// (kHeaderCorrupt), reserved bytes zero (kHeaderCorrupt).
Result<RecordCopy> DecodeRecordCopy(ByteView bytes);

}  // namespace uplift::format
