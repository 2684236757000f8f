// Whole update cycles on a simulated device: install, reboot through the simulated bootloader,
// trial, commit or roll back; and every refusal, each with its own error and nothing written.
#include "uplift/agent/agent.hpp"

#include <gtest/gtest.h>

#include "agent_test_support.hpp"
#include "uplift/delta/errors.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::agent {
namespace {

using boot::Slot;
using format::AgentState;
using testing::AgentRun;
using testing::Drive;
using testing::MakeBundle;
using testing::Pattern;
using testing::SimDevice;

constexpr std::size_t kImage = 48 * 1024;
constexpr std::uint64_t kSlot = 64 * 1024;

struct AgentCycle : ::testing::Test {
  SimDevice dev{kSlot};
  AgentRun run;
  Bytes v1 = Pattern(kImage, 1);
  Bytes v2 = testing::Evolve(v1, 2);

  void SetUp() override { dev.Factory(v1); }

  Result<testing::Outcome> InstallAndDrive(const Bytes& bundle, const std::string& name = "b") {
    run.bundles.emplace_back(name, bundle);
    return Drive(dev, run, [&](Agent& a) { return a.Install(name); });
  }
};

TEST_F(AgentCycle, FullUpdateCommitsTheNewSlot) {
  auto out = InstallAndDrive(MakeBundle(v2));
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->booted, Slot::kB);
  EXPECT_EQ(out->journal.state, AgentState::kCommitted);
  EXPECT_EQ(out->journal.active_slot, 1);
  EXPECT_EQ(out->journal.committed_security_counter, 2u);
  EXPECT_FALSE(out->journal.last_error);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v2);
  EXPECT_EQ(dev.SlotPrefix(Slot::kA, kImage), v1);  // the old slot was never touched
  ASSERT_TRUE(out->journal.slots[1]);
  EXPECT_EQ(out->journal.slots[1]->version, "2.0.0");
  auto env = dev.boot().Read();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->boot_part, Slot::kB);
  EXPECT_FALSE(env->upgrade_available);
  EXPECT_EQ(env->bootcount, 0u);
}

TEST_F(AgentCycle, DeltaUpdateCommitsAndASecondUpdateGoesBackToSlotA) {
  auto first = InstallAndDrive(MakeBundle(v2));
  ASSERT_TRUE(first.ok()) << first.error().message();
  const Bytes v3 = testing::Evolve(v2, 3);
  testing::BundleOptions o;
  o.version = "3.0.0";
  o.security_counter = 3;
  o.delta_from = &v2;
  auto out = InstallAndDrive(MakeBundle(v3, o), "delta");
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->booted, Slot::kA);
  EXPECT_EQ(out->journal.state, AgentState::kCommitted);
  EXPECT_EQ(out->journal.update->kind, format::PayloadKind::kDelta);
  EXPECT_EQ(dev.SlotPrefix(Slot::kA, kImage), v3);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v2);
  EXPECT_EQ(out->journal.committed_security_counter, 3u);
}

TEST_F(AgentCycle, FailedHealthCheckRollsBackAndKeepsTheReason) {
  run.health = [] { return Status(Error(Errc::kHealthCheckFailed, "app did not start")); };
  auto out = InstallAndDrive(MakeBundle(v2));
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->booted, Slot::kA);
  EXPECT_EQ(out->journal.state, AgentState::kRolledBack);
  EXPECT_EQ(out->journal.active_slot, 0);
  EXPECT_EQ(out->journal.committed_security_counter, 0u);  // never committed: floor unchanged
  ASSERT_TRUE(out->journal.last_error);
  EXPECT_EQ(out->journal.last_error->code, static_cast<int>(Errc::kHealthCheckFailed));
  EXPECT_NE(out->journal.last_error->message.find("app did not start"), std::string::npos);
  EXPECT_EQ(out->journal.last_error->state, AgentState::kTrialBoot);
  EXPECT_EQ(dev.SlotPrefix(Slot::kA, kImage), v1);
}

TEST_F(AgentCycle, UnbootableImageIsAbandonedByTheBootloaderAndRolledBack) {
  dev.bootable = [](Slot s) { return s == Slot::kA; };
  auto out = InstallAndDrive(MakeBundle(v2));
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->booted, Slot::kA);
  EXPECT_EQ(out->journal.state, AgentState::kRolledBack);
  EXPECT_EQ(out->journal.last_error->code, static_cast<int>(Errc::kRolledBack));
}

TEST_F(AgentCycle, HealthyBootAtRestResetsTheBootCounter) {
  ASSERT_TRUE(Drive(dev, run).ok());                // factory boot: journal created
  ASSERT_TRUE(dev.boot().ArmTrial(Slot::kA).ok());  // e.g. left over from a manual test
  auto out = Drive(dev, run);
  ASSERT_TRUE(out.ok()) << out.error().message();
  auto env = dev.boot().Read();
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->upgrade_available);
  EXPECT_EQ(env->bootcount, 0u);
}

TEST_F(AgentCycle, ManualCommitAndRollback) {
  run.bundles.emplace_back("b", MakeBundle(v2));
  {
    Agent a = run.Make(dev, Slot::kA);
    ASSERT_TRUE(a.Recover().ok());
    ASSERT_TRUE(a.Install("b").ok());
    EXPECT_TRUE(run.rebooter.requested);
    EXPECT_EQ(a.journal().state, AgentState::kInstalled);
    const Status busy = a.Install("b");
    ASSERT_FALSE(busy.ok());
    EXPECT_TRUE(busy.error().Is(Errc::kBusy));
    const Status wrong = a.Commit();  // still running the old slot
    ASSERT_FALSE(wrong.ok());
    EXPECT_TRUE(wrong.error().Is(Errc::kWrongSlot));
  }
  auto slot = dev.Boot();
  ASSERT_TRUE(slot.ok());
  ASSERT_EQ(*slot, Slot::kB);
  Agent b = run.Make(dev, Slot::kB);
  ASSERT_TRUE(b.Commit().ok());
  EXPECT_EQ(b.journal().state, AgentState::kCommitted);
  const Status again = b.Commit();
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().Is(Errc::kNothingToDo));

  // Roll back the next update before rebooting into it.
  testing::BundleOptions o;
  o.version = "3.0.0";
  o.security_counter = 3;
  run.bundles.emplace_back("c", MakeBundle(testing::Evolve(v2, 9), o));
  ASSERT_TRUE(b.Install("c").ok());
  ASSERT_TRUE(b.Rollback().ok());
  EXPECT_EQ(b.journal().state, AgentState::kRolledBack);
  auto env = dev.boot().Read();
  EXPECT_EQ(env->boot_part, Slot::kB);
  EXPECT_FALSE(env->upgrade_available);
  EXPECT_EQ(*dev.Boot(), Slot::kB);
}

// Without journaled facts about the active slot (a factory device), the delta applier itself
// checks the source before it writes a byte.
TEST_F(AgentCycle, DeltaFromAnotherSourceIsRefusedByTheApplierBeforeWriting) {
  const Bytes other = Pattern(kImage, 99);
  testing::BundleOptions o;
  o.delta_from = &other;
  run.bundles.emplace_back("d", MakeBundle(v2, o));
  Agent a = run.Make(dev, Slot::kA);
  ASSERT_TRUE(a.Recover().ok());
  ASSERT_FALSE(a.journal().slots[0]);
  const Bytes before = dev.SlotPrefix(Slot::kB, kSlot);
  const std::uint64_t ops = dev.flash().operations();
  const Status st = a.Install("d");
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(delta::Errc::kSourceMismatch)) << st.error().message();
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kSlot), before);
  // Journal records only (verifying, installing, failed): a slot erase would add 16 blocks.
  EXPECT_LT(dev.flash().operations() - ops, 16u);
  EXPECT_EQ(a.journal().state, AgentState::kFailed);
  EXPECT_FALSE(run.rebooter.requested);
}

TEST_F(AgentCycle, JournalOfAnUnknownSchemaIsRefused) {
  ASSERT_TRUE(dev.journal().Store(AsBytes(R"({"schema":9})")).ok());
  Agent a = run.Make(dev, Slot::kA);
  const Status st = a.Recover();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(format::JournalErrc::kUnsupportedSchema)) << st.error().message();
}

// --- refusals: each its own error, nothing written to the slot ------------------------------

struct Refusal {
  const char* name;
  std::function<Bytes(const Bytes& v1, const Bytes& v2)> bundle;
  std::function<bool(const Error&)> expected;
};

Bytes CorruptSignature(Bytes b) {
  const auto h = format::BundleHeader::Decode(ByteView(b).first(format::kHeaderSize));
  if (!h.ok()) std::abort();
  b[format::kHeaderSize + h->manifest_size + h->signatures_size - 1] ^= 1;
  return b;
}

TEST_F(AgentCycle, EveryRefusalHasItsOwnErrorAndWritesNothing) {
  // The first update commits security counter 2 and slot B; refusals are then tried against A.
  ASSERT_TRUE(InstallAndDrive(MakeBundle(v2)).ok());
  const Bytes v3 = testing::Evolve(v2, 3);
  auto with = [&](auto&& tweak) {
    testing::BundleOptions o;
    o.version = "3.0.0";
    o.security_counter = 3;
    tweak(o);
    return MakeBundle(v3, o);
  };
  const Bytes wrong_source = Pattern(kImage, 77);
  const std::vector<Refusal> cases = {
      {"bad signature", [&](auto&, auto&) { return CorruptSignature(with([](auto&) {})); },
       [](const Error& e) { return e.Is(format::Errc::kBadSignature); }},
      {"untrusted key",
       [&](auto&, auto&) { return with([](auto& o) { o.keys = {&testing::TestKeys().other}; }); },
       [](const Error& e) { return e.Is(format::Errc::kBelowThreshold); }},
      {"expired",
       [&](auto&, auto&) { return with([](auto& o) { o.expires = testing::kNow - 1; }); },
       [](const Error& e) { return e.Is(format::Errc::kExpired); }},
      {"downgrade", [&](auto&, auto&) { return with([](auto& o) { o.security_counter = 1; }); },
       [](const Error& e) { return e.Is(format::Errc::kDowngrade); }},
      {"hardware",
       [&](auto&, auto&) { return with([](auto& o) { o.compatible = {"other-board"}; }); },
       [](const Error& e) { return e.Is(format::Errc::kIncompatibleHardware); }},
      {"delta source",
       [&](auto&, auto&) { return with([&](auto& o) { o.delta_from = &wrong_source; }); },
       [](const Error& e) { return e.Is(delta::Errc::kSourceMismatch); }},
      {"no payload", [&](auto&, auto&) { return with([](auto& o) { o.target = "bootloader"; }); },
       [](const Error& e) { return e.Is(Errc::kNoPayload); }},
      {"slot too small",
       [&](auto&, auto&) {
         testing::BundleOptions o;
         o.security_counter = 3;
         return MakeBundle(Pattern(kSlot + 4096, 5), o);
       },
       [](const Error& e) { return e.Is(Errc::kSlotTooSmall); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes before = dev.SlotPrefix(Slot::kA, kSlot);
    const std::uint64_t ops = dev.flash().operations();
    run.bundles.emplace_back(c.name, c.bundle(v1, v2));
    Agent a = run.Make(dev, Slot::kB);
    ASSERT_TRUE(a.Recover().ok());
    const Status st = a.Install(c.name);
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(c.expected(st.error()))
        << st.error().domain() << " " << st.error().code() << " " << st.error().message();
    EXPECT_EQ(dev.SlotPrefix(Slot::kA, kSlot), before);
    EXPECT_EQ(a.journal().state, AgentState::kFailed);
    ASSERT_TRUE(a.journal().last_error);
    EXPECT_EQ(a.journal().last_error->code, st.error().code());
    EXPECT_FALSE(run.rebooter.requested);
    // Only journal writes happened: two records (verifying, failed), each at most a few pages.
    EXPECT_LT(dev.flash().operations() - ops, 40u);
    auto env = dev.boot().Read();
    EXPECT_EQ(env->boot_part, Slot::kB);
    EXPECT_FALSE(env->upgrade_available);
  }
  // Revocation: trusted key revoked, so its signature no longer counts.
  format::TrustStore revoked = testing::TestKeys().trust;
  ASSERT_TRUE(revoked.Revoke(testing::TestKeys().release.Public().id()).ok());
  run.bundles.emplace_back("revoked", with([](auto&) {}));
  AgentOptions opts = run.options;
  // Make() wires the shared trust store; build this agent by hand with the revoking one.
  AgentDeps deps{dev.journal(), dev.slot(Slot::kA), dev.slot(Slot::kB),
                 dev.boot(),    run.rebooter,       run.clock};
  deps.trust = &revoked;
  deps.open_bundle = [&](const BundleRequest&) -> Result<std::unique_ptr<RangeSource>> {
    return std::unique_ptr<RangeSource>(
        std::make_unique<MemoryRangeSource>(run.bundles.back().second));
  };
  Agent r(opts, std::move(deps), Slot::kB);
  const Status st = r.Install("revoked");
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(format::Errc::kRevokedKey)) << st.error().message();
}

}  // namespace
}  // namespace uplift::agent
