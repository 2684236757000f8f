#include "uplift/storage/record_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "test_support.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::storage {
namespace {

using testing::Pattern;
using testing::TempDir;

constexpr FlashGeometry kGeo{.size = 64 * 1024, .erase_size = 4096, .page_size = 256};

std::optional<Bytes> LoadOk(RecordStore& s) {
  auto r = s.Load();
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::nullopt;
}

// ---- FileRecordStore

TEST(FileRecordStore, MissingFileLoadsAsNothing) {
  TempDir dir;
  FileRecordStore s(dir.File("journal"));
  EXPECT_EQ(LoadOk(s), std::nullopt);
}

TEST(FileRecordStore, StoresAndReplaces) {
  TempDir dir;
  FileRecordStore s(dir.File("journal"));
  ASSERT_TRUE(s.Store(AsBytes("first")));
  EXPECT_EQ(LoadOk(s), Bytes(AsBytes("first").begin(), AsBytes("first").end()));
  const Bytes big = Pattern(format::kMaxRecordPayload);
  ASSERT_TRUE(s.Store(big));
  EXPECT_EQ(LoadOk(s), big);
  ASSERT_TRUE(s.Store({}));
  EXPECT_EQ(LoadOk(s), Bytes{});
  // The copy carries a sequence number that counts stores, and no temporary is left behind.
  auto raw = ReadFile(dir.File("journal"), 1 << 20);
  ASSERT_TRUE(raw);
  EXPECT_EQ(format::DecodeRecordCopy(*raw)->sequence, 3u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(FileRecordStore, RefusesARecordOverTheLimit) {
  TempDir dir;
  FileRecordStore s(dir.File("journal"));
  const Status st = s.Store(Pattern(format::kMaxRecordPayload + 1));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(base::Errc::kTooLarge));
  EXPECT_EQ(LoadOk(s), std::nullopt);
}

TEST(FileRecordStore, DetectsDamage) {
  TempDir dir;
  const std::string path = dir.File("journal");
  FileRecordStore s(path);
  ASSERT_TRUE(s.Store(AsBytes("state=installing")));
  auto good = ReadFile(path, 1 << 20);
  ASSERT_TRUE(good);
  const auto expect_corrupt = [&](const Bytes& content) {
    ASSERT_TRUE(WriteFileAtomic(path, content));
    auto r = s.Load();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().Is(Errc::kRecordCorrupt)) << r.error().message();
    EXPECT_NE(r.error().message().find(path), std::string::npos);
  };
  Bytes flipped = *good;
  flipped[30] ^= 0x04;
  expect_corrupt(flipped);
  expect_corrupt(Bytes(good->begin(), good->end() - 1));
  Bytes longer = *good;
  longer.push_back(0);
  expect_corrupt(longer);
  expect_corrupt({});
  expect_corrupt(Bytes(format::kRecordHeaderSize + format::kMaxRecordPayload + 1, 0));
  // A damaged file is replaced by the next store.
  ASSERT_TRUE(s.Store(AsBytes("recovered")));
  EXPECT_EQ(LoadOk(s), Bytes(AsBytes("recovered").begin(), AsBytes("recovered").end()));
}

// ---- FlashRecordStore

TEST(FlashRecordStore, ErasedOrZeroedPartitionLoadsAsNothing) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 8192, 16384);
  FlashRecordStore s(*part);
  EXPECT_EQ(LoadOk(s), std::nullopt);
  TempDir dir;
  auto file = CreateFileDevice(dir.File("raw"), 16384);
  ASSERT_TRUE(file);
  FlashRecordStore z(**file);
  EXPECT_EQ(LoadOk(z), std::nullopt);
}

TEST(FlashRecordStore, AlternatesCopiesAndNeverTouchesTheCurrentOne) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 8192, 16384);
  FlashRecordStore s(*part);
  for (std::uint64_t i = 1; i <= 5; ++i) {
    const Bytes before(f.durable().begin(), f.durable().end());
    const Bytes rec = Pattern(100 * i, static_cast<std::uint32_t>(i));
    ASSERT_TRUE(s.Store(rec));
    EXPECT_EQ(LoadOk(s), rec);
    // Odd stores land in the first half, even ones in the second; nothing else changes.
    const std::size_t target = 8192 + (i % 2 == 1 ? 0 : 8192);
    for (std::size_t b = 0; b < f.durable().size(); ++b) {
      if (b < target || b >= target + 8192) {
        ASSERT_EQ(f.durable()[b], before[b]) << i << " " << b;
      }
    }
    const auto copy = format::DecodeRecordCopy(f.durable().subspan(target, 8192));
    ASSERT_TRUE(copy);
    EXPECT_EQ(copy->sequence, i);
  }
  // A fresh store object over the same flash sees the same record.
  FlashRecordStore again(*part);
  EXPECT_EQ(LoadOk(again), Pattern(500, 5));
}

TEST(FlashRecordStore, HigherSequenceWinsAndNeverWraps) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 0, 16384);
  const auto max = std::numeric_limits<std::uint64_t>::max();
  f.LoadDurable(0, format::EncodeRecordCopy(max - 1, AsBytes("newer")));
  f.LoadDurable(8192, format::EncodeRecordCopy(7, AsBytes("older")));
  FlashRecordStore s(*part);
  EXPECT_EQ(AsChars(*LoadOk(s)), "newer");
  ASSERT_TRUE(s.Store(AsBytes("last")));
  EXPECT_EQ(format::DecodeRecordCopy(f.durable().subspan(8192))->sequence, max);
  EXPECT_EQ(AsChars(*LoadOk(s)), "last");
  const Status st = s.Store(AsBytes("one too many"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(base::Errc::kInvalidArgument)) << st.error().message();
  EXPECT_EQ(AsChars(*LoadOk(s)), "last");
}

TEST(FlashRecordStore, DamagedNewestCopyFallsBackToTheOlderOne) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 0, 16384);
  FlashRecordStore s(*part);
  ASSERT_TRUE(s.Store(AsBytes("one")));
  ASSERT_TRUE(s.Store(AsBytes("two")));
  Bytes copy(f.durable().begin() + 8192, f.durable().begin() + 8192 + 256);
  copy[25] ^= 1;
  f.LoadDurable(8192, copy);
  EXPECT_EQ(AsChars(*LoadOk(s)), "one");
  // The next store replaces the damaged copy, keeping "one" intact until it is done.
  ASSERT_TRUE(s.Store(AsBytes("three")));
  EXPECT_EQ(AsChars(*LoadOk(s)), "three");
  EXPECT_EQ(AsChars(format::DecodeRecordCopy(f.durable())->payload), "one");
}

TEST(FlashRecordStore, BothCopiesDamagedIsAnError) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 0, 16384);
  FlashRecordStore s(*part);
  ASSERT_TRUE(s.Store(AsBytes("one")));
  ASSERT_TRUE(s.Store(AsBytes("two")));
  f.LoadDurable(4, Bytes{0});          // the version of the first copy
  f.LoadDurable(8192 + 25, Bytes{0});  // the payload of the second
  auto r = s.Load();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().Is(Errc::kRecordCorrupt)) << r.error().message();
  EXPECT_NE(r.error().message().find("journal"), std::string::npos);
}

TEST(FlashRecordStore, OneDamagedCopyBesideABlankOneIsAnInterruptedFirstStore) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 0, 16384);
  f.LoadDurable(8192 + 4000, Bytes{0x42});
  FlashRecordStore s(*part);
  EXPECT_EQ(LoadOk(s), std::nullopt);
  ASSERT_TRUE(s.Store(AsBytes("first")));
  EXPECT_EQ(AsChars(*LoadOk(s)), "first");
}

TEST(FlashRecordStore, RefusesRecordsThatDoNotFit) {
  SimFlash f(kGeo);
  auto part = MakePartition(f, "journal", 0, 8192);  // halves of 4096 bytes
  FlashRecordStore s(*part);
  ASSERT_TRUE(s.Store(Pattern(4096 - 24)));
  const Status st = s.Store(Pattern(4096 - 23));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(Errc::kOutOfBounds)) << st.error().message();
  EXPECT_TRUE(s.Store(Pattern(format::kMaxRecordPayload + 1)).error().Is(base::Errc::kTooLarge));
  EXPECT_EQ(LoadOk(s), Pattern(4096 - 24));

  auto tiny = MakePartition(f, "tiny", 8192, 4096);  // one erase block: no room for two copies
  FlashRecordStore t(*tiny);
  EXPECT_TRUE(t.Load().error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(t.Store(AsBytes("x")).error().Is(Errc::kOutOfBounds));
}

TEST(FlashRecordStore, WorksOnAFileDevice) {
  TempDir dir;
  auto dev = CreateFileDevice(dir.File("raw"), 3 * 65536, 0x00);
  ASSERT_TRUE(dev);
  FlashRecordStore s(**dev);
  EXPECT_TRUE(s.Store(Pattern(70000)).error().Is(base::Errc::kTooLarge));
  std::uint32_t seed = 0;
  for (const std::size_t n : {40000u, 10000u, 20u}) {
    const Bytes rec = Pattern(n, ++seed);
    ASSERT_TRUE(s.Store(rec));
    EXPECT_EQ(LoadOk(s), rec);
  }
  auto reopened = OpenFileDevice(dir.File("raw"));
  ASSERT_TRUE(reopened);
  FlashRecordStore again(**reopened);
  EXPECT_EQ(LoadOk(again), Pattern(20, 3));
}

}  // namespace
}  // namespace uplift::storage
