// Golden traces: scripted scenarios on the simulated device, compared against the expected list
// of states (and boots, and power cuts). A change to the state machine shows up here as a diff
// of one readable list.
#include <gtest/gtest.h>

#include "agent_test_support.hpp"

namespace uplift::agent {
namespace {

using format::AgentState;
using testing::AgentRun;
using testing::CutNow;
using testing::DriveThroughCuts;
using testing::SimDevice;
using Trace = std::vector<std::string>;

constexpr std::size_t kImage = 32 * 1024;

struct Golden : ::testing::Test {
  SimDevice dev{64 * 1024};
  AgentRun run;
  Trace trace;
  Bytes v1 = testing::Pattern(kImage, 1);
  Bytes v2 = testing::Evolve(v1, 2);

  void SetUp() override {
    dev.Factory(v1);
    run.trace = &trace;
    run.bundles.emplace_back("b", testing::MakeBundle(v2));
  }

  Trace Update() {
    auto out = DriveThroughCuts(dev, run, [](Agent& a) { return a.Install("b"); });
    EXPECT_TRUE(out.ok()) << out.error().message();
    return trace;
  }

  // Cuts power once, at the first flash operation after the agent journaled `state`.
  void CutOnEntering(AgentState state) {
    run.on_enter = [this, state, done = false](AgentState s) mutable {
      if (s == state && !done) {
        done = true;
        CutNow(dev);
      }
    };
  }
};

TEST_F(Golden, Success) {
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:B",
                             "trial_boot", "committed"}));
}

TEST_F(Golden, FailedHealthCheck) {
  run.health = [] { return Status(Error(Errc::kHealthCheckFailed, "no network")); };
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:B",
                             "trial_boot", "rolling_back", "boot:A", "rolled_back"}));
}

TEST_F(Golden, NewSlotDoesNotBoot) {
  dev.bootable = [](boot::Slot s) { return s == boot::Slot::kA; };
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:A",
                             "rolling_back", "rolled_back"}));
}

TEST_F(Golden, PowerCutInVerifying) {
  CutOnEntering(AgentState::kVerifying);
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "cut", "boot:A", "verifying", "installing",
                             "installed", "boot:B", "trial_boot", "committed"}));
}

TEST_F(Golden, PowerCutInInstalling) {
  CutOnEntering(AgentState::kInstalling);
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "cut", "boot:A", "installing",
                             "installed", "boot:B", "trial_boot", "committed"}));
}

TEST_F(Golden, PowerCutInInstalled) {
  CutOnEntering(AgentState::kInstalled);
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "cut", "boot:A",
                             "boot:B", "trial_boot", "committed"}));
}

TEST_F(Golden, PowerCutInTrialBoot) {
  CutOnEntering(AgentState::kTrialBoot);
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:B",
                             "trial_boot", "cut", "boot:B", "trial_boot", "committed"}));
}

TEST_F(Golden, PowerCutInCommitted) {
  CutOnEntering(AgentState::kCommitted);
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:B",
                             "trial_boot", "committed", "cut", "boot:B"}));
  auto env = dev.boot().Read();
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->upgrade_available);  // recovery at rest finished the commit
  EXPECT_EQ(env->boot_part, boot::Slot::kB);
}

TEST_F(Golden, PowerCutInRollingBack) {
  run.health = [] { return Status(Error(Errc::kHealthCheckFailed, "no network")); };
  CutOnEntering(AgentState::kRollingBack);
  EXPECT_EQ(Update(),
            (Trace{"boot:A", "verifying", "installing", "installed", "boot:B", "trial_boot",
                   "rolling_back", "cut", "boot:B", "boot:A", "rolled_back"}));
}

// The new slot boots, but the device dies during the trial every time (say the application
// reboots it): the journal's start-up counter ends the loop before the bootloader's does.
TEST_F(Golden, RebootLoopBrokenByTheJournalCounter) {
  run.options.max_boot_attempts = 2;
  run.health = [this] {
    CutNow(dev);
    return Status(Error(storage::Errc::kPowerLost, "simulated crash during the trial"));
  };
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:B",
                             "trial_boot", "cut", "boot:B", "trial_boot", "cut", "boot:B",
                             "rolling_back", "boot:A", "rolled_back"}));
}

// Same loop with the default limits: U-Boot's bootcount (limit 3) gives up first.
TEST_F(Golden, RebootLoopBrokenByTheBootloader) {
  run.options.max_boot_attempts = 10;
  run.health = [this] {
    CutNow(dev);
    return Status(Error(storage::Errc::kPowerLost, "simulated crash during the trial"));
  };
  EXPECT_EQ(Update(), (Trace{"boot:A", "verifying", "installing", "installed", "boot:B",
                             "trial_boot", "cut", "boot:B", "trial_boot", "cut", "boot:B",
                             "trial_boot", "cut", "boot:A", "rolling_back", "rolled_back"}));
}

}  // namespace
}  // namespace uplift::agent
