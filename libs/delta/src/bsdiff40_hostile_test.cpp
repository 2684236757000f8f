// Hostile BSDIFF40 patches: every one must fail with its precise error, without writing past
// the header's new_size. Patches are assembled by hand from triples and raw streams.
#include <bzlib.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "uplift/delta/bsdiff40.hpp"
#include "uplift/delta/diff.hpp"

namespace uplift::delta {
namespace {

constexpr std::int64_t k2p62 = std::int64_t{1} << 62;

struct Triple {
  std::int64_t add, copy, seek;
};

Bytes Bz(ByteView data) {
  static char empty = 0;  // bzip2 refuses a null source even for zero bytes
  auto len = static_cast<unsigned>(data.size() + data.size() / 100 + 600);
  Bytes out(len);
  const int rc = BZ2_bzBuffToBuffCompress(
      reinterpret_cast<char*>(out.data()), &len,
      data.empty() ? &empty : const_cast<char*>(reinterpret_cast<const char*>(data.data())),
      static_cast<unsigned>(data.size()), 9, 0, 0);
  EXPECT_EQ(rc, BZ_OK);
  out.resize(len);
  return out;
}

Bytes Raw(const std::vector<Triple>& triples) {
  Bytes ctrl(triples.size() * 24);
  for (std::size_t i = 0; i < triples.size(); ++i) {
    StoreSignMagnitude64(ctrl.data() + 24 * i, triples[i].add);
    StoreSignMagnitude64(ctrl.data() + 24 * i + 8, triples[i].copy);
    StoreSignMagnitude64(ctrl.data() + 24 * i + 16, triples[i].seek);
  }
  return ctrl;
}

// Header + already-compressed streams.
Bytes Assemble(const Bytes& ctrl_bz, const Bytes& diff_bz, const Bytes& extra_bz,
               std::int64_t new_size) {
  Bytes p(kBsdiff40HeaderSize);
  std::memcpy(p.data(), kBsdiff40Magic.data(), 8);
  StoreSignMagnitude64(p.data() + 8, static_cast<std::int64_t>(ctrl_bz.size()));
  StoreSignMagnitude64(p.data() + 16, static_cast<std::int64_t>(diff_bz.size()));
  StoreSignMagnitude64(p.data() + 24, new_size);
  for (const Bytes* b : {&ctrl_bz, &diff_bz, &extra_bz}) p.insert(p.end(), b->begin(), b->end());
  return p;
}

Bytes Patch(const std::vector<Triple>& triples, const Bytes& diff, const Bytes& extra,
            std::int64_t new_size) {
  return Assemble(Bz(Raw(triples)), Bz(diff), Bz(extra), new_size);
}

const Bytes kOld = {10, 20, 30, 40, 50, 60, 70, 80};

// Applies and checks the invariant of every failure: nothing past the declared new size.
Status Apply(const Bytes& patch, const Bytes& old_image = kOld, std::uint64_t max = 1 << 20,
             Bytes* got = nullptr) {
  MemoryRandomAccess o(old_image), p(patch);
  MemorySink out;
  Status st = ApplyBsdiff40(o, p, out, max);
  std::uint64_t declared = 0;
  if (patch.size() >= 32) declared = LoadLe64(patch.data() + 24) & ~(std::uint64_t{1} << 63);
  EXPECT_LE(out.bytes().size(), std::min<std::uint64_t>(declared, max));
  if (got) *got = out.Take();
  return st;
}

#define EXPECT_ERRC(status, want)                                                           \
  do {                                                                                      \
    const Status s_ = (status);                                                             \
    ASSERT_FALSE(s_.ok());                                                                  \
    EXPECT_TRUE(s_.error().Is(want))                                                        \
        << s_.error().domain() << " " << s_.error().code() << ": " << s_.error().message(); \
  } while (0)

TEST(Bsdiff40Hostile, HandBuiltPatchAppliesLikeBspatch) {
  // Old bytes before the image count as zero: bspatch adds only where 0 <= pos < old size.
  Bytes got;
  const Status st =
      Apply(Patch({{0, 0, -2}, {5, 2, 0}}, Bytes(5, 1), {7, 8}, 7), kOld, 1 << 20, &got);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(got, (Bytes{1, 1, 11, 21, 31, 7, 8}));
}

TEST(Bsdiff40Hostile, BadMagic) {
  Bytes p = Patch({{1, 0, 0}}, {1}, {}, 1);
  p[7] = '1';
  EXPECT_ERRC(Apply(p), Errc::kBadMagic);
  EXPECT_ERRC(Apply(Bytes{'P', 'K'}), Errc::kBadMagic);
}

TEST(Bsdiff40Hostile, ShortHeaderIsTruncated) {
  EXPECT_ERRC(Apply(Bytes{}), Errc::kTruncated);
  EXPECT_ERRC(Apply(Bytes{'B', 'S', 'D', 'I', 'F', 'F', '4', '0', 0}), Errc::kTruncated);
}

TEST(Bsdiff40Hostile, NegativeHeaderValues) {
  for (std::size_t field : {8u, 16u, 24u}) {
    Bytes p = Patch({{1, 0, 0}}, {1}, {}, 1);
    p[field + 7] |= 0x80;
    EXPECT_ERRC(Apply(p), Errc::kCorrupt);
  }
}

TEST(Bsdiff40Hostile, CtrlLenBeyondFile) {
  Bytes p = Patch({{1, 0, 0}}, {1}, {}, 1);
  StoreSignMagnitude64(p.data() + 8, std::int64_t{1} << 40);
  EXPECT_ERRC(Apply(p), Errc::kTruncated);
  StoreSignMagnitude64(p.data() + 8, std::numeric_limits<std::int64_t>::max());
  StoreSignMagnitude64(p.data() + 16, std::numeric_limits<std::int64_t>::max());
  EXPECT_ERRC(Apply(p), Errc::kTruncated);
}

TEST(Bsdiff40Hostile, TruncatedAtEveryOffset) {
  Bytes old_image(300), new_image(400);
  for (std::size_t i = 0; i < old_image.size(); ++i)
    old_image[i] = static_cast<std::uint8_t>(i * 7);
  for (std::size_t i = 0; i < new_image.size(); ++i)
    new_image[i] = static_cast<std::uint8_t>(i * 7 + (i > 200 ? i : 0));
  MemorySink ps;
  ASSERT_TRUE(CreateBsdiff40(old_image, new_image, ps).ok());
  const Bytes patch = ps.Take();
  ASSERT_TRUE(Apply(patch, old_image).ok());
  for (std::size_t cut = 0; cut < patch.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_ERRC(
        Apply(Bytes(patch.begin(), patch.begin() + static_cast<std::ptrdiff_t>(cut)), old_image),
        Errc::kTruncated);
  }
}

TEST(Bsdiff40Hostile, EveryByteFlippedFailsCleanly) {
  const Bytes patch =
      Patch({{0, 0, 3}, {4, 3, -2}, {2, 1, 0}}, {1, 2, 3, 4, 5, 6}, {9, 9, 9, 9}, 10);
  ASSERT_TRUE(Apply(patch).ok());
  for (std::size_t i = 0; i < patch.size(); ++i) {
    Bytes p = patch;
    p[i] ^= 0x41;
    (void)Apply(p);  // any outcome but a crash or an overlong write (checked inside Apply)
  }
}

TEST(Bsdiff40Hostile, HugeAddLength) {
  EXPECT_ERRC(Apply(Patch({{std::int64_t{1} << 40, 0, 0}}, {1}, {}, 100)), Errc::kOutOfRange);
  EXPECT_ERRC(Apply(Patch({{std::numeric_limits<std::int64_t>::max(), 0, 0}}, {1}, {}, 100)),
              Errc::kOutOfRange);
}

TEST(Bsdiff40Hostile, NegativeLengths) {
  EXPECT_ERRC(Apply(Patch({{-1, 0, 0}}, {1}, {}, 1)), Errc::kCorrupt);
  EXPECT_ERRC(Apply(Patch({{0, -1, 0}}, {1}, {}, 1)), Errc::kCorrupt);
}

TEST(Bsdiff40Hostile, OldSeekFarOutside) {
  EXPECT_ERRC(Apply(Patch({{0, 0, k2p62 + 1}, {1, 0, 0}}, {1}, {}, 1)), Errc::kOutOfRange);
  EXPECT_ERRC(Apply(Patch({{0, 0, -(k2p62 + 1)}, {1, 0, 0}}, {1}, {}, 1)), Errc::kOutOfRange);
  // Two seeks that are each in range but add up past 2^62.
  EXPECT_ERRC(Apply(Patch({{0, 0, k2p62}, {0, 0, 1}, {1, 0, 0}}, {1}, {}, 1)), Errc::kOutOfRange);
  // Up to 2^62 is allowed: the add then reads zeros, as bspatch does.
  Bytes got;
  ASSERT_TRUE(Apply(Patch({{0, 0, k2p62 - 1}, {1, 0, 0}}, {5}, {}, 1), kOld, 1 << 20, &got).ok());
  EXPECT_EQ(got, Bytes{5});
}

TEST(Bsdiff40Hostile, OutputLongerThanNewSize) {
  EXPECT_ERRC(Apply(Patch({{6, 6, 0}}, Bytes(6, 0), Bytes(6, 0), 10)), Errc::kOutOfRange);
  EXPECT_ERRC(Apply(Patch({{6, 0, 0}, {6, 0, 0}}, Bytes(12, 0), {}, 10)), Errc::kOutOfRange);
}

TEST(Bsdiff40Hostile, EndlessTriplesThatWriteNothingAreRefused) {
  // A million no-op triples compress to a few hundred bytes of control stream.
  const std::vector<Triple> idle(1'000'000, Triple{0, 0, 0});
  EXPECT_ERRC(Apply(Patch(idle, {1}, {}, 1)), Errc::kCorrupt);
  // A short run (bsdiff's leading seek, and then some) is still fine.
  std::vector<Triple> ok(16, Triple{0, 0, 1});
  ok.push_back({1, 0, 0});
  Bytes got;
  EXPECT_TRUE(Apply(Patch(ok, {1}, {}, 1), kOld, 1 << 20, &got).ok());
}

TEST(Bsdiff40Hostile, NewSizeAboveLimit) {
  EXPECT_ERRC(Apply(Patch({{10, 0, 0}}, Bytes(10, 0), {}, 10), kOld, 9), Errc::kTooLarge);
}

TEST(Bsdiff40Hostile, DiffStreamBomb) {
  const Bytes zeros(20 << 20, 0);  // 20 MiB of zeros compress to a few hundred bytes
  const Bytes p = Assemble(Bz(Raw({{16, 0, 0}})), Bz(zeros), Bz({}), 16);
  EXPECT_LT(p.size(), 2000u);
  EXPECT_ERRC(Apply(p), Errc::kDecompress);
}

TEST(Bsdiff40Hostile, GarbageInStreams) {
  const Bytes garbage = {'n', 'o', 't', ' ', 'b', 'z', 'i', 'p', '2', 0, 1, 2, 3, 4, 5, 6};
  EXPECT_ERRC(Apply(Assemble(Bz(Raw({{4, 0, 0}})), garbage, Bz({}), 4)), Errc::kDecompress);
  EXPECT_ERRC(Apply(Assemble(garbage, Bz(Bytes(4, 0)), Bz({}), 4)), Errc::kDecompress);
  // A valid stream header followed by flipped block data: CRC or block errors.
  Bytes diff = Bz(Bytes(4000, 3));
  for (std::size_t i = 10; i < diff.size() - 4; i += 3) diff[i] ^= 0xff;
  EXPECT_ERRC(Apply(Assemble(Bz(Raw({{4000, 0, 0}})), diff, Bz({}), 4000)), Errc::kDecompress);
}

TEST(Bsdiff40Hostile, StreamsMustEndExactly) {
  // Controls stop short of new_size: the control stream ends early.
  EXPECT_ERRC(Apply(Patch({{2, 0, 0}}, Bytes(2, 0), {}, 4)), Errc::kCorrupt);
  // The diff stream is shorter than the adds.
  EXPECT_ERRC(Apply(Patch({{4, 0, 0}}, Bytes(2, 0), {}, 4)), Errc::kCorrupt);
  // Unused decompressed data in the extra stream.
  EXPECT_ERRC(Apply(Patch({{4, 0, 0}}, Bytes(4, 0), Bytes(3, 0), 4)), Errc::kDecompress);
  // Raw bytes after the extra stream's end marker.
  Bytes p = Patch({{4, 0, 0}}, Bytes(4, 0), {}, 4);
  p.push_back(0);
  EXPECT_ERRC(Apply(p), Errc::kCorrupt);
}

}  // namespace
}  // namespace uplift::delta
