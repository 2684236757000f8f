// Random-access verified streaming of payload ranges (BundleReader::StreamPayload), the resumable
// download path, and the zstd frames the writer cuts so that decoding can resume too.
#include <gtest/gtest.h>
#include <zstd.h>

#include "bundle_test_support.hpp"
#include "uplift/base/range_source.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::format {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

void ExpectError(const Status& st, Errc code) {
  ASSERT_FALSE(st.ok()) << "expected error " << static_cast<int>(code);
  EXPECT_TRUE(st.error().Is(code))
      << "got " << st.error().domain() << ":" << st.error().code() << " " << st.error().message();
}

// Counts re-reads and passes them on.
class CountingRangeSource final : public RangeSource {
 public:
  explicit CountingRangeSource(ByteView data) : inner_(data) {}
  Result<std::unique_ptr<ByteSource>> OpenRange(std::uint64_t begin, std::uint64_t end) override {
    return inner_.OpenRange(begin, end);
  }
  Status Reread(std::uint64_t offset, MutableByteView buf) override {
    rereads.emplace_back(offset, buf.size());
    return inner_.Reread(offset, buf);
  }
  std::string validator() const override { return inner_.validator(); }
  std::vector<std::pair<std::uint64_t, std::size_t>> rereads;

 private:
  MemoryRangeSource inner_;
};

class StreamPayloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BundleSpec spec = BasicSpec();
    // Unaligned end, compressed (incompressible, so several chunks), and chunk-aligned end.
    spec.payloads.push_back(MemoryPayload("rootfs", std::make_shared<Bytes>(Pattern(50'000, 1))));
    spec.payloads.push_back(
        MemoryPayload("app", std::make_shared<Bytes>(Pattern(30'000, 2)), Compression::kZstd));
    spec.payloads.push_back(MemoryPayload("data", std::make_shared<Bytes>(Pattern(3 * 4096, 3))));
    bundle_ = Build(spec, {&key_});
    ASSERT_FALSE(bundle_.empty());

    MemorySource full(bundle_);
    auto r = BundleReader::Open(full, Strict(trust_));
    ASSERT_TRUE(r.ok()) << r.error().message();
    for (std::size_t i = 0; i < 3; ++i) {
      MemorySink sink;
      ASSERT_TRUE(r->ReadPayload(sink).ok());
      stored_.push_back(sink.Take());
    }
    // As the agent does after a restart: a reader from header..chunk index only.
    const std::uint64_t head = r->PayloadOffset(0);
    MemorySource head_only(ByteView(bundle_).first(static_cast<std::size_t>(head)));
    auto h = BundleReader::Open(head_only, Strict(trust_));
    ASSERT_TRUE(h.ok()) << h.error().message();
    reader_.emplace(std::move(h).value());
  }

  // Streams [begin, end) of payload i from a stream over exactly its chunk window of `bytes`.
  Status Stream(std::size_t i, std::uint64_t begin, std::uint64_t end, ByteView bytes, Bytes* out,
                const ChunkRefetch& refetch = {}) {
    const auto [from, to] = reader_->ChunkWindow(i, begin, end);
    MemoryRangeSource ranges(bytes);
    UPLIFT_ASSIGN(auto src, ranges.OpenRange(from, to));
    MemorySink sink;
    const Status st = reader_->StreamPayload(i, begin, end, *src, sink, refetch);
    *out = sink.Take();
    return st;
  }

  Bytes Slice(std::size_t i, std::uint64_t begin, std::uint64_t end) const {
    const Bytes& s = stored_[i];
    end = std::min<std::uint64_t>(end, s.size());
    return Bytes(s.begin() + static_cast<std::ptrdiff_t>(begin),
                 s.begin() + static_cast<std::ptrdiff_t>(end));
  }

  crypto::PrivateKey key_ = NewKey();
  TrustStore trust_ = TrustOf({&key_});
  Bytes bundle_;
  std::vector<Bytes> stored_;
  std::optional<BundleReader> reader_;
};

TEST_F(StreamPayloadTest, OffsetsAndWindows) {
  const BundleHeader& h = reader_->header();
  const std::uint64_t data_start =
      48 + std::uint64_t{h.manifest_size} + h.signatures_size + h.chunk_index_size;
  EXPECT_EQ(reader_->PayloadOffset(0), data_start);
  EXPECT_EQ(reader_->PayloadOffset(1), data_start + 50'000);
  EXPECT_EQ(reader_->PayloadOffset(2), data_start + 50'000 + stored_[1].size());
  EXPECT_EQ(reader_->PayloadOffset(3), bundle_.size());
  EXPECT_EQ(reader_->PayloadOffset(99), bundle_.size());
  const std::uint64_t p0 = data_start;
  using W = std::pair<std::uint64_t, std::uint64_t>;
  EXPECT_EQ(reader_->ChunkWindow(0, 0, kToEnd), (W{p0, p0 + 50'000}));
  EXPECT_EQ(reader_->ChunkWindow(0, 4095, 4097), (W{p0, p0 + 8192}));
  EXPECT_EQ(reader_->ChunkWindow(0, 4096, 8192), (W{p0 + 4096, p0 + 8192}));
  EXPECT_EQ(reader_->ChunkWindow(0, 49'200, 60'000), (W{p0 + 49'152, p0 + 50'000}));
  EXPECT_EQ(reader_->ChunkWindow(0, 49'000, 49'153), (W{p0 + 45'056, p0 + 50'000}));
  EXPECT_EQ(reader_->ChunkWindow(0, 5000, 5000), (W{p0 + 4096, p0 + 4096}));
  EXPECT_EQ(reader_->ChunkWindow(3, 0, 10), (W{bundle_.size(), bundle_.size()}));
  const std::uint64_t p2 = reader_->PayloadOffset(2);
  EXPECT_EQ(reader_->ChunkWindow(2, 1, kToEnd), (W{p2, p2 + 3 * 4096}));
}

TEST_F(StreamPayloadTest, FullRangeEqualsReadPayload) {
  for (std::size_t i = 0; i < 3; ++i) {
    Bytes out;
    const Status st = Stream(i, 0, kToEnd, bundle_, &out);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error().message();
    EXPECT_EQ(out, stored_[i]) << i;
  }
  // The stored bytes of the zstd payload decode to its image, as ReadPayloadImage's would.
  MemorySink image;
  ZstdDecompressSink d(image, 30'000);
  ASSERT_TRUE(d.Write(stored_[1]).ok());
  ASSERT_TRUE(d.Finish().ok());
  EXPECT_EQ(image.bytes(), Pattern(30'000, 2));
}

TEST_F(StreamPayloadTest, UnalignedRanges) {
  const std::uint64_t size = stored_[0].size();
  const std::vector<std::uint64_t> points = {0,     1,      4095,     4096, 4097,    10'000,
                                             12288, 45'000, size - 1, size, size + 9};
  for (std::uint64_t b : points) {
    for (std::uint64_t e : points) {
      if (b > e || b > size) continue;
      Bytes out;
      // The stream holds exactly the chunk window: reading a byte more would be kTruncated.
      const Status st = Stream(0, b, e, bundle_, &out);
      ASSERT_TRUE(st.ok()) << b << ".." << e << ": " << st.error().message();
      EXPECT_EQ(out, Slice(0, b, e)) << b << ".." << e;
    }
  }
}

TEST_F(StreamPayloadTest, ConsecutivePayloadsFromOneStream) {
  // Each window ends where the next payload starts: one stream serves them all.
  MemoryRangeSource ranges(bundle_);
  auto src = ranges.OpenRange(reader_->PayloadOffset(0), kToEnd);
  ASSERT_TRUE(src.ok());
  for (std::size_t i = 0; i < 3; ++i) {
    MemorySink sink;
    const Status st = reader_->StreamPayload(i, 0, kToEnd, **src, sink);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error().message();
    EXPECT_EQ(sink.bytes(), stored_[i]) << i;
  }
  std::uint8_t extra = 0;
  EXPECT_EQ(*(*src)->Read(MutableByteView(&extra, 1)), 0u);  // read to the end, not beyond
}

TEST_F(StreamPayloadTest, SequentialPositionIsUntouched) {
  MemorySource full(bundle_);
  auto r = BundleReader::Open(full, Strict(trust_));
  ASSERT_TRUE(r.ok());
  Bytes out;
  MemoryRangeSource ranges(bundle_);
  auto src = ranges.OpenRange(r->PayloadOffset(2), kToEnd);
  MemorySink sink;
  ASSERT_TRUE(r->StreamPayload(2, 0, kToEnd, **src, sink).ok());
  EXPECT_EQ(r->next_payload(), 0u);
  for (std::size_t i = 0; i < 3; ++i) {
    MemorySink s;
    ASSERT_TRUE(r->ReadPayload(s).ok()) << i;
    EXPECT_EQ(s.bytes(), stored_[i]);
  }
  EXPECT_TRUE(r->Finish().ok());
}

TEST_F(StreamPayloadTest, FlippedByteIsRereadAlone) {
  // Byte 5000 of payload 0 (its chunk 1) arrives flipped; the origin still has the right bytes.
  Bytes bad = bundle_;
  bad[static_cast<std::size_t>(reader_->PayloadOffset(0)) + 5000] ^= 0x40;
  CountingRangeSource origin(bundle_);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> told;
  ChunkRefetch refetch;
  refetch.source = &origin;
  refetch.on_refetch = [&](std::uint64_t chunk, std::uint64_t bytes) {
    told.emplace_back(chunk, bytes);
  };
  Bytes out;
  const Status st = Stream(0, 100, 20'000, bad, &out, refetch);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(out, Slice(0, 100, 20'000));
  EXPECT_EQ(told, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{1, 4096}}));
  ASSERT_EQ(origin.rereads.size(), 1u);
  EXPECT_EQ(origin.rereads[0].first, reader_->PayloadOffset(0) + 4096);
  EXPECT_EQ(origin.rereads[0].second, 4096u);

  // The short last chunk of the compressed payload too.
  Bytes bad_tail = bundle_;
  bad_tail[static_cast<std::size_t>(reader_->PayloadOffset(2)) - 1] ^= 1;
  told.clear();
  ASSERT_TRUE(Stream(1, 0, kToEnd, bad_tail, &out, refetch).ok());
  EXPECT_EQ(out, stored_[1]);
  const std::uint64_t last = (stored_[1].size() - 1) / 4096;
  EXPECT_EQ(told, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                      {last, stored_[1].size() - last * 4096}}));
}

TEST_F(StreamPayloadTest, AlwaysBadSourceFailsAfterMaxAttempts) {
  Bytes bad = bundle_;
  bad[static_cast<std::size_t>(reader_->PayloadOffset(0)) + 9000] ^= 1;  // chunk 2
  for (int attempts : {1, 3, 5}) {
    CountingRangeSource origin(bad);  // serves the same wrong bytes every time
    int told = 0;
    ChunkRefetch refetch;
    refetch.source = &origin;
    refetch.max_attempts = attempts;
    refetch.on_refetch = [&](std::uint64_t chunk, std::uint64_t) {
      EXPECT_EQ(chunk, 2u);
      ++told;
    };
    Bytes out;
    const Status st = Stream(0, 0, kToEnd, bad, &out, refetch);
    ExpectError(st, Errc::kHashMismatch);
    EXPECT_NE(st.error().message().find("\"rootfs\" chunk 2"), std::string::npos)
        << st.error().message();
    EXPECT_EQ(origin.rereads.size(), static_cast<std::size_t>(attempts));
    EXPECT_EQ(told, attempts);
    EXPECT_EQ(out, Slice(0, 0, 8192)) << "only the verified chunks before it were passed on";
  }
  // Without a refetch source the first mismatch fails at once.
  Bytes out;
  ExpectError(Stream(0, 0, kToEnd, bad, &out), Errc::kHashMismatch);
  EXPECT_EQ(out.size(), 8192u);
}

TEST_F(StreamPayloadTest, FailingRereadFailsWithItsOwnError) {
  Bytes bad = bundle_;
  bad[static_cast<std::size_t>(reader_->PayloadOffset(0)) + 9000] ^= 1;
  // An origin that ends before the chunk: its Reread reports the short read.
  const Bytes cut(bundle_.begin(),
                  bundle_.begin() + static_cast<std::ptrdiff_t>(reader_->PayloadOffset(0) + 8192));
  MemoryRangeSource origin(cut);
  ChunkRefetch refetch;
  refetch.source = &origin;
  Bytes out;
  const Status st = Stream(0, 0, kToEnd, bad, &out, refetch);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(base::Errc::kUnexpectedEof)) << st.error().message();
}

TEST_F(StreamPayloadTest, TruncatedSource) {
  const auto [from, to] = reader_->ChunkWindow(0, 3000, 30'000);
  MemoryRangeSource ranges(bundle_);
  for (std::uint64_t cut : {from, from + 1, from + 4096, to - 1}) {
    auto src = ranges.OpenRange(from, cut);
    MemorySink sink;
    ExpectError(reader_->StreamPayload(0, 3000, 30'000, **src, sink), Errc::kTruncated);
    // Whole verified chunks only.
    EXPECT_EQ(sink.bytes(),
              Slice(0, 3000, std::max<std::uint64_t>((cut - from) / 4096 * 4096, 3000)))
        << cut;
  }
}

TEST_F(StreamPayloadTest, BadArguments) {
  MemorySource none(ByteView{});
  MemorySink sink;
  const auto invalid = [](const Status& st) {
    return !st.ok() && st.error().Is(base::Errc::kInvalidArgument);
  };
  EXPECT_TRUE(invalid(reader_->StreamPayload(3, 0, 10, none, sink)));
  EXPECT_TRUE(invalid(reader_->StreamPayload(0, 10, 9, none, sink)));
  EXPECT_TRUE(invalid(reader_->StreamPayload(0, 50'001, kToEnd, none, sink)));
  // Empty ranges read nothing.
  EXPECT_TRUE(reader_->StreamPayload(0, 50'000, kToEnd, none, sink).ok());
  EXPECT_TRUE(reader_->StreamPayload(0, 7, 7, none, sink).ok());
  EXPECT_TRUE(sink.bytes().empty());
}

// --- zstd frames in written bundles ---

std::size_t CountFrames(ByteView z) {
  std::size_t frames = 0;
  while (!z.empty()) {
    const std::size_t n = ZSTD_findFrameCompressedSize(z.data(), z.size());
    if (ZSTD_isError(n)) {
      ADD_FAILURE() << ZSTD_getErrorName(n);
      return frames;
    }
    ++frames;
    z = z.subspan(n);
  }
  return frames;
}

class FramedBundleTest : public ::testing::Test {
 protected:
  // The stored bytes of the single payload of a bundle built from `in`, checked on the way.
  Bytes StoredOf(PayloadInput in, const Bytes& image) {
    BundleSpec spec = BasicSpec();
    spec.payloads.push_back(std::move(in));
    const Bytes b = Build(spec, {&key_});
    Bytes decoded;
    EXPECT_TRUE(ReadAll(b, Strict(trust_), &decoded).ok());
    EXPECT_EQ(decoded, image);
    MemorySource src(b);
    auto r = BundleReader::Open(src, Strict(trust_));
    MemorySink stored;
    EXPECT_TRUE(r.ok() && r->ReadPayload(stored).ok());
    return stored.Take();
  }
  crypto::PrivateKey key_ = NewKey();
  TrustStore trust_ = TrustOf({&key_});
};

TEST_F(FramedBundleTest, WriterCutsFramesOfTheConfiguredSize) {
  auto image = std::make_shared<Bytes>(Pattern(300'000));
  for (auto [frame, frames] :
       {std::pair<std::uint64_t, std::size_t>{64 * 1024, 5}, {100'000, 3}, {0, 1}, {1 << 20, 1}}) {
    auto in = MemoryPayload("fw", image, Compression::kZstd);
    in.zstd_frame_bytes = frame;
    EXPECT_EQ(CountFrames(StoredOf(in, *image)), frames) << frame;
  }
}

TEST_F(FramedBundleTest, DefaultFramesAre16MiB) {
  EXPECT_EQ(PayloadInput{}.zstd_frame_bytes, 16u << 20);
  // Just past one default frame: two frames. Low-entropy bytes at level 1 keep the test fast.
  auto image = std::make_shared<Bytes>((16u << 20) + 1000);
  for (std::size_t i = 0; i < image->size(); ++i) {
    (*image)[i] = static_cast<std::uint8_t>((i / 4096) ^ (i % 7));
  }
  auto in = MemoryPayload("fw", image, Compression::kZstd, 64 * 1024);
  in.zstd_level = 1;
  EXPECT_EQ(CountFrames(StoredOf(in, *image)), 2u);
}

}  // namespace
}  // namespace uplift::format
