#include "uplift/boot/simulated_bootloader.hpp"

#include <gtest/gtest.h>

#include <set>

#include "test_support.hpp"
#include "uplift/boot/uboot_env_store.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::boot {
namespace {

using test_support::MemoryEnvStore;

SimulatedBootloaderOptions MaxResets(std::uint32_t n) {
  SimulatedBootloaderOptions o;
  o.max_resets = n;
  return o;
}

std::function<bool(Slot)> Bootable(std::set<Slot> good) {
  return [good](Slot s) { return good.contains(s); };
}

TEST(SimulatedBootloader, FactoryDeviceBootsSlotAWithoutWriting) {
  MemoryEnvStore store;
  SimulatedBootloader loader(store, Bootable({Slot::kA}));
  const auto slot = loader.Boot();
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  EXPECT_EQ(*slot, Slot::kA);
  EXPECT_EQ(store.saves, 0);  // no trial: U-Boot does not save bootcount
  EXPECT_EQ(loader.resets(), 0u);
}

TEST(SimulatedBootloader, SuccessfulTrialCountsOneBootAndAgentCommits) {
  MemoryEnvStore store;
  EnvBootControl control(store);
  SimulatedBootloader loader(store, Bootable({Slot::kA, Slot::kB}));
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  ASSERT_EQ(*loader.Boot(), Slot::kB);
  EXPECT_EQ(store.vars.at("bootcount"), "1");
  EXPECT_EQ(store.vars.at("upgrade_available"), "1");
  // A second boot before the commit (say, a power cut) counts again but stays on B.
  ASSERT_EQ(*loader.Boot(), Slot::kB);
  EXPECT_EQ(store.vars.at("bootcount"), "2");
  ASSERT_TRUE(control.MarkGood(Slot::kB).ok());
  const int saves = store.saves;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(*loader.Boot(), Slot::kB);
  EXPECT_EQ(store.saves, saves);  // committed: no more bootcount writes
  EXPECT_EQ(loader.fallbacks(), 0u);
}

TEST(SimulatedBootloader, TrialThatNeverBootsFallsBackAfterBootlimit) {
  MemoryEnvStore store;
  EnvBootControl control(store);
  SimulatedBootloader loader(store, Bootable({Slot::kA}));
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());  // bootlimit 3
  const auto slot = loader.Boot();
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  EXPECT_EQ(*slot, Slot::kA);
  // Boots 1..3 of B fail (three watchdog resets); boot 4 has bootcount 4 > 3: altbootcmd.
  EXPECT_EQ(loader.resets(), 3u);
  EXPECT_EQ(loader.fallbacks(), 1u);
  EXPECT_EQ(store.vars.at("boot_part"), "A");
  EXPECT_EQ(store.vars.at("upgrade_available"), "0");
  EXPECT_EQ(store.vars.at("bootcount"), "4");  // left as U-Boot leaves it
  const auto state = control.Read();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->boot_part, Slot::kA);
  EXPECT_FALSE(state->upgrade_available);
  // The agent, back on A, sees the abandoned trial and resets the counter.
  ASSERT_TRUE(control.MarkGood(Slot::kA).ok());
  EXPECT_EQ(store.vars.at("bootcount"), "0");
}

TEST(SimulatedBootloader, BootlimitFromTheEnvironmentAndZeroMeansNoLimit) {
  MemoryEnvStore store;
  store.vars = {
      {"boot_part", "B"}, {"upgrade_available", "1"}, {"bootcount", "0"}, {"bootlimit", "1"}};
  SimulatedBootloader loader(store, Bootable({Slot::kA}));
  ASSERT_EQ(*loader.Boot(), Slot::kA);
  EXPECT_EQ(loader.resets(), 1u);

  MemoryEnvStore unlimited;
  unlimited.vars = {{"boot_part", "B"}, {"upgrade_available", "1"}, {"bootlimit", "0"}};
  SimulatedBootloader stuck(unlimited, Bootable({Slot::kA}), MaxResets(10));
  const auto r = stuck.Boot();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kBricked)) << r.error().message();
  EXPECT_EQ(stuck.resets(), 11u);
  EXPECT_EQ(unlimited.vars.at("bootcount"), "11");
}

TEST(SimulatedBootloader, BrickedWhenNoSlotBoots) {
  MemoryEnvStore store;
  EnvBootControl control(store);
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  SimulatedBootloader loader(store, Bootable({}), MaxResets(20));
  const auto r = loader.Boot();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kBricked));
  EXPECT_EQ(loader.fallbacks(), 1u);  // it did try the old slot
  EXPECT_EQ(loader.resets(), 21u);
  EXPECT_EQ(store.vars.at("boot_part"), "A");
}

TEST(SimulatedBootloader, CorruptEnvironmentBootsTheDefaultEnvironment) {
  MemoryEnvStore store;
  store.corrupt = true;
  SimulatedBootloaderOptions options;
  options.default_env = {{"boot_part", "B"}};
  SimulatedBootloader loader(store, Bootable({Slot::kA, Slot::kB}), options);
  ASSERT_EQ(*loader.Boot(), Slot::kB);
  EXPECT_EQ(store.saves, 0);
}

TEST(SimulatedBootloader, UnknownBootPartIsBadState) {
  MemoryEnvStore store;
  store.vars = {{"boot_part", "C"}};
  SimulatedBootloader loader(store, Bootable({Slot::kA, Slot::kB}));
  const auto r = loader.Boot();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kBadState));
}

TEST(SimulatedBootloader, SaveFailureIsReturned) {
  MemoryEnvStore store;
  store.vars = {{"boot_part", "B"}, {"upgrade_available", "1"}};
  store.fail_saves = 1;
  SimulatedBootloader loader(store, Bootable({Slot::kA, Slot::kB}));
  const auto r = loader.Boot();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kEnvTooLarge));
  EXPECT_EQ(*loader.Boot(), Slot::kB);
}

TEST(SimulatedBootloader, CustomNames) {
  MemoryEnvStore store;
  SimulatedBootloaderOptions options;
  options.names.boot_part = "mender_boot_part";
  options.names.slot_values = {"2", "3"};
  EnvBootControl control(store, options.names);
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  SimulatedBootloader loader(store, Bootable({Slot::kA}), options);
  ASSERT_EQ(*loader.Boot(), Slot::kA);
  EXPECT_EQ(store.vars.at("mender_boot_part"), "2");
}

// A power cut at every flash operation the bootloader makes while it counts boots and falls
// back: after power returns the device still ends on a bootable slot, never bricked.
TEST(SimulatedBootloader, PowerCutWhileTheBootloaderSavesItsEnvironment) {
  for (const bool tear : {false, true}) {
    for (std::uint64_t cut = 1;; ++cut) {
      storage::SimFlash flash(storage::FlashGeometry{});
      auto store = UbootEnvStore::Create({{&flash, 0, 0x2000}, {&flash, 0x2000, 0x2000}});
      ASSERT_TRUE(store.ok());
      EnvBootControl control(**store);
      ASSERT_TRUE(control.MarkGood(Slot::kA).ok());
      ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
      SimulatedBootloader loader(**store, Bootable({Slot::kA}));
      flash.ResetOperationCount();
      flash.SetFaultPlan({cut, tear, false});
      const auto first = loader.Boot();
      flash.PowerCycle();
      if (first.ok()) {
        EXPECT_EQ(*first, Slot::kA);
        EXPECT_GT(cut, 3u);  // the sweep did cut inside the save(s)
        break;               // the cut fell after the last operation
      }
      EXPECT_TRUE(first.error().Is(storage::Errc::kPowerLost)) << first.error().message();
      const auto again = loader.Boot();
      ASSERT_TRUE(again.ok()) << "cut " << cut << ": " << again.error().message();
      EXPECT_EQ(*again, Slot::kA) << "cut " << cut;
      ASSERT_LT(cut, 1000u);
    }
  }
}

}  // namespace
}  // namespace uplift::boot
