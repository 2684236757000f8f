// Native delta format: round trips, restart points, and hostile patches (truncation, bit flips,
// wrong source, forged headers) against the bounded streaming applier.
#include "uplift/delta/native.hpp"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>

#include "native_format.hpp"
#include "test_images.hpp"
#include "uplift/crypto/crc.hpp"
#include "uplift/delta/diff.hpp"
namespace uplift::delta {
namespace {

using testing::BinaryLike;

// old with edits: a few changed bytes, an insertion, a deletion, a moved block.
Bytes Edited(const Bytes& old_image, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b = old_image;
  for (int i = 0; i < 50 && !b.empty(); ++i)
    b[rng() % b.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
  const Bytes ins = BinaryLike(3000, seed + 1);
  b.insert(b.begin() + static_cast<std::ptrdiff_t>(b.size() / 3), ins.begin(), ins.end());
  if (b.size() > 20000) b.erase(b.begin() + 10000, b.begin() + 14000);
  return b;
}

Bytes Create(const Bytes& old_image, const Bytes& new_image, NativeCreateOptions opt = {}) {
  MemorySink patch;
  auto st = CreateNative(old_image, new_image, patch, opt);
  EXPECT_TRUE(st.ok()) << st.error().message();
  return patch.Take();
}

// Feeds the patch in pieces of `piece` bytes.
Result<Bytes> Apply(const Bytes& old_image, const Bytes& patch, std::size_t piece = 1 << 20,
                    NativeApplyOptions opt = {}) {
  MemoryRandomAccess old_ra(old_image);
  MemorySink out;
  NativeApplier applier(old_ra, out, opt);
  for (std::size_t i = 0; i < patch.size(); i += piece) {
    UPLIFT_TRY(applier.Write(ByteView(patch).subspan(i, std::min(piece, patch.size() - i))));
  }
  UPLIFT_TRY(applier.Finish());
  return out.Take();
}

TEST(NativeDelta, RoundTripsAcrossSegmentsAndPieceSizes) {
  const Bytes old_image = BinaryLike(700 * 1024, 1);
  const Bytes new_image = Edited(old_image, 2);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;  // 11 segments
  opt.threads = 2;
  const Bytes patch = Create(old_image, new_image, opt);
  EXPECT_LT(patch.size(), new_image.size() / 10);
  for (std::size_t piece :
       {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{1} << 20}) {
    auto out = Apply(old_image, patch, piece);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(*out, new_image) << "piece " << piece;
  }
}

TEST(NativeDelta, BothCodecsRoundTrip) {
  const Bytes old_image = BinaryLike(200 * 1024, 21);
  const Bytes new_image = Edited(old_image, 22);
  for (auto [codec, level] :
       {std::pair{NativeCompression::kZstd, 19}, std::pair{NativeCompression::kLzma2, 10},
        std::pair{NativeCompression::kLzma2, 1}}) {
    NativeCreateOptions opt;
    opt.compression = codec;
    opt.level = level;
    const Bytes patch = Create(old_image, new_image, opt);
    auto h = ParseNativeHeader(patch);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->compression, codec == NativeCompression::kZstd ? 1 : 2);
    auto out = Apply(old_image, patch, 333);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(*out, new_image);
  }
}

TEST(NativeDelta, SameOutputWithOneOrManyThreads) {
  const Bytes old_image = BinaryLike(300 * 1024, 3);
  const Bytes new_image = Edited(old_image, 4);
  NativeCreateOptions one, many;
  one.threads = 1;
  many.threads = 4;
  one.segment_size = many.segment_size = 64 * 1024;
  EXPECT_EQ(Create(old_image, new_image, one), Create(old_image, new_image, many));
}

TEST(NativeDelta, RewrittenSegmentsTravelAsTheirOwnBytes) {
  // New content unrelated to the old image: bsdiff's ops would add noise on top of the literal
  // bytes, so each segment falls back to one copy op of its own (compressed) bytes.
  const Bytes old_image = BinaryLike(256 * 1024, 23);
  Bytes new_image = BinaryLike(256 * 1024, 24);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  opt.filter = Filter::kNone;
  MemorySink patch;
  auto stats = CreateNative(old_image, new_image, patch, opt);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->ops, stats->header.segment_count) << "one literal op per segment";
  EXPECT_EQ(stats->diff_bytes, 0u);
  auto out = Apply(old_image, patch.bytes(), 4000);
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(*out, new_image);
}

TEST(NativeDelta, EdgeSizes) {
  const Bytes some = BinaryLike(100000, 5);
  for (const auto& [o, n] : std::vector<std::pair<Bytes, Bytes>>{
           {{}, {}}, {{}, some}, {some, {}}, {Bytes(1, 7), Bytes(1, 8)}, {some, some}}) {
    const Bytes patch = Create(o, n);
    auto out = Apply(o, patch);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(*out, n);
  }
}

TEST(NativeDelta, ForcedFilterRoundTrips) {
  // Random bytes are full of E8/E9 opcodes: the x86 filter rewrites many "operands".
  Bytes old_image(200 * 1024);
  std::mt19937 rng(9);
  for (auto& b : old_image) b = static_cast<std::uint8_t>(rng());
  const Bytes new_image = Edited(old_image, 10);
  for (Filter f : {Filter::kX86, Filter::kArm64}) {
    NativeCreateOptions opt;
    opt.filter = f;
    opt.segment_size = 64 * 1024;
    const Bytes patch = Create(old_image, new_image, opt);
    auto h = ParseNativeHeader(patch);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->filter, f);
    auto out = Apply(old_image, patch, 5000);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(*out, new_image);
  }
}

TEST(NativeDelta, ResumesAtARestartPoint) {
  const Bytes old_image = BinaryLike(500 * 1024, 11);
  const Bytes new_image = Edited(old_image, 12);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  const Bytes patch = Create(old_image, new_image, opt);
  // First attempt: progress after each segment is a restart point.
  MemoryRandomAccess old_ra(old_image);
  MemorySink first;
  NativeApplier a(old_ra, first);
  ASSERT_TRUE(a.Write(ByteView(patch).first(patch.size() / 2)).ok());
  const NativeProgress p = a.progress();
  ASSERT_GT(p.segments_done, 0u);
  EXPECT_EQ(p.new_offset, std::uint64_t{p.segments_done} * opt.segment_size);
  EXPECT_LE(p.patch_offset, patch.size() / 2);
  // Resume: the whole patch again, output only from the restart point.
  NativeApplyOptions ro;
  ro.resume_segment = p.segments_done;
  auto rest = Apply(old_image, patch, 3000, ro);
  ASSERT_TRUE(rest.ok()) << rest.error().message();
  Bytes joined(first.bytes().begin(),
               first.bytes().begin() + static_cast<std::ptrdiff_t>(p.new_offset));
  joined.insert(joined.end(), rest->begin(), rest->end());
  EXPECT_EQ(joined, new_image);
}

// Every restart point of a whole apply, fed in pieces small enough that no Write crosses two
// segment ends (a segment is at least its 48-byte header), plus the output it produced.
std::vector<NativeProgress> RestartPoints(const Bytes& old_image, const Bytes& patch,
                                          Bytes* out_bytes) {
  MemoryRandomAccess old_ra(old_image);
  MemorySink out;
  NativeApplier a(old_ra, out);
  std::vector<NativeProgress> points{NativeProgress{}};
  for (std::size_t i = 0; i < patch.size(); i += 7) {
    EXPECT_TRUE(
        a.Write(ByteView(patch).subspan(i, std::min<std::size_t>(7, patch.size() - i))).ok());
    if (a.progress().segments_done != points.back().segments_done) points.push_back(a.progress());
  }
  EXPECT_TRUE(a.Finish().ok());
  *out_bytes = out.Take();
  return points;
}

// Resumes at `p`: with jump, the header then patch[p.patch_offset..]; without, the whole patch.
// Returns the output and the restart points seen on the way.
Result<Bytes> ResumeAt(const Bytes& old_image, const Bytes& patch, const NativeProgress& p,
                       bool jump, std::vector<NativeProgress>* seen = nullptr) {
  NativeApplyOptions opt;
  opt.resume_segment = p.segments_done;
  Bytes fed = patch;
  if (jump) {
    opt.resume_patch_offset = p.patch_offset;
    fed.assign(patch.begin(), patch.begin() + kNativeHeaderSize);
    fed.insert(fed.end(), patch.begin() + static_cast<std::ptrdiff_t>(p.patch_offset), patch.end());
  }
  MemoryRandomAccess old_ra(old_image);
  MemorySink out;
  NativeApplier a(old_ra, out, opt);
  for (std::size_t i = 0; i < fed.size(); i += 5) {
    UPLIFT_TRY(a.Write(ByteView(fed).subspan(i, std::min<std::size_t>(5, fed.size() - i))));
    if (seen && (seen->empty() || a.progress().segments_done != seen->back().segments_done ||
                 a.progress().patch_offset != seen->back().patch_offset)) {
      seen->push_back(a.progress());
    }
  }
  UPLIFT_TRY(a.Finish());
  return out.Take();
}

TEST(NativeDelta, RestartPointsAreExactPatchOffsets) {
  const Bytes old_image = BinaryLike(500 * 1024, 31);
  const Bytes new_image = Edited(old_image, 32);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  const Bytes patch = Create(old_image, new_image, opt);
  Bytes out;
  const auto points = RestartPoints(old_image, patch, &out);
  ASSERT_EQ(out, new_image);
  const std::uint32_t count = ParseNativeHeader(patch)->segment_count;
  ASSERT_EQ(points.size(), count + 1u);
  for (std::size_t k = 1; k < points.size(); ++k) {
    const NativeProgress& p = points[k];
    EXPECT_EQ(p.segments_done, k);
    EXPECT_EQ(p.new_offset, std::min<std::uint64_t>(k * opt.segment_size, new_image.size()));
    if (k == count) {
      EXPECT_EQ(p.patch_offset, patch.size());
      continue;
    }
    // Segment k's header starts exactly there.
    ASSERT_LT(p.patch_offset + native::kSegmentHeaderSize, patch.size());
    auto seg = native::DecodeSegmentHeader(
        ByteView(patch).subspan(p.patch_offset, native::kSegmentHeaderSize));
    ASSERT_TRUE(seg.ok()) << "restart point " << k << " at " << p.patch_offset << ": "
                          << seg.error().message();
    EXPECT_EQ(seg->index, k);
  }
}

TEST(NativeDelta, ResumesAtEverySegmentBoundaryWithAndWithoutPatchOffset) {
  const Bytes old_image = BinaryLike(500 * 1024, 33);
  const Bytes new_image = Edited(old_image, 34);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;  // 8 segments
  const Bytes patch = Create(old_image, new_image, opt);
  Bytes out;
  const auto points = RestartPoints(old_image, patch, &out);
  ASSERT_GE(points.size(), 8u);
  for (std::size_t k = 1; k < points.size(); ++k) {
    const NativeProgress& p = points[k];
    const Bytes tail(new_image.begin() + static_cast<std::ptrdiff_t>(p.new_offset),
                     new_image.end());
    for (bool jump : {false, true}) {
      std::vector<NativeProgress> seen;
      auto rest = ResumeAt(old_image, patch, p, jump, &seen);
      ASSERT_TRUE(rest.ok()) << "segment " << k << (jump ? " jump: " : ": ")
                             << rest.error().message();
      EXPECT_EQ(*rest, tail) << "segment " << k << (jump ? " jump" : "");
      // The later restart points are the same as in the uninterrupted apply, in whole-patch
      // coordinates (with the jump, the first one seen is the resume point itself).
      std::vector<NativeProgress> later;
      for (const auto& q : seen) {
        if (q.segments_done > k || (jump && q.segments_done == k)) later.push_back(q);
      }
      const std::size_t from = jump ? k : k + 1;
      ASSERT_EQ(later.size(), points.size() - from) << "segment " << k << (jump ? " jump" : "");
      for (std::size_t i = 0; i < later.size(); ++i) {
        EXPECT_EQ(later[i].segments_done, points[from + i].segments_done);
        EXPECT_EQ(later[i].new_offset, points[from + i].new_offset);
        EXPECT_EQ(later[i].patch_offset, points[from + i].patch_offset)
            << "segment " << k << " point " << i;
      }
    }
  }
}

TEST(NativeDeltaHostile, WrongResumeOffsetFailsCleanly) {
  const Bytes old_image = BinaryLike(300 * 1024, 35);
  const Bytes new_image = Edited(old_image, 36);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  const Bytes patch = Create(old_image, new_image, opt);
  Bytes out;
  const auto points = RestartPoints(old_image, patch, &out);
  ASSERT_GE(points.size(), 5u);
  const NativeProgress p = points[2];
  std::vector<std::uint64_t> wrong = {1,
                                      kNativeHeaderSize - 1,
                                      kNativeHeaderSize,  // segment 0's start
                                      kNativeHeaderSize + 2 * native::kSegmentHeaderSize - 1,
                                      points[1].patch_offset,  // a neighbour's start
                                      points[3].patch_offset,
                                      p.patch_offset - 1,
                                      p.patch_offset + 1,
                                      p.patch_offset + 48,
                                      patch.size() - 1,
                                      std::uint64_t{1} << 40,
                                      ~std::uint64_t{0}};
  for (std::uint64_t off = p.patch_offset + 2; off < p.patch_offset + 400; off += 13)
    wrong.push_back(off);
  for (std::uint64_t off : wrong) {
    NativeApplyOptions ro;
    ro.resume_segment = p.segments_done;
    ro.resume_patch_offset = off;
    MemoryRandomAccess old_ra(old_image);
    MemorySink sink;
    NativeApplier a(old_ra, sink, ro);
    Status st = a.Write(ByteView(patch).first(kNativeHeaderSize));
    if (st.ok() && off < patch.size()) st = a.Write(ByteView(patch).subspan(off));
    if (st.ok()) st = a.Finish();
    ASSERT_FALSE(st.ok()) << "offset " << off;
    // Less than a segment header left to feed: the patch can only be found short, at Finish.
    const bool short_tail = off < patch.size() && patch.size() - off < native::kSegmentHeaderSize;
    EXPECT_TRUE(st.error().Is(short_tail ? Errc::kTruncated : Errc::kCorrupt))
        << off << ": " << st.error().message();
    EXPECT_TRUE(sink.bytes().empty()) << off;
  }
  // Set without a segment to resume at: a caller's mistake.
  NativeApplyOptions ro;
  ro.resume_patch_offset = p.patch_offset;
  auto bad = Apply(old_image, patch, 1 << 20, ro);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().Is(base::Errc::kInvalidArgument)) << bad.error().message();
}

TEST(NativeDelta, ResumeWithPatchOffsetAfterTheLastSegment) {
  const Bytes old_image = BinaryLike(200 * 1024, 37);
  const Bytes new_image = Edited(old_image, 38);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  const Bytes patch = Create(old_image, new_image, opt);
  Bytes out;
  const auto points = RestartPoints(old_image, patch, &out);
  const NativeProgress& end = points.back();
  ASSERT_EQ(end.patch_offset, patch.size());
  auto rest = ResumeAt(old_image, patch, end, true);
  ASSERT_TRUE(rest.ok()) << rest.error().message();
  EXPECT_TRUE(rest->empty());
}

TEST(NativeDelta, WrongSourceRefusedBeforeAnyOutput) {
  const Bytes old_image = BinaryLike(100 * 1024, 13);
  const Bytes new_image = Edited(old_image, 14);
  const Bytes patch = Create(old_image, new_image);
  Bytes other = old_image;
  other[5000] ^= 1;
  MemoryRandomAccess old_ra(other);
  MemorySink out;
  NativeApplier a(old_ra, out);
  const Status st = a.Write(patch);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kSourceMismatch)) << st.error().message();
  EXPECT_TRUE(out.bytes().empty());
  // A shorter source is refused too; a longer one (a slot) is fine: only the prefix counts.
  Bytes slot = old_image;
  slot.resize(old_image.size() + 4096, 0xff);
  auto ok = Apply(slot, patch);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(*ok, new_image);
  Bytes shorter(old_image.begin(), old_image.end() - 1);
  auto bad = Apply(shorter, patch);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().Is(Errc::kSourceMismatch));
}

TEST(NativeDelta, EveryTruncationFailsCleanly) {
  const Bytes old_image = BinaryLike(150 * 1024, 15);
  const Bytes new_image = Edited(old_image, 16);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  const Bytes patch = Create(old_image, new_image, opt);
  for (std::size_t cut = 0; cut < patch.size(); cut += (cut < 400 ? 1 : 97)) {
    auto out = Apply(old_image,
                     Bytes(patch.begin(), patch.begin() + static_cast<std::ptrdiff_t>(cut)), 1000);
    ASSERT_FALSE(out.ok()) << "cut at " << cut;
    EXPECT_TRUE(out.error().Is(Errc::kTruncated)) << cut << ": " << out.error().message();
  }
  Bytes longer = patch;
  longer.push_back(0);
  auto out = Apply(old_image, longer);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.error().Is(Errc::kCorrupt));
}

TEST(NativeDelta, EveryBitFlipIsDetected) {
  const Bytes old_image = BinaryLike(80 * 1024, 17);
  const Bytes new_image = Edited(old_image, 18);
  NativeCreateOptions opt;
  opt.segment_size = 64 * 1024;
  const Bytes patch = Create(old_image, new_image, opt);
  std::size_t detected = 0, tried = 0;
  for (std::size_t i = 0; i < patch.size(); i += (i < 400 ? 1 : 3)) {
    ++tried;
    Bytes bad = patch;
    bad[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    MemoryRandomAccess old_ra(old_image);
    MemorySink out;
    NativeApplier a(old_ra, out);
    Status st = a.Write(bad);
    if (st.ok()) st = a.Finish();
    // Either refused, or (a flip zstd and the CRCs cannot see, e.g. in an unused header bit) the
    // output is still exactly right. Never wrong output, never more than new_size bytes.
    EXPECT_LE(out.bytes().size(), new_image.size());
    if (st.ok()) {
      EXPECT_EQ(out.bytes(), new_image) << "flip at " << i;
    } else {
      ++detected;
    }
  }
  // A few zstd frame-header bits do not influence decoding; everything else is checked.
  EXPECT_GE(detected * 100, tried * 99);
}

// Builds a patch by hand from ops and raw streams (to forge what the generator never emits).
Bytes Forge(const Bytes& old_image, std::uint64_t new_size, const std::vector<native::Op>& ops,
            const Bytes& diff, const Bytes& extra, std::uint64_t old_start = 0,
            std::uint32_t ctrl_raw_override = 0) {
  NativeHeader h;
  h.old_size = old_image.size();
  h.new_size = new_size;
  h.old_sha256 = crypto::Sha256::Of(old_image);
  h.compression = native::kCompressionZstd;
  h.segment_size = 64 * 1024;
  h.segment_count = static_cast<std::uint32_t>((new_size + h.segment_size - 1) / h.segment_size);
  Bytes ctrl;
  for (const auto& op : ops) native::PutOp(ctrl, op);
  auto z = [](const Bytes& raw) {
    Bytes out(ZSTD_compressBound(raw.size()));
    out.resize(ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3));
    return raw.empty() ? Bytes{} : out;
  };
  native::SegmentHeader s;
  s.new_length = static_cast<std::uint32_t>(new_size);
  s.old_start = old_start;
  const Bytes zc = z(ctrl), zd = z(diff), ze = z(extra);
  s.ctrl_size = static_cast<std::uint32_t>(zc.size());
  s.ctrl_raw_size = ctrl_raw_override ? ctrl_raw_override : static_cast<std::uint32_t>(ctrl.size());
  s.diff_size = static_cast<std::uint32_t>(zd.size());
  s.extra_size = static_cast<std::uint32_t>(ze.size());
  s.op_count = static_cast<std::uint32_t>(ops.size());
  Bytes patch;
  const auto hb = native::EncodeHeader(h);
  patch.insert(patch.end(), hb.begin(), hb.end());
  const auto sb = native::EncodeSegmentHeader(s);
  patch.insert(patch.end(), sb.begin(), sb.end());
  for (const Bytes* b : {&zc, &zd, &ze}) patch.insert(patch.end(), b->begin(), b->end());
  return patch;
}

Error ApplyError(const Bytes& old_image, const Bytes& patch) {
  auto out = Apply(old_image, patch);
  EXPECT_FALSE(out.ok());
  return out.ok() ? Error(base::Errc::kInvalidArgument, "applied") : out.error();
}

TEST(NativeDeltaHostile, ForgedOpsAreRefused) {
  const Bytes old_image = BinaryLike(1000, 19);
  // Reads past the old image.
  EXPECT_TRUE(ApplyError(old_image, Forge(old_image, 100, {{100, 0, 0}}, Bytes(100), {}, 950))
                  .Is(Errc::kOutOfRange));
  // Seeks before the start, then reads.
  EXPECT_TRUE(ApplyError(old_image, Forge(old_image, 20, {{10, 0, -50}, {10, 0, 0}}, Bytes(20), {}))
                  .Is(Errc::kOutOfRange));
  // Ops produce more than the segment.
  EXPECT_TRUE(ApplyError(old_image, Forge(old_image, 10, {{5, 10, 0}}, Bytes(5), Bytes(10)))
                  .Is(Errc::kOutOfRange));
  // Ops produce less than the segment.
  EXPECT_TRUE(ApplyError(old_image, Forge(old_image, 10, {{5, 2, 0}}, Bytes(5), Bytes(2)))
                  .Is(Errc::kCorrupt));
  // Huge lengths that would overflow.
  EXPECT_TRUE(
      ApplyError(old_image, Forge(old_image, 10, {{~0ull, 11, 0}}, {}, {})).Is(Errc::kOutOfRange));
  // A diff stream that expands past what the ops use (a bomb) stops at the first extra byte.
  EXPECT_TRUE(ApplyError(old_image, Forge(old_image, 10, {{5, 5, 0}}, Bytes(1 << 20), Bytes(5)))
                  .Is(Errc::kDecompress));
  // Declared control size smaller than the real stream.
  EXPECT_TRUE(ApplyError(old_image, Forge(old_image, 10, {{5, 5, 0}}, Bytes(5), Bytes(5), 0, 1))
                  .Is(Errc::kDecompress));
}

TEST(NativeDeltaHostile, ForgedHeadersAreRefused) {
  const Bytes old_image = BinaryLike(1000, 20);
  Bytes patch = Forge(old_image, 10, {{5, 5, 0}}, Bytes(5), Bytes(5));
  ASSERT_TRUE(Apply(old_image, patch).ok() == false);  // new_sha256 is zero in the forgery
  auto reseal = [](Bytes p, std::size_t at, std::uint8_t v) {
    p[at] = v;
    StoreLe32(p.data() + 152, crypto::Crc32c(ByteView(p.data(), 152)));
    return p;
  };
  EXPECT_TRUE(ApplyError(old_image, reseal(patch, 10, 9)).Is(Errc::kCorrupt));  // unknown filter
  EXPECT_TRUE(
      ApplyError(old_image, reseal(patch, 11, 3)).Is(Errc::kCorrupt));  // unknown compression
  EXPECT_TRUE(
      ApplyError(old_image, reseal(patch, 14, 0x80)).Is(Errc::kCorrupt));  // segment size 8 MiB+
  EXPECT_TRUE(
      ApplyError(old_image, reseal(patch, 31, 0x01)).Is(Errc::kCorrupt));  // new size vs count
  EXPECT_TRUE(ApplyError(old_image, reseal(patch, 140, 1)).Is(Errc::kCorrupt));  // reserved byte
  Bytes big = reseal(patch, 31, 0x01);
  MemoryRandomAccess old_ra(old_image);
  MemorySink out;
  NativeApplyOptions small;
  small.max_new_size = 5;
  NativeApplier a(old_ra, out, small);
  EXPECT_TRUE(a.Write(patch).error().Is(Errc::kTooLarge));
  EXPECT_TRUE(
      ApplyError(old_image, Bytes{'B', 'S', 'D', 'I', 'F', 'F', '4', '0'}).Is(Errc::kTruncated));
  Bytes not_ours(200, 'x');
  EXPECT_TRUE(ApplyError(old_image, not_ours).Is(Errc::kBadMagic));
}

}  // namespace
}  // namespace uplift::delta
