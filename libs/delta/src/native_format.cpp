#include "native_format.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "uplift/crypto/crc.hpp"

namespace uplift::delta::native {
namespace {

// Header field offsets (docs/formats/delta.md §Header).
constexpr std::size_t kOffVersion = 8, kOffFilter = 10, kOffCompression = 11, kOffSegSize = 12,
                      kOffOldSize = 16, kOffNewSize = 24, kOffOldSha = 32, kOffNewSha = 64,
                      kOffOldRange = 96, kOffNewRange = 112, kOffSegCount = 128,
                      kOffHeaderCrc = 152;

std::string Str(std::uint64_t v) { return std::to_string(v); }

void PutVarint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

Result<std::uint64_t> GetVarint(ByteView in, std::size_t* pos) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return Error(Errc::kCorrupt, "delta: control stream ends inside a number");
    const std::uint8_t b = in[(*pos)++];
    // The tenth byte may only carry the top bit of a 64-bit value; minimal encodings only.
    if (shift == 63 && b > 1) return Error(Errc::kCorrupt, "delta: control number exceeds 64 bits");
    v |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      if (b == 0 && shift != 0) return Error(Errc::kCorrupt, "delta: control number not minimally encoded");
      return v;
    }
  }
  return Error(Errc::kCorrupt, "delta: control number exceeds 64 bits");
}

}  // namespace

std::array<std::uint8_t, kNativeHeaderSize> EncodeHeader(const NativeHeader& h) {
  std::array<std::uint8_t, kNativeHeaderSize> b{};
  std::memcpy(b.data(), kMagic.data(), kMagic.size());
  StoreLe16(b.data() + kOffVersion, kVersion);
  b[kOffFilter] = static_cast<std::uint8_t>(h.filter);
  b[kOffCompression] = h.compression;
  StoreLe32(b.data() + kOffSegSize, h.segment_size);
  StoreLe64(b.data() + kOffOldSize, h.old_size);
  StoreLe64(b.data() + kOffNewSize, h.new_size);
  std::memcpy(b.data() + kOffOldSha, h.old_sha256.data(), 32);
  std::memcpy(b.data() + kOffNewSha, h.new_sha256.data(), 32);
  StoreLe64(b.data() + kOffOldRange, h.old_filter_range.begin);
  StoreLe64(b.data() + kOffOldRange + 8, h.old_filter_range.end);
  StoreLe64(b.data() + kOffNewRange, h.new_filter_range.begin);
  StoreLe64(b.data() + kOffNewRange + 8, h.new_filter_range.end);
  StoreLe32(b.data() + kOffSegCount, h.segment_count);
  StoreLe32(b.data() + kOffHeaderCrc, crypto::Crc32c(ByteView(b.data(), kOffHeaderCrc)));
  return b;
}

Result<NativeHeader> DecodeHeader(ByteView b) {
  if (b.size() < kNativeHeaderSize) return Error(Errc::kTruncated, "delta: patch shorter than its 160-byte header");
  if (!std::equal(kMagic.begin(), kMagic.end(), b.begin())) {
    return Error(Errc::kBadMagic, "delta: not an Uplift delta (bad magic)");
  }
  const std::uint32_t crc = crypto::Crc32c(b.first(kOffHeaderCrc));
  if (crc != LoadLe32(b.data() + kOffHeaderCrc)) return Error(Errc::kCorrupt, "delta: header CRC-32C mismatch");
  if (LoadLe16(b.data() + kOffVersion) != kVersion) {
    return Error(Errc::kCorrupt, "delta: unsupported format version " + Str(LoadLe16(b.data() + kOffVersion)));
  }
  for (std::size_t i = kOffSegCount + 4; i < kNativeHeaderSize; ++i) {
    if (i >= kOffHeaderCrc && i < kOffHeaderCrc + 4) continue;
    if (b[i] != 0) return Error(Errc::kCorrupt, "delta: reserved header byte " + Str(i) + " is not zero");
  }
  NativeHeader h;
  if (b[kOffFilter] > static_cast<std::uint8_t>(Filter::kArm64)) {
    return Error(Errc::kCorrupt, "delta: unknown filter " + Str(b[kOffFilter]));
  }
  h.filter = static_cast<Filter>(b[kOffFilter]);
  h.compression = b[kOffCompression];
  if (h.compression != kCompressionZstd && h.compression != kCompressionLzma2) return Error(Errc::kCorrupt, "delta: unknown compression " + Str(h.compression));
  h.segment_size = LoadLe32(b.data() + kOffSegSize);
  h.old_size = LoadLe64(b.data() + kOffOldSize);
  h.new_size = LoadLe64(b.data() + kOffNewSize);
  std::memcpy(h.old_sha256.data(), b.data() + kOffOldSha, 32);
  std::memcpy(h.new_sha256.data(), b.data() + kOffNewSha, 32);
  h.old_filter_range = {LoadLe64(b.data() + kOffOldRange), LoadLe64(b.data() + kOffOldRange + 8)};
  h.new_filter_range = {LoadLe64(b.data() + kOffNewRange), LoadLe64(b.data() + kOffNewRange + 8)};
  h.segment_count = LoadLe32(b.data() + kOffSegCount);
  if (h.segment_size == 0 || h.segment_size % kSegmentAlign != 0 || h.segment_size > kNativeMaxSegmentSize) {
    return Error(Errc::kCorrupt, "delta: segment size " + Str(h.segment_size) +
                                     " is not a multiple of 64 KiB in [64 KiB, 4 MiB]");
  }
  constexpr std::uint64_t kMaxImage = std::uint64_t{1} << 62;
  if (h.old_size > kMaxImage || h.new_size > kMaxImage) return Error(Errc::kTooLarge, "delta: image size above 2^62");
  const std::uint64_t expected_segments = (h.new_size + h.segment_size - 1) / h.segment_size;
  if (expected_segments != h.segment_count) {
    return Error(Errc::kCorrupt, "delta: segment count " + Str(h.segment_count) + " does not match new size (expected " +
                                     Str(expected_segments) + ")");
  }
  auto check_range = [](FilterRange r, std::uint64_t size, const char* which) -> Status {
    if (r.begin > r.end || r.end > size) {
      return Error(Errc::kCorrupt, std::string("delta: ") + which + " filter range outside the image");
    }
    return Ok();
  };
  if (h.filter == Filter::kNone) {
    if (h.old_filter_range.begin || h.old_filter_range.end || h.new_filter_range.begin || h.new_filter_range.end) {
      return Error(Errc::kCorrupt, "delta: filter ranges set without a filter");
    }
  } else {
    UPLIFT_TRY(check_range(h.old_filter_range, h.old_size, "old"));
    UPLIFT_TRY(check_range(h.new_filter_range, h.new_size, "new"));
  }
  return h;
}

std::array<std::uint8_t, kSegmentHeaderSize> EncodeSegmentHeader(const SegmentHeader& s) {
  std::array<std::uint8_t, kSegmentHeaderSize> b{};
  std::memcpy(b.data(), kSegmentMagic.data(), 4);
  StoreLe32(b.data() + 4, s.index);
  StoreLe32(b.data() + 8, s.new_length);
  StoreLe32(b.data() + 12, s.new_crc32c);
  StoreLe64(b.data() + 16, s.old_start);
  StoreLe32(b.data() + 24, s.ctrl_size);
  StoreLe32(b.data() + 28, s.ctrl_raw_size);
  StoreLe32(b.data() + 32, s.diff_size);
  StoreLe32(b.data() + 36, s.extra_size);
  StoreLe32(b.data() + 40, s.op_count);
  StoreLe32(b.data() + 44, crypto::Crc32c(ByteView(b.data(), 44)));
  return b;
}

Result<SegmentHeader> DecodeSegmentHeader(ByteView b) {
  if (!std::equal(kSegmentMagic.begin(), kSegmentMagic.end(), b.begin())) {
    return Error(Errc::kCorrupt, "delta: segment header magic missing");
  }
  if (crypto::Crc32c(b.first(44)) != LoadLe32(b.data() + 44)) {
    return Error(Errc::kCorrupt, "delta: segment header CRC-32C mismatch");
  }
  SegmentHeader s;
  s.index = LoadLe32(b.data() + 4);
  s.new_length = LoadLe32(b.data() + 8);
  s.new_crc32c = LoadLe32(b.data() + 12);
  s.old_start = LoadLe64(b.data() + 16);
  s.ctrl_size = LoadLe32(b.data() + 24);
  s.ctrl_raw_size = LoadLe32(b.data() + 28);
  s.diff_size = LoadLe32(b.data() + 32);
  s.extra_size = LoadLe32(b.data() + 36);
  s.op_count = LoadLe32(b.data() + 40);
  return s;
}

void PutOp(Bytes& ctrl, const Op& op) {
  PutVarint(ctrl, op.add);
  PutVarint(ctrl, op.copy);
  // Zigzag: small seeks of either sign stay short.
  const auto u = static_cast<std::uint64_t>(op.seek);
  PutVarint(ctrl, (u << 1) ^ (op.seek < 0 ? ~std::uint64_t{0} : 0));
}

Result<Op> GetOp(ByteView ctrl, std::size_t* pos) {
  Op op;
  UPLIFT_ASSIGN(op.add, GetVarint(ctrl, pos));
  UPLIFT_ASSIGN(op.copy, GetVarint(ctrl, pos));
  UPLIFT_ASSIGN(const std::uint64_t z, GetVarint(ctrl, pos));
  op.seek = static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
  return op;
}

}  // namespace uplift::delta::native
