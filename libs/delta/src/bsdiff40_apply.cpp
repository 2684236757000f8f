// BSDIFF40 header parsing and the streaming applier. Compatibility target: Debian's bspatch 4.3
// accepts the same patches and produces the same bytes; we are stricter only where bspatch
// would hit undefined behaviour (absurd old positions) or silently ignore junk (stream tails).
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "bz_region_reader.hpp"
#include "uplift/delta/bsdiff40.hpp"

namespace uplift::delta {
namespace {

constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;
// Old positions beyond ±2^62 cannot address any real image; bounding them keeps every sum of a
// position and a length far from int64 overflow.
constexpr std::int64_t kMaxOldPos = std::int64_t{1} << 62;
constexpr std::size_t kBlock = 64 * 1024;

std::string Num(std::uint64_t v) { return std::to_string(v); }
std::string Num(std::int64_t v) { return std::to_string(v); }

// Moves the old position by delta, refusing to leave [-2^62, 2^62].
Status AdvanceOld(std::int64_t& pos, std::int64_t delta, const char* what) {
  std::int64_t next = 0;
  if (__builtin_add_overflow(pos, delta, &next) || next > kMaxOldPos || next < -kMaxOldPos) {
    return Error(Errc::kOutOfRange, std::string(what) + " of " + Num(delta) +
                                        " moves the old position from " + Num(pos) +
                                        " outside ±2^62");
  }
  pos = next;
  return Ok();
}

// Writes the new image in kBlock pieces, so tiny control triples do not become tiny writes.
class BlockWriter {
 public:
  explicit BlockWriter(ByteSink& out) : out_(out), block_(kBlock) {}
  // Free space at the end of the block (never empty: a full block is flushed at once).
  MutableByteView Space() { return MutableByteView(block_).subspan(used_); }
  Status Commit(std::size_t n) {
    used_ += n;
    return used_ == block_.size() ? Flush() : Ok();
  }
  Status Flush() {
    if (used_ == 0) return Ok();
    UPLIFT_TRY(out_.Write(ByteView(block_.data(), used_)));
    used_ = 0;
    return Ok();
  }

 private:
  ByteSink& out_;
  std::vector<std::uint8_t> block_;
  std::size_t used_ = 0;
};

// buf[i] += old[pos + i] wherever 0 <= pos + i < old size: bspatch's rule, so old bytes
// outside the image count as zero.
Status AddOld(RandomAccessSource& old_image, std::int64_t pos, MutableByteView buf,
              std::vector<std::uint8_t>& scratch) {
  const auto old_size = static_cast<std::int64_t>(old_image.size());
  const std::int64_t lo = std::max<std::int64_t>(pos, 0);
  const std::int64_t hi =
      std::min<std::int64_t>(pos + static_cast<std::int64_t>(buf.size()), old_size);
  if (lo >= hi) return Ok();
  const auto n = static_cast<std::size_t>(hi - lo);
  UPLIFT_ASSIGN(const std::size_t got, old_image.ReadAt(static_cast<std::uint64_t>(lo),
                                                        MutableByteView(scratch.data(), n)));
  if (got != n) return Error(base::Errc::kUnexpectedEof, "old image shrank while reading");
  const auto skip = static_cast<std::size_t>(lo - pos);
  for (std::size_t i = 0; i < n; ++i) {
    buf[skip + i] = static_cast<std::uint8_t>(buf[skip + i] + scratch[i]);
  }
  return Ok();
}

}  // namespace

void StoreSignMagnitude64(std::uint8_t* p, std::int64_t v) {
  const std::uint64_t mag =
      v < 0 ? ~static_cast<std::uint64_t>(v) + 1 : static_cast<std::uint64_t>(v);
  StoreLe64(p, v < 0 ? (mag | kSignBit) : mag);
}

std::int64_t LoadSignMagnitude64(const std::uint8_t* p) {
  const std::uint64_t raw = LoadLe64(p);
  const auto mag = static_cast<std::int64_t>(raw & ~kSignBit);
  return (raw & kSignBit) != 0 ? -mag : mag;
}

Result<Bsdiff40Header> ReadBsdiff40Header(RandomAccessSource& patch) {
  std::array<std::uint8_t, kBsdiff40HeaderSize> h{};
  UPLIFT_ASSIGN(const std::size_t n, patch.ReadAt(0, h));
  const std::size_t magic_seen = std::min(n, kBsdiff40Magic.size());
  if (std::memcmp(h.data(), kBsdiff40Magic.data(), magic_seen) != 0) {
    return Error(Errc::kBadMagic, "not a BSDIFF40 patch (bad magic)");
  }
  if (n < h.size()) {
    return Error(Errc::kTruncated, "BSDIFF40 header: patch is only " + Num(std::uint64_t{n}) +
                                       " bytes, the header needs 32");
  }
  const char* names[] = {"control length", "diff length", "new size"};
  std::int64_t v[3];
  for (int i = 0; i < 3; ++i) {
    v[i] = LoadSignMagnitude64(h.data() + 8 + 8 * i);
    if (v[i] < 0) {
      return Error(Errc::kCorrupt, std::string("BSDIFF40 header: negative ") + names[i]);
    }
  }
  Bsdiff40Header hdr{static_cast<std::uint64_t>(v[0]), static_cast<std::uint64_t>(v[1]),
                     static_cast<std::uint64_t>(v[2])};
  // Each length is below 2^63, so this sum cannot wrap.
  const std::uint64_t body = patch.size() - kBsdiff40HeaderSize;
  if (hdr.ctrl_len > body || hdr.diff_len > body - hdr.ctrl_len) {
    return Error(Errc::kTruncated, "BSDIFF40 header: control (" + Num(hdr.ctrl_len) +
                                       ") and diff (" + Num(hdr.diff_len) +
                                       ") blocks need more than the " + Num(body) +
                                       " bytes after the header");
  }
  return hdr;
}

Status ApplyBsdiff40(RandomAccessSource& old_image, RandomAccessSource& patch, ByteSink& out,
                     std::uint64_t max_new_size) {
  UPLIFT_ASSIGN(const Bsdiff40Header hdr, ReadBsdiff40Header(patch));
  if (hdr.new_size > max_new_size) {
    return Error(Errc::kTooLarge, "BSDIFF40: new image of " + Num(hdr.new_size) +
                                      " bytes exceeds the limit of " + Num(max_new_size));
  }
  if (old_image.size() > static_cast<std::uint64_t>(kMaxOldPos)) {
    return Error(Errc::kTooLarge, "BSDIFF40: old image above 2^62 bytes");
  }
  const std::uint64_t diff_at = kBsdiff40HeaderSize + hdr.ctrl_len;
  const std::uint64_t extra_at = diff_at + hdr.diff_len;
  BzRegionReader ctrl(patch, kBsdiff40HeaderSize, hdr.ctrl_len, "control");
  BzRegionReader diff(patch, diff_at, hdr.diff_len, "diff");
  BzRegionReader extra(patch, extra_at, patch.size() - extra_at, "extra");
  UPLIFT_TRY(ctrl.Init());
  UPLIFT_TRY(diff.Init());
  UPLIFT_TRY(extra.Init());

  BlockWriter writer(out);
  std::vector<std::uint8_t> scratch(kBlock);
  std::uint64_t new_pos = 0;
  std::int64_t old_pos = 0;
  // A triple that writes nothing costs a control read and no output: an endless run of them,
  // which bzip2 squeezes into a few bytes, would keep a device busy for minutes. bsdiff emits
  // at most one in a row (a leading seek), so a long run is refused.
  constexpr int kMaxIdleTriples = 16;
  int idle_triples = 0;
  while (new_pos < hdr.new_size) {
    std::array<std::uint8_t, 24> triple{};
    UPLIFT_TRY(ctrl.ReadExact(triple));
    const std::int64_t add = LoadSignMagnitude64(triple.data());
    const std::int64_t copy = LoadSignMagnitude64(triple.data() + 8);
    const std::int64_t seek = LoadSignMagnitude64(triple.data() + 16);
    const std::string at = " at new offset " + Num(new_pos);
    idle_triples = (add == 0 && copy == 0) ? idle_triples + 1 : 0;
    if (idle_triples > kMaxIdleTriples) {
      return Error(Errc::kCorrupt, "control: more than " + std::to_string(kMaxIdleTriples) +
                                       " triples in a row that write nothing" + at);
    }
    if (add < 0 || copy < 0) {
      return Error(Errc::kCorrupt,
                   "control: negative length (add " + Num(add) + ", copy " + Num(copy) + ")" + at);
    }
    if (static_cast<std::uint64_t>(add) > hdr.new_size - new_pos) {
      return Error(Errc::kOutOfRange,
                   "control: add of " + Num(add) + " bytes" + at + " passes the new size");
    }
    // Validate the whole move first; the chunk positions below then stay in range.
    std::int64_t old_end = old_pos;
    UPLIFT_TRY(AdvanceOld(old_end, add, "control: add"));
    for (std::uint64_t left = static_cast<std::uint64_t>(add); left > 0;) {
      MutableByteView space = writer.Space();
      space = space.first(static_cast<std::size_t>(std::min<std::uint64_t>(left, space.size())));
      UPLIFT_TRY(diff.ReadExact(space));
      UPLIFT_TRY(AddOld(old_image, old_pos, space, scratch));
      UPLIFT_TRY(writer.Commit(space.size()));
      left -= space.size();
      old_pos += static_cast<std::int64_t>(space.size());
      new_pos += space.size();
    }
    if (static_cast<std::uint64_t>(copy) > hdr.new_size - new_pos) {
      return Error(Errc::kOutOfRange, "control: copy of " + Num(copy) + " bytes at new offset " +
                                          Num(new_pos) + " passes the new size");
    }
    for (std::uint64_t left = static_cast<std::uint64_t>(copy); left > 0;) {
      MutableByteView space = writer.Space();
      space = space.first(static_cast<std::size_t>(std::min<std::uint64_t>(left, space.size())));
      UPLIFT_TRY(extra.ReadExact(space));
      UPLIFT_TRY(writer.Commit(space.size()));
      left -= space.size();
      new_pos += space.size();
    }
    UPLIFT_TRY(AdvanceOld(old_pos, seek, "control: seek"));
  }
  UPLIFT_TRY(ctrl.Finish());
  UPLIFT_TRY(diff.Finish());
  UPLIFT_TRY(extra.Finish());
  return writer.Flush();
}

}  // namespace uplift::delta
