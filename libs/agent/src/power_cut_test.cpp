// The power-cut sweep (the standard of MCUboot's simulator): run an update once to count every
// mutating flash operation (slot erases and page programs, journal copies, boot-environment
// saves by the agent and by the simulated bootloader), then for each operation in turn cut the
// power there, with and without a torn page, and power the device on again and again until it
// is at rest. Invariants at every power-on and at the end:
//   - the bootloader starts a slot whose image is the old or the new one, never a mix;
//   - the journal is readable;
//   - the update completed (committed, running the new image) or the old image is running,
//     committed and marked good; for an update whose health check fails: rolled back.
#include <gtest/gtest.h>

#include <cstdio>

#include "agent_test_support.hpp"
#include "uplift/format/journal.hpp"

namespace uplift::agent {
namespace {

using boot::Slot;
using format::AgentState;
using testing::AgentRun;
using testing::Drive;
using testing::DriveThroughCuts;
using testing::SimDevice;

constexpr std::size_t kImage = 24 * 1024;
constexpr std::uint64_t kSlot = 32 * 1024;

enum class Expect { kUpdated, kRolledBack };

struct Sweep {
  const char* name;
  bool delta = false;
  bool healthy = true;
  Expect expect = Expect::kUpdated;
  // Flash behind a volatile write cache: only Sync() makes data durable, a cut drops the rest.
  bool write_back = false;
};

struct Counts {
  std::uint64_t cut_points = 0;
  std::uint64_t runs = 0;
  std::uint64_t ended_new = 0;
  std::uint64_t ended_old = 0;
  std::uint64_t in_rollback = 0;  // cuts that fell after the agent journaled rolling_back
  std::uint64_t not_started = 0;  // cuts before the install's first journal write completed
};

class Device {
 public:
  Device(const Sweep& sweep, const Bytes& v1, const Bytes& v2, const Bytes& bundle)
      : dev_(kSlot), v1_(v1), v2_(v2) {
    dev_.Factory(v1);
    run_.options.checkpoint_bytes = 8 * 1024;  // resumes from restart points are swept too
    run_.bundles.emplace_back("update", bundle);
    if (!sweep.healthy) {
      run_.health = [] { return Status(Error(Errc::kHealthCheckFailed, "unhealthy")); };
    }
    // The bootloader never starts a kernel from a torn slot: booting one is a failure here.
    run_.on_boot = [this](Slot s) {
      const Bytes content = dev_.SlotPrefix(s, kImage);
      const bool old_image = content == v1_;
      const bool new_image = content == v2_;
      if (!old_image && !new_image) {
        ADD_FAILURE() << "booted slot " << boot::SlotLetter(s) << " holds neither image";
      }
    };
  }

  // Factory power-on: the agent creates its journal and marks slot A good.
  void FirstBoot() {
    const auto out = Drive(dev_, run_);
    ASSERT_TRUE(out.ok()) << out.error().message();
  }

  SimDevice& dev() { return dev_; }
  AgentRun& run() { return run_; }

 private:
  SimDevice dev_;
  AgentRun run_;
  const Bytes& v1_;
  const Bytes& v2_;
};

Status Install(Agent& a) { return a.Install("update"); }

void RunSweep(const Sweep& sweep) {
  const Bytes v1 = testing::Pattern(kImage, 11);
  const Bytes v2 = testing::Evolve(v1, 12);
  testing::BundleOptions o;
  if (sweep.delta) o.delta_from = &v1;
  const Bytes bundle = testing::MakeBundle(v2, o);

  // The reference run: how many operations, and from which one on the agent is rolling back.
  std::uint64_t total = 0;
  std::uint64_t rollback_from = ~std::uint64_t{0};
  std::uint64_t journaled_at = 0;  // the install's first journal write is complete here
  {
    Device d(sweep, v1, v2, bundle);
    d.FirstBoot();
    d.dev().flash().ResetOperationCount();
    d.dev().flash().SetFaultPlan(storage::FaultPlan{0, false, sweep.write_back});
    d.run().on_enter = [&](AgentState s) {
      if (s == AgentState::kRollingBack) rollback_from = d.dev().flash().operations() + 1;
      if (s == AgentState::kVerifying) journaled_at = d.dev().flash().operations();
    };
    const auto out = Drive(d.dev(), d.run(), Install);
    ASSERT_TRUE(out.ok()) << out.error().message();
    total = d.dev().flash().operations();
    ASSERT_EQ(out->journal.state,
              sweep.expect == Expect::kUpdated ? AgentState::kCommitted : AgentState::kRolledBack);
  }
  ASSERT_GT(total, 0u);

  Counts counts;
  counts.cut_points = total;
  for (std::uint64_t cut = 1; cut <= total; ++cut) {
    for (const bool tear : {false, true}) {
      SCOPED_TRACE(std::string(sweep.name) + ": cut at operation " + std::to_string(cut) +
                   (tear ? " (torn)" : ""));
      Device d(sweep, v1, v2, bundle);
      d.FirstBoot();
      auto& flash = d.dev().flash();
      flash.ResetOperationCount();
      flash.SetFaultPlan(storage::FaultPlan{cut, tear, sweep.write_back});
      const auto first = Drive(d.dev(), d.run(), Install);
      ASSERT_FALSE(first.ok()) << "the cut at " << cut << " never happened";
      ASSERT_TRUE(first.error().Is(storage::Errc::kPowerLost)) << first.error().message();
      flash.PowerCycle();
      ++counts.runs;
      if (cut >= rollback_from) ++counts.in_rollback;

      const auto out = DriveThroughCuts(d.dev(), d.run());
      ASSERT_TRUE(out.ok()) << out.error().message();
      const auto stored = d.dev().journal().Load();
      ASSERT_TRUE(stored.ok() && stored->has_value());
      ASSERT_TRUE(format::ParseJournal(**stored).ok());
      const auto& j = out->journal;
      ASSERT_TRUE(format::IsAtRest(j.state)) << format::AgentStateName(j.state);
      const auto env = d.dev().boot().Read();
      ASSERT_TRUE(env.ok());
      EXPECT_FALSE(env->upgrade_available);
      EXPECT_EQ(env->boot_part, out->booted);
      EXPECT_EQ(j.active_slot, static_cast<format::SlotIndex>(out->booted));
      if (j.state == AgentState::kIdle) {
        // The cut fell before the install's first journal record was complete (a torn last
        // page may still complete it): the install never started; the old image stays.
        EXPECT_LE(cut, journaled_at);
        EXPECT_FALSE(j.update);
        EXPECT_EQ(out->booted, Slot::kA);
        ++counts.not_started;
      } else if (sweep.expect == Expect::kRolledBack) {
        EXPECT_EQ(j.state, AgentState::kRolledBack);
        EXPECT_EQ(out->booted, Slot::kA);
      }
      if (out->booted == Slot::kB) {
        EXPECT_EQ(j.state, AgentState::kCommitted);
        EXPECT_EQ(d.dev().SlotPrefix(Slot::kB, kImage), v2);
        ++counts.ended_new;
      } else {
        EXPECT_NE(j.state, AgentState::kCommitted);

        EXPECT_EQ(d.dev().SlotPrefix(Slot::kA, kImage), v1);
        ++counts.ended_old;
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  std::printf(
      "[ sweep    ] %s: %llu cut points, %llu power-cut runs (plain + torn) all passed: "
      "%llu ended on the new image, %llu on the old one (%llu cut before the install was "
      "journaled; %llu of the runs cut during rollback)\n",
      sweep.name, static_cast<unsigned long long>(counts.cut_points),
      static_cast<unsigned long long>(counts.runs),
      static_cast<unsigned long long>(counts.ended_new),
      static_cast<unsigned long long>(counts.ended_old),
      static_cast<unsigned long long>(counts.not_started),
      static_cast<unsigned long long>(counts.in_rollback));
  if (sweep.expect == Expect::kUpdated) {
    EXPECT_EQ(counts.ended_old, counts.not_started);
    EXPECT_GT(counts.ended_new, 0u);
  }
  if (!sweep.healthy) {
    EXPECT_GT(counts.in_rollback, 0u);
  }
}

TEST(PowerCutSweep, FullImageUpdate) { RunSweep({"full image", false, true, Expect::kUpdated}); }

TEST(PowerCutSweep, DeltaUpdate) { RunSweep({"delta", true, true, Expect::kUpdated}); }

TEST(PowerCutSweep, FullImageUpdateBehindAWriteBackCache) {
  RunSweep({"full image, write-back cache", false, true, Expect::kUpdated, true});
}

TEST(PowerCutSweep, UnhealthyUpdateAndCutsDuringRollback) {
  RunSweep({"failing health check", false, false, Expect::kRolledBack});
}

}  // namespace
}  // namespace uplift::agent
