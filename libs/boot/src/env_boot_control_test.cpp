#include "uplift/boot/env_boot_control.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/boot/uboot_env_store.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::boot {
namespace {

using test_support::MemoryEnvStore;

TEST(ParseSlot, AcceptsLettersAndDigits) {
  EXPECT_EQ(*ParseSlot("A"), Slot::kA);
  EXPECT_EQ(*ParseSlot("a"), Slot::kA);
  EXPECT_EQ(*ParseSlot("0"), Slot::kA);
  EXPECT_EQ(*ParseSlot("B"), Slot::kB);
  EXPECT_EQ(*ParseSlot("b"), Slot::kB);
  EXPECT_EQ(*ParseSlot("1"), Slot::kB);
  for (const char* bad : {"", "C", "AB", "2", " A"}) {
    const auto r = ParseSlot(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.error().Is(base::Errc::kInvalidArgument));
  }
}

TEST(ParseBootState, DefaultsOfAFactoryDevice) {
  const auto s = ParseBootState({}, {});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->boot_part, Slot::kA);
  EXPECT_FALSE(s->upgrade_available);
  EXPECT_EQ(s->bootcount, 0u);
  EXPECT_EQ(s->bootlimit, 3u);
}

TEST(ParseBootState, ReadsTheConventionAndRejectsOtherValues) {
  const auto s = ParseBootState(
      {{"boot_part", "B"}, {"upgrade_available", "1"}, {"bootcount", "2"}, {"bootlimit", "5"}}, {});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->boot_part, Slot::kB);
  EXPECT_TRUE(s->upgrade_available);
  EXPECT_EQ(s->bootcount, 2u);
  EXPECT_EQ(s->bootlimit, 5u);
  for (const EnvVars& bad : std::vector<EnvVars>{{{"boot_part", "C"}},
                                                 {{"boot_part", "a"}},
                                                 {{"upgrade_available", "2"}},
                                                 {{"bootcount", "-1"}},
                                                 {{"bootcount", "4294967296"}},
                                                 {{"bootlimit", "3x"}}}) {
    const auto r = ParseBootState(bad, {});
    ASSERT_FALSE(r.ok()) << bad.begin()->first << "=" << bad.begin()->second;
    EXPECT_TRUE(r.error().Is(Errc::kBadState)) << r.error().message();
  }
}

TEST(EnvBootControl, ArmTrialThenMarkGood) {
  MemoryEnvStore store;
  store.vars = {{"bootcmd", "run distro_bootcmd"}};
  EnvBootControl control(store);
  EXPECT_EQ(control.name(), "memory");
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  EXPECT_EQ(store.vars, (EnvVars{{"bootcmd", "run distro_bootcmd"},
                                 {"boot_part", "B"},
                                 {"upgrade_available", "1"},
                                 {"bootcount", "0"},
                                 {"bootlimit", "3"}}));
  auto s = control.Read();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->boot_part, Slot::kB);
  EXPECT_TRUE(s->upgrade_available);
  store.vars["bootcount"] = "2";  // the bootloader counted two boots
  ASSERT_TRUE(control.MarkGood(Slot::kB).ok());
  EXPECT_EQ(store.vars.at("boot_part"), "B");
  EXPECT_EQ(store.vars.at("upgrade_available"), "0");
  EXPECT_EQ(store.vars.at("bootcount"), "0");
  EXPECT_EQ(store.vars.at("bootlimit"), "3");
  EXPECT_EQ(store.saves, 2);
}

TEST(EnvBootControl, ArmTrialKeepsAnExistingBootlimit) {
  MemoryEnvStore store;
  store.vars = {{"bootlimit", "7"}};
  EnvBootControl control(store);
  ASSERT_TRUE(control.ArmTrial(Slot::kA).ok());
  EXPECT_EQ(store.vars.at("bootlimit"), "7");
}

TEST(EnvBootControl, MarkGoodSkipsTheWriteWhenNothingChanges) {
  MemoryEnvStore store;
  EnvBootControl control(store);
  ASSERT_TRUE(control.MarkGood(Slot::kA).ok());  // factory env: written once
  EXPECT_EQ(store.saves, 1);
  EXPECT_EQ(control.writes(), 1u);
  for (int boot = 0; boot < 5; ++boot) ASSERT_TRUE(control.MarkGood(Slot::kA).ok());
  EXPECT_EQ(store.saves, 1);
  EXPECT_EQ(control.writes(), 1u);
  ASSERT_TRUE(control.MarkGood(Slot::kB).ok());  // a rollback/commit to the other slot writes
  EXPECT_EQ(store.saves, 2);
  store.vars["bootcount"] = "1";  // RAUC #490: a stale counter must be reset on a healthy boot
  ASSERT_TRUE(control.MarkGood(Slot::kB).ok());
  EXPECT_EQ(store.saves, 3);
  EXPECT_EQ(store.vars.at("bootcount"), "0");
}

TEST(EnvBootControl, CorruptEnvironmentIsNeitherReadNorOverwritten) {
  MemoryEnvStore store;
  store.corrupt = true;
  EnvBootControl control(store);
  const auto read = control.Read();
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.error().Is(Errc::kEnvCorrupt));
  for (const Status& st : {control.ArmTrial(Slot::kB), control.MarkGood(Slot::kA)}) {
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(st.error().Is(Errc::kEnvCorrupt));
  }
  EXPECT_EQ(store.saves, 0);
}

TEST(EnvBootControl, FactoryEnvironmentIsTheBaseOfTheFirstWrite) {
  MemoryEnvStore store;
  EnvBootControl control(store, {}, {{"bootcmd", "run mmcboot"}});
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  EXPECT_EQ(store.vars.at("bootcmd"), "run mmcboot");
}

TEST(EnvBootControl, ConfigurableNamesAndValues) {
  MemoryEnvStore store;
  BootVariables names;
  names.boot_part = "mender_boot_part";
  names.slot_values = {"2", "3"};
  names.default_bootlimit = 1;
  EnvBootControl control(store, names);
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  EXPECT_EQ(store.vars.at("mender_boot_part"), "3");
  EXPECT_EQ(store.vars.at("bootlimit"), "1");
  EXPECT_FALSE(store.vars.contains("boot_part"));
  EXPECT_EQ(control.Read()->boot_part, Slot::kB);
  store.vars["mender_boot_part"] = "B";
  EXPECT_TRUE(control.Read().error().Is(Errc::kBadState));
}

TEST(EnvBootControl, OverARedundantUbootEnvironmentOnFlash) {
  storage::SimFlash flash(storage::FlashGeometry{});
  auto store = UbootEnvStore::Create({{&flash, 0, 0x2000}, {&flash, 0x2000, 0x2000}});
  ASSERT_TRUE(store.ok());
  EnvBootControl control(**store);
  EXPECT_EQ(control.name(), "uboot");
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  const auto s = control.Read();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->boot_part, Slot::kB);
  EXPECT_TRUE(s->upgrade_available);
  EXPECT_EQ(s->bootlimit, 3u);
}

}  // namespace
}  // namespace uplift::boot
