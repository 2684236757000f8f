#include "uplift/format/record.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "uplift/crypto/crc.hpp"

namespace uplift::format {
namespace {

constexpr std::size_t kVersionOffset = 4;
constexpr std::size_t kReservedOffset = 5;
constexpr std::size_t kSequenceOffset = 8;
constexpr std::size_t kLengthOffset = 16;
constexpr std::size_t kCrcOffset = 20;

// The CRC covers the header up to the CRC field, then the payload: one damaged bit anywhere in
// the copy is detected.
std::uint32_t CopyCrc(ByteView header_before_crc, ByteView payload) {
  return crypto::Crc32c(payload, crypto::Crc32c(header_before_crc));
}

}  // namespace

Bytes EncodeRecordCopy(std::uint64_t sequence, ByteView payload) {
  if (payload.size() > kMaxRecordPayload) std::abort();
  Bytes out(kRecordHeaderSize + payload.size(), 0);
  std::copy(kRecordMagic.begin(), kRecordMagic.end(), out.begin());
  out[kVersionOffset] = kRecordVersion;
  StoreLe64(&out[kSequenceOffset], sequence);
  StoreLe32(&out[kLengthOffset], static_cast<std::uint32_t>(payload.size()));
  std::copy(payload.begin(), payload.end(), out.begin() + kRecordHeaderSize);
  StoreLe32(&out[kCrcOffset], CopyCrc(ByteView(out.data(), kCrcOffset), payload));
  return out;
}

Result<RecordCopy> DecodeRecordCopy(ByteView b) {
  if (b.size() < kRecordHeaderSize) {
    return Error(Errc::kTruncated, "record: " + std::to_string(b.size()) +
                                       " bytes, a header needs " +
                                       std::to_string(kRecordHeaderSize));
  }
  if (!std::equal(kRecordMagic.begin(), kRecordMagic.end(), b.begin())) {
    return Error(Errc::kBadMagic, "record: bad magic (expected \"UPRC\")");
  }
  if (b[kVersionOffset] != kRecordVersion) {
    return Error(Errc::kUnsupportedVersion, "record: format version " +
                                                std::to_string(b[kVersionOffset]) +
                                                " is not supported (this reader knows version 1)");
  }
  const std::uint32_t length = LoadLe32(&b[kLengthOffset]);
  if (length > kMaxRecordPayload) {
    return Error(Errc::kOversize, "record: length " + std::to_string(length) +
                                      " exceeds the limit of " + std::to_string(kMaxRecordPayload));
  }
  if (b.size() - kRecordHeaderSize < length) {
    return Error(Errc::kTruncated, "record: length " + std::to_string(length) + " but only " +
                                       std::to_string(b.size() - kRecordHeaderSize) +
                                       " payload bytes present");
  }
  const ByteView payload = b.subspan(kRecordHeaderSize, length);
  if (LoadLe32(&b[kCrcOffset]) != CopyCrc(b.first(kCrcOffset), payload)) {
    return Error(Errc::kHeaderCorrupt, "record: checksum mismatch");
  }
  if (b[kReservedOffset] != 0 || b[kReservedOffset + 1] != 0 || b[kReservedOffset + 2] != 0) {
    return Error(Errc::kHeaderCorrupt, "record: reserved bytes are not zero");
  }
  RecordCopy copy;
  copy.sequence = LoadLe64(&b[kSequenceOffset]);
  copy.payload.assign(payload.begin(), payload.end());
  return copy;
}

}  // namespace uplift::format
