// Round trips through CreateBsdiff40 and ApplyBsdiff40 in one process, on synthetic images.
#include "uplift/delta/bsdiff40.hpp"

#include <gtest/gtest.h>

#include <random>

#include "test_images.hpp"
#include "uplift/delta/diff.hpp"
namespace uplift::delta {
namespace {

using testing::BinaryLike;
using testing::Random;

Bytes Diff(const Bytes& old_image, const Bytes& new_image) {
  MemorySink patch;
  const Status st = CreateBsdiff40(old_image, new_image, patch);
  EXPECT_TRUE(st.ok()) << st.error().message();
  return patch.Take();
}

Result<Bytes> Apply(const Bytes& old_image, const Bytes& patch, std::uint64_t max = 1u << 30) {
  MemoryRandomAccess o(old_image), p(patch);
  MemorySink out;
  UPLIFT_TRY(ApplyBsdiff40(o, p, out, max));
  return out.Take();
}

void ExpectRoundTrip(const Bytes& old_image, const Bytes& new_image) {
  const Bytes patch = Diff(old_image, new_image);
  ASSERT_GE(patch.size(), kBsdiff40HeaderSize);
  EXPECT_EQ(AsChars(ByteView(patch).first(8)), kBsdiff40Magic);
  auto got = Apply(old_image, patch);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_TRUE(*got == new_image) << "sizes " << got->size() << " vs " << new_image.size();
}

TEST(SignMagnitude, RoundTripsAndMatchesBsdiffLayout) {
  for (std::int64_t v :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{300}, std::int64_t{-300},
        std::numeric_limits<std::int64_t>::max(), -std::numeric_limits<std::int64_t>::max()}) {
    std::uint8_t b[8];
    StoreSignMagnitude64(b, v);
    EXPECT_EQ(LoadSignMagnitude64(b), v);
  }
  std::uint8_t b[8];
  StoreSignMagnitude64(b, -2);
  const std::uint8_t want[8] = {2, 0, 0, 0, 0, 0, 0, 0x80};
  EXPECT_EQ(0, std::memcmp(b, want, 8));
}

TEST(Bsdiff40, EmptyOld) { ExpectRoundTrip({}, Random(5000, 1)); }
TEST(Bsdiff40, EmptyNew) { ExpectRoundTrip(Random(5000, 2), {}); }
TEST(Bsdiff40, BothEmpty) { ExpectRoundTrip({}, {}); }
TEST(Bsdiff40, Identical) {
  const Bytes a = BinaryLike(100000, 3);
  ExpectRoundTrip(a, a);
  EXPECT_LT(Diff(a, a).size(), 400u);
}
TEST(Bsdiff40, Random) { ExpectRoundTrip(Random(20000, 4), Random(30000, 5)); }
TEST(Bsdiff40, OneByte) { ExpectRoundTrip({7}, {9}); }

TEST(Bsdiff40, InsertedAndDeletedBlocks) {
  const Bytes old_image = BinaryLike(200000, 6);
  Bytes new_image = old_image;
  const Bytes ins = Random(3000, 7);
  new_image.insert(new_image.begin() + 50000, ins.begin(), ins.end());
  new_image.erase(new_image.begin() + 120000, new_image.begin() + 130000);
  for (std::size_t i = 150000; i < new_image.size(); i += 997) new_image[i] ^= 0x5a;
  ExpectRoundTrip(old_image, new_image);
  EXPECT_LT(Diff(old_image, new_image).size(), 8000u);
}

TEST(Bsdiff40, ShiftedBinaryLikeMiB) {
  const Bytes old_image = BinaryLike(1 << 20, 8);
  Bytes new_image(old_image.begin() + 4096, old_image.end());
  const Bytes head = Random(4096 + 17, 9);
  new_image.insert(new_image.begin(), head.begin(), head.end());
  // Relocation-like edits: bytes bumped by a constant every few KiB.
  for (std::size_t i = 10000; i < new_image.size(); i += 4099) ++new_image[i];
  ExpectRoundTrip(old_image, new_image);
}

TEST(Bsdiff40, HeaderDescribesPatch) {
  const Bytes old_image = BinaryLike(10000, 10);
  const Bytes new_image = BinaryLike(12000, 11);
  const Bytes patch = Diff(old_image, new_image);
  MemoryRandomAccess p(patch);
  auto h = ReadBsdiff40Header(p);
  ASSERT_TRUE(h.ok()) << h.error().message();
  EXPECT_EQ(h->new_size, new_image.size());
  EXPECT_LE(kBsdiff40HeaderSize + h->ctrl_len + h->diff_len, patch.size());
}

TEST(RandomAccess, MemoryReadsClampAtEnd) {
  const Bytes data = {1, 2, 3, 4};
  MemoryRandomAccess m(data);
  std::uint8_t buf[8] = {};
  auto n = m.ReadAt(2, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(buf[1], 4);
  n = m.ReadAt(10, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST(RandomAccess, FileReadsAndMissingFile) {
  auto f = RandomAccessFile::Open("/usr/bin/cp");
  ASSERT_TRUE(f.ok()) << f.error().message();
  std::uint8_t buf[4];
  auto n = f->ReadAt(0, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(buf[1], 'E');  // ELF
  n = f->ReadAt(f->size() - 1, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  auto missing = RandomAccessFile::Open("/nonexistent/uplift");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().Is(base::Errc::kNotFound));
}

}  // namespace
}  // namespace uplift::delta
