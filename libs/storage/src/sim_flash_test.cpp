#include "uplift/storage/sim_flash.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "test_support.hpp"

namespace uplift::storage {
namespace {

using testing::Pattern;

constexpr FlashGeometry kGeo{.size = 64 * 1024, .erase_size = 4096, .page_size = 256};

Bytes Durable(const SimFlash& f, std::size_t offset, std::size_t n) {
  return Bytes(f.durable().begin() + static_cast<std::ptrdiff_t>(offset),
               f.durable().begin() + static_cast<std::ptrdiff_t>(offset + n));
}

Bytes Visible(SimFlash& f, std::size_t offset, std::size_t n) {
  Bytes out(n);
  EXPECT_TRUE(f.Read(offset, out));
  return out;
}

// Bytes where a and b differ, as [first, last] offsets; empty if equal.
std::vector<std::size_t> Diff(ByteView a, ByteView b) {
  std::vector<std::size_t> d;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) d.push_back(i);
  }
  return d;
}

TEST(SimFlash, StartsErasedWithItsGeometry) {
  SimFlash f(kGeo, "nor0");
  EXPECT_EQ(f.name(), "nor0");
  EXPECT_EQ(f.size(), 65536u);
  EXPECT_EQ(f.erase_size(), 4096u);
  EXPECT_EQ(f.program_size(), 256u);
  EXPECT_TRUE(f.needs_erase());
  EXPECT_EQ(Visible(f, 0, 65536), Bytes(65536, 0xff));
}

TEST(SimFlash, ProgramOnlyClearsBits) {
  SimFlash f(kGeo);
  Bytes page(256, 0xf0);
  ASSERT_TRUE(f.Program(512, page));
  // Clearing more bits is a legal second program; setting one back is not.
  Bytes fewer(256, 0x30);
  ASSERT_TRUE(f.Program(512, fewer));
  const std::uint64_t ops = f.operations();
  Bytes more(256, 0x30);
  more[17] = 0x31;
  const Status st = f.Program(512, more);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(Errc::kNotErased)) << st.error().message();
  EXPECT_NE(st.error().message().find("529"), std::string::npos) << st.error().message();
  EXPECT_EQ(f.operations(), ops);  // a refused call counts and changes nothing
  EXPECT_EQ(Visible(f, 512, 256), fewer);
  ASSERT_TRUE(f.Erase(0, 4096));
  ASSERT_TRUE(f.Program(512, more));
  EXPECT_EQ(Visible(f, 512, 256), more);
}

TEST(SimFlash, RefusalOfAMultiPageProgramChangesNothing) {
  SimFlash f(kGeo);
  ASSERT_TRUE(f.Program(4096 + 256, Bytes(256, 0)));
  // Pages 0..1 of the call are fine, page 2 (the programmed one) is not.
  const Status st = f.Program(4096 - 256, Bytes(1024, 0x5a));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(Errc::kNotErased));
  EXPECT_EQ(Visible(f, 4096 - 256, 512), Bytes(512, 0xff));
}

TEST(SimFlash, EnforcesAlignmentAndBounds) {
  SimFlash f(kGeo);
  EXPECT_TRUE(f.Program(100, Bytes(256)).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(f.Program(0, Bytes(100)).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(f.Erase(256, 4096).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(f.Erase(0, 100).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(f.Erase(61440, 8192).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(f.Program(65536, Bytes(256)).error().Is(Errc::kOutOfBounds));
  Bytes two(2);
  EXPECT_TRUE(f.Read(65535, two).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(
      f.Read(std::numeric_limits<std::uint64_t>::max(), two).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(f.Read(3, two));  // reads have no alignment
  EXPECT_EQ(f.operations(), 0u);
}

TEST(SimFlash, CountsEveryBlockAndPage) {
  SimFlash f(kGeo);
  ASSERT_TRUE(f.Erase(0, 3 * 4096));
  EXPECT_EQ(f.operations(), 3u);
  ASSERT_TRUE(f.Program(4096 - 512, Bytes(1024, 0)));  // four pages across a block boundary
  EXPECT_EQ(f.operations(), 7u);
  ASSERT_TRUE(f.Sync());  // write-through: a Sync() is no operation
  EXPECT_EQ(f.operations(), 7u);
  f.SetFaultPlan({.write_back = true});
  ASSERT_TRUE(f.Sync());
  EXPECT_EQ(f.operations(), 8u);
  f.ResetOperationCount();
  EXPECT_EQ(f.operations(), 0u);
  f.LoadDurable(0, Bytes(100, 0));
  EXPECT_EQ(f.operations(), 0u);
}

TEST(SimFlash, CutWithoutTearStopsBeforeTheOperation) {
  SimFlash f(kGeo);
  const Bytes data = Pattern(1024);
  f.SetFaultPlan({.cut_at = 3});
  const Status st = f.Program(8192, data);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(Errc::kPowerLost));
  EXPECT_TRUE(f.power_lost());
  EXPECT_EQ(f.operations(), 3u);
  Bytes expect(65536, 0xff);
  std::copy(data.begin(), data.begin() + 512, expect.begin() + 8192);
  EXPECT_EQ(Diff(f.durable(), expect), std::vector<std::size_t>{});
  // Dead until power returns.
  Bytes one(1);
  EXPECT_TRUE(f.Read(0, one).error().Is(Errc::kPowerLost));
  EXPECT_TRUE(f.Erase(0, 4096).error().Is(Errc::kPowerLost));
  EXPECT_TRUE(f.Program(0, Bytes(256, 0)).error().Is(Errc::kPowerLost));
  EXPECT_TRUE(f.Sync().error().Is(Errc::kPowerLost));
  EXPECT_EQ(f.operations(), 3u);
  f.PowerCycle();
  EXPECT_FALSE(f.power_lost());
  EXPECT_EQ(Visible(f, 0, 65536), expect);
  // The plan is gone: the rest of the data programs without a cut.
  ASSERT_TRUE(f.Program(8192 + 512, ByteView(data).subspan(512)));
  EXPECT_EQ(Visible(f, 8192, 1024), data);
}

TEST(SimFlash, TornProgramWritesTheFirstHalfOfThePage) {
  SimFlash f(kGeo);
  const Bytes data(512, 0x00);
  f.SetFaultPlan({.cut_at = 2, .tear = true});
  ASSERT_TRUE(f.Program(1024, data).error().Is(Errc::kPowerLost));
  const auto changed = Diff(f.durable(), Bytes(65536, 0xff));
  ASSERT_EQ(changed.size(), 256u + 128u);
  EXPECT_EQ(changed.front(), 1024u);
  EXPECT_EQ(changed.back(), 1024u + 256u + 127u);
}

TEST(SimFlash, TornEraseErasesTheFirstHalfOfTheBlock) {
  SimFlash f(kGeo);
  f.LoadDurable(0, Bytes(65536, 0));
  f.SetFaultPlan({.cut_at = 2, .tear = true});
  ASSERT_TRUE(f.Erase(4096, 3 * 4096).error().Is(Errc::kPowerLost));
  const auto changed = Diff(f.durable(), Bytes(65536, 0));
  ASSERT_EQ(changed.size(), 4096u + 2048u);
  EXPECT_EQ(changed.front(), 4096u);
  EXPECT_EQ(changed.back(), 8192u + 2047u);
  f.PowerCycle();
  f.LoadDurable(0, Bytes(65536, 0));
  f.ResetOperationCount();
  f.SetFaultPlan({.cut_at = 2});
  ASSERT_TRUE(f.Erase(4096, 3 * 4096).error().Is(Errc::kPowerLost));
  EXPECT_EQ(Diff(f.durable(), Bytes(65536, 0)).size(), 4096u);
}

TEST(SimFlash, WriteBackKeepsChangesVolatileUntilSync) {
  SimFlash f(kGeo);
  f.SetFaultPlan({.write_back = true});
  ASSERT_TRUE(f.Erase(0, 4096));
  ASSERT_TRUE(f.Program(0, Bytes(256, 0x12)));
  EXPECT_EQ(Visible(f, 0, 256), Bytes(256, 0x12));
  EXPECT_EQ(Durable(f, 0, 256), Bytes(256, 0xff));
  f.PowerCycle();  // an unplanned power loss: the cache is gone
  EXPECT_EQ(Visible(f, 0, 256), Bytes(256, 0xff));

  f.SetFaultPlan({.write_back = true});
  ASSERT_TRUE(f.Program(0, Bytes(256, 0x12)));
  ASSERT_TRUE(f.Sync());
  EXPECT_EQ(Durable(f, 0, 256), Bytes(256, 0x12));
  f.PowerCycle();
  EXPECT_EQ(Visible(f, 0, 256), Bytes(256, 0x12));
}

TEST(SimFlash, CutInWriteBackDropsTheCache) {
  SimFlash f(kGeo);
  f.SetFaultPlan({.cut_at = 3, .write_back = true});
  ASSERT_TRUE(f.Program(0, Bytes(256, 0)));
  ASSERT_TRUE(f.Program(8192, Bytes(256, 0)));
  ASSERT_TRUE(f.Sync().error().Is(Errc::kPowerLost));  // operation 3
  EXPECT_EQ(Diff(f.durable(), Bytes(65536, 0xff)), std::vector<std::size_t>{});
  f.PowerCycle();
  EXPECT_EQ(Visible(f, 0, 65536), Bytes(65536, 0xff));
}

TEST(SimFlash, TornSyncPersistsTheLowerHalfOfTheDirtyBlocks) {
  SimFlash f(kGeo);
  f.SetFaultPlan({.cut_at = 5, .tear = true, .write_back = true});
  for (const std::uint64_t at : {12288u, 0u, 40960u, 4096u}) {
    ASSERT_TRUE(f.Program(at, Bytes(256, 0)));
  }
  ASSERT_TRUE(f.Sync().error().Is(Errc::kPowerLost));
  const auto changed = Diff(f.durable(), Bytes(65536, 0xff));
  ASSERT_EQ(changed.size(), 512u);
  EXPECT_EQ(changed.front(), 0u);
  EXPECT_EQ(changed[256], 4096u);
}

TEST(SimFlash, LeavingWriteBackKeepsCachedData) {
  SimFlash f(kGeo);
  f.SetFaultPlan({.write_back = true});
  ASSERT_TRUE(f.Program(0, Bytes(256, 0)));
  f.SetFaultPlan({});
  EXPECT_EQ(Durable(f, 0, 256), Bytes(256, 0));
}

TEST(SimFlash, LoadDurableShowsThroughTheCache) {
  SimFlash f(kGeo);
  f.SetFaultPlan({.write_back = true});
  ASSERT_TRUE(f.Program(0, Bytes(256, 0x0f)));
  f.LoadDurable(128, Bytes(4096, 0x33));
  EXPECT_EQ(Visible(f, 0, 128), Bytes(128, 0x0f));
  EXPECT_EQ(Visible(f, 128, 4096), Bytes(4096, 0x33));
  EXPECT_EQ(Durable(f, 128, 4096), Bytes(4096, 0x33));
}

}  // namespace
}  // namespace uplift::storage
