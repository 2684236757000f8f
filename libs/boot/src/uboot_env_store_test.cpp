#include "uplift/boot/uboot_env_store.hpp"

#include <gtest/gtest.h>

#include "uplift/base/errors.hpp"
#include "uplift/boot/boot_control.hpp"
#include "uplift/format/uboot_env.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::boot {
namespace {

using format::UbootEnvLayout;

constexpr std::uint64_t kEnvSize = 0x1000;

storage::FlashGeometry Geometry() {
  storage::FlashGeometry g;
  g.size = 64 << 10;
  g.erase_size = 4096;
  g.page_size = 256;
  return g;
}

std::unique_ptr<UbootEnvStore> Redundant(storage::SimFlash& flash) {
  auto store = UbootEnvStore::Create({{&flash, 0, kEnvSize}, {&flash, 0x1000, kEnvSize}});
  EXPECT_TRUE(store.ok()) << store.error().message();
  return std::move(store).value();
}

ByteView Copy(const storage::SimFlash& flash, std::size_t index) {
  return flash.durable().subspan(index * 0x1000, kEnvSize);
}

TEST(UbootEnvStore, ErasedFlashLoadsEmptyThenSavesAndLoads) {
  storage::SimFlash flash(Geometry());
  auto store = Redundant(flash);
  auto empty = store->Load();
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  EXPECT_TRUE(empty->empty());
  const EnvVars vars{{"bootcmd", "run boot_a"}, {"boot_part", "A"}};
  ASSERT_TRUE(store->Save(vars).ok());
  EXPECT_EQ(*store->Load(), vars);
}

TEST(UbootEnvStore, RedundantSavesAlternateCopiesWithIncreasingFlags) {
  storage::SimFlash flash(Geometry());
  auto store = Redundant(flash);
  // No valid copy: like libubootenv, write copy 1 with copy 0's flags + 1 (0xff + 1 = 0).
  ASSERT_TRUE(store->Save({{"n", "1"}}).ok());
  auto c1 = format::ParseUbootEnv(Copy(flash, 1), UbootEnvLayout::kRedundant);
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->flags, 0);
  ASSERT_TRUE(store->Save({{"n", "2"}}).ok());
  auto c0 = format::ParseUbootEnv(Copy(flash, 0), UbootEnvLayout::kRedundant);
  ASSERT_TRUE(c0.ok());
  EXPECT_EQ(c0->flags, 1);
  EXPECT_EQ(c0->vars.at("n"), "2");
  // The older copy is intact until the next save replaces it.
  EXPECT_EQ(format::ParseUbootEnv(Copy(flash, 1), UbootEnvLayout::kRedundant)->vars.at("n"), "1");
  ASSERT_TRUE(store->Save({{"n", "3"}}).ok());
  EXPECT_EQ(format::ParseUbootEnv(Copy(flash, 1), UbootEnvLayout::kRedundant)->flags, 2);
  EXPECT_EQ(store->Load()->at("n"), "3");
}

TEST(UbootEnvStore, FlagsWrapFrom255To0) {
  storage::SimFlash flash(Geometry());
  flash.LoadDurable(
      0, *format::SerializeUbootEnv({{"n", "old"}}, kEnvSize, UbootEnvLayout::kRedundant, 255));
  auto store = Redundant(flash);
  EXPECT_EQ(store->Load()->at("n"), "old");
  ASSERT_TRUE(store->Save({{"n", "new"}}).ok());
  EXPECT_EQ(format::ParseUbootEnv(Copy(flash, 1), UbootEnvLayout::kRedundant)->flags, 0);
  EXPECT_EQ(store->Load()->at("n"), "new");
}

// A power cut at every flash operation of a save: the environment reads old or new, never
// corrupt (the redundant layout's promise).
TEST(UbootEnvStore, RedundantSaveSurvivesPowerCutAtEveryOperation) {
  for (const bool tear : {false, true}) {
    for (std::uint64_t cut = 1;; ++cut) {
      storage::SimFlash flash(Geometry());
      auto store = Redundant(flash);
      ASSERT_TRUE(store->Save({{"v", "old"}}).ok());
      ASSERT_TRUE(store->Save({{"v", "older-is-gone"}, {"w", "x"}}).ok());
      ASSERT_TRUE(store->Save({{"v", "old"}}).ok());
      flash.ResetOperationCount();
      flash.SetFaultPlan({cut, tear, false});
      const Status st = store->Save({{"v", "new"}});
      flash.PowerCycle();
      auto loaded = store->Load();
      ASSERT_TRUE(loaded.ok()) << "cut " << cut << ": " << loaded.error().message();
      const std::string v = loaded->at("v");
      EXPECT_TRUE(v == "old" || v == "new") << "cut " << cut << ": " << v;
      if (st.ok()) {
        EXPECT_EQ(v, "new");
        EXPECT_GT(cut, 3u);  // the sweep did cut inside the save(s)
        break;               // the cut fell after the last operation
      }
      EXPECT_TRUE(st.error().Is(storage::Errc::kPowerLost)) << st.error().message();
      ASSERT_LT(cut, 100u);
    }
  }
}

TEST(UbootEnvStore, SingleCopyCorruptionIsReported) {
  storage::SimFlash flash(Geometry());
  auto created = UbootEnvStore::Create({{&flash, 0x2000, kEnvSize}});
  ASSERT_TRUE(created.ok());
  auto& store = **created;
  ASSERT_TRUE(store.Save({{"a", "1"}}).ok());
  EXPECT_EQ(store.Load()->at("a"), "1");
  Bytes image(Copy(flash, 2).begin(), Copy(flash, 2).end());
  EXPECT_EQ(image[9], 0x00);  // padding after "a=1\0\0" is 0x00, as U-Boot's saveenv writes it
  EXPECT_EQ(image.back(), 0x00);
  image[100] ^= 0x40;
  flash.LoadDurable(0x2000, image);
  const auto loaded = store.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(loaded.error().Is(Errc::kEnvCorrupt)) << loaded.error().message();
}

TEST(UbootEnvStore, AnErasedAndAJunkCopyAreCorruptNotBlank) {
  storage::SimFlash flash(Geometry());
  Bytes junk(kEnvSize, 0x5a);
  flash.LoadDurable(0x1000, junk);
  auto store = Redundant(flash);
  const auto loaded = store->Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(loaded.error().Is(Errc::kEnvCorrupt));
}

TEST(UbootEnvStore, SaveRefusesWhatTheEnvironmentCannotHold) {
  storage::SimFlash flash(Geometry());
  auto store = Redundant(flash);
  const Status big = store->Save({{"a", std::string(kEnvSize, 'x')}});
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(big.error().Is(Errc::kEnvTooLarge)) << big.error().message();
  const Status bad = store->Save({{"a=b", "x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().Is(Errc::kBadVariable));
  EXPECT_EQ(flash.operations(), 0u);  // nothing was written
}

TEST(UbootEnvStore, CreateChecksRegions) {
  storage::SimFlash flash(Geometry());
  const std::vector<std::vector<UbootEnvRegion>> bad = {
      {},
      {{nullptr, 0, kEnvSize}},
      {{&flash, 0x800, kEnvSize}},                        // not erase-aligned
      {{&flash, 0, 100}},                                 // not a page multiple
      {{&flash, 60 << 10, 0x2000}},                       // past the end
      {{&flash, 0, kEnvSize}, {&flash, 0x1000, 0x2000}},  // sizes differ
      {{&flash, 0, 0x800}, {&flash, 0x800, 0x800}},       // share an erase block
      {{&flash, 0, kEnvSize}, {&flash, 0, kEnvSize}, {&flash, 0x2000, kEnvSize}},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const auto store = UbootEnvStore::Create(bad[i]);
    ASSERT_FALSE(store.ok()) << i;
    EXPECT_TRUE(store.error().Is(base::Errc::kInvalidArgument)) << store.error().message();
  }
}

TEST(FwEnvConfig, ParsesLikeLibubootenv) {
  const auto entries = ParseFwEnvConfig(
      "# comment\n"
      "\n"
      "/dev/mtd1 0x40000 0x4000 0x10000\n"
      "  /tmp/env.bin\t16384   4000  \n");
  ASSERT_TRUE(entries.ok()) << entries.error().message();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].path, "/dev/mtd1");
  EXPECT_EQ((*entries)[0].offset, 0x40000u);
  EXPECT_EQ((*entries)[0].size, 0x4000u);
  EXPECT_EQ((*entries)[0].sector_size, 0x10000u);
  EXPECT_EQ((*entries)[1].path, "/tmp/env.bin");
  EXPECT_EQ((*entries)[1].offset, 16384u);  // offsets are C integers: decimal here
  EXPECT_EQ((*entries)[1].size, 0x4000u);   // sizes are always hex
  EXPECT_EQ((*entries)[1].sector_size, 0u);
  EXPECT_EQ(ParseFwEnvConfig("f 010 100\n")->front().offset, 8u);  // octal, as %lli reads it
}

TEST(FwEnvConfig, RejectsMalformedConfigs) {
  for (const char* text :
       {"", "# only a comment\n", "f 0\n", "f zz 100\n", "f 0 0\n", "f 0 xyz\n", "f 0 100 nothex\n",
        "f 0 100\nf 0x100 200\n", "a 0 100\nb 0 100\nc 0 100\n", "f 0 1ffffffffffffffffff\n"}) {
    const auto entries = ParseFwEnvConfig(text);
    ASSERT_FALSE(entries.ok()) << text;
    EXPECT_TRUE(entries.error().Is(base::Errc::kInvalidArgument)) << entries.error().message();
  }
}

}  // namespace
}  // namespace uplift::boot
