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
  // Installed from a URL (a remote source in memory): the downloading state is swept too, and a
  // resume must continue from the journaled restart point, not from the bundle's first byte.
  bool remote = false;
  format::Compression compression = format::Compression::kNone;
  std::size_t image = kImage;  // > 64 KiB: a delta of several segments (restart points)
  std::uint64_t slot = kSlot;
};

constexpr const char* kUrl = "https://ota.example/update.upl";

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
      : dev_(sweep.slot), v1_(v1), v2_(v2) {
    dev_.Factory(v1);
    run_.options.checkpoint_bytes = 8 * 1024;  // resumes from restart points are swept too
    run_.bundles.emplace_back("update", bundle);
    if (sweep.remote) {
      remote_->data = bundle;
      run_.open_bundle = testing::RemoteSource::Opener(remote_);
    }
    if (!sweep.healthy) {
      run_.health = [] { return Status(Error(Errc::kHealthCheckFailed, "unhealthy")); };
    }
    // The bootloader never starts a kernel from a torn slot: booting one is a failure here.
    run_.on_boot = [this](Slot s) {
      const Bytes content = dev_.SlotPrefix(s, v1_.size());
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
  testing::RemoteBundle& remote() { return *remote_; }

 private:
  std::shared_ptr<testing::RemoteBundle> remote_ = std::make_shared<testing::RemoteBundle>();
  SimDevice dev_;
  AgentRun run_;
  const Bytes& v1_;
  const Bytes& v2_;
};

void RunSweep(const Sweep& sweep) {
  const Bytes v1 = testing::Pattern(sweep.image, 11);
  const Bytes v2 = testing::Evolve(v1, 12);
  testing::BundleOptions o;
  if (sweep.delta) o.delta_from = &v1;
  o.compression = sweep.compression;
  const Bytes bundle = testing::MakeBundle(v2, o);
  const std::function<Status(Agent&)> Install = [&sweep](Agent& a) {
    return a.Install(sweep.remote ? kUrl : "update");
  };
  const auto bundle_header =
      format::BundleHeader::Decode(ByteView(bundle).first(format::kHeaderSize));
  ASSERT_TRUE(bundle_header.ok());
  const std::uint64_t head = format::kHeaderSize + bundle_header->manifest_size +
                             bundle_header->signatures_size + bundle_header->chunk_index_size;
  const std::uint64_t payload = bundle.size() - head;
  std::uint64_t resumed_mid_payload = 0;

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
      if (s == AgentState::kVerifying || s == AgentState::kDownloading) {
        journaled_at = d.dev().flash().operations();
      }
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

      // Where the journal says the interrupted install stands, and what the source serves from
      // here on: an install in flight resumes from its restart point, not from byte 0.
      std::optional<format::JournalEntry> at_cut;
      if (auto stored = d.dev().journal().Load(); stored.ok() && stored->has_value()) {
        if (auto j = format::ParseJournal(**stored); j.ok()) at_cut = *j;
      }
      const std::uint64_t served_before = d.remote().served;
      const auto out = DriveThroughCuts(d.dev(), d.run());
      ASSERT_TRUE(out.ok()) << out.error().message();
      if (sweep.remote && at_cut && at_cut->state == AgentState::kInstalling &&
          at_cut->update->progress.stored_offset > 0) {
        const std::uint64_t restart = at_cut->update->progress.stored_offset;
        // One head, then the payload from the restart point's chunk (plus, for a cut that also
        // interrupts the resumed run, at most that run again).
        EXPECT_LE(d.remote().served - served_before,
                  2 * (head + payload - restart + format::kMinChunkSize))
            << "restart point " << restart;
        ++resumed_mid_payload;
      }
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
        EXPECT_EQ(d.dev().SlotPrefix(Slot::kB, v1.size()), v2);
        ++counts.ended_new;
      } else {
        EXPECT_NE(j.state, AgentState::kCommitted);

        EXPECT_EQ(d.dev().SlotPrefix(Slot::kA, v1.size()), v1);
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
  if (sweep.remote) {
    std::printf("[ sweep    ] %s: %llu runs resumed the download mid-payload\n", sweep.name,
                static_cast<unsigned long long>(resumed_mid_payload));
    EXPECT_GT(resumed_mid_payload, 0u);
  }
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

TEST(PowerCutSweep, DownloadedFullImageWithZstdFrames) {
  Sweep s{"download, full image, zstd frames"};
  s.remote = true;
  s.compression = format::Compression::kZstd;
  RunSweep(s);
}

TEST(PowerCutSweep, DownloadedDeltaOfThreeSegments) {
  Sweep s{"download, delta of 3 segments"};
  s.remote = true;
  s.delta = true;
  s.image = 136 * 1024;  // segments of 64, 64 and 8 KiB
  s.slot = 192 * 1024;
  RunSweep(s);
}

TEST(PowerCutSweep, UnhealthyUpdateAndCutsDuringRollback) {
  RunSweep({"failing health check", false, false, Expect::kRolledBack});
}

}  // namespace
}  // namespace uplift::agent
