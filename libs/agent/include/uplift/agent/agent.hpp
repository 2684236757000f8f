// The device agent: installs bundles into the inactive A/B slot, arms a trial boot, and on every
// start-up recovers whatever was in flight (docs/agent.md §Recovery). Every state change is
// written to the journal before it is acted on, through a RecordStore, so a power cut at any
// operation leaves a state recovery knows how to finish or undo.
//
// Everything the agent touches is injected (journal store, slots, boot control, clock, hooks,
// health checks, reboot), so the fleet simulator can run many agents in one process and the
// power-cut sweep can run whole update cycles on simulated flash.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uplift/agent/errors.hpp"
#include "uplift/agent/health.hpp"
#include "uplift/agent/hooks.hpp"
#include "uplift/agent/state_machine.hpp"
#include "uplift/base/clock.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/range_source.hpp"
#include "uplift/boot/boot_control.hpp"
#include "uplift/format/bundle_head.hpp"
#include "uplift/format/bundle_reader.hpp"
#include "uplift/format/journal.hpp"
#include "uplift/format/trust_store.hpp"
#include "uplift/storage/device.hpp"
#include "uplift/storage/record_store.hpp"

namespace uplift::agent {

// Restarts the device. Ok means the restart was requested; on a real device the agent is killed
// soon after, in tests the harness boots the simulated device again.
class Rebooter {
 public:
  virtual ~Rebooter() = default;
  virtual Status Reboot() = 0;
};

// What the agent asks for when it (re)opens a bundle.
struct BundleRequest {
  std::string location;  // a path, or a URL (IsRemoteLocation)
  // The version recorded before an interruption (RangeSource::validator()); empty: whatever the
  // source holds now. A source that no longer matches fails with base::Errc::kSourceChanged.
  std::string validator;
  std::uint64_t fetched_bytes = 0;  // fetched so far for this update (data caps count on)
};

// Opens a bundle for ranged reading. Called again on every resume and after every interruption.
using BundleOpener = std::function<Result<std::unique_ptr<RangeSource>>(const BundleRequest&)>;
// Local files only (FileRangeSource); the uplift-agent program adds URLs (libs/transport).
BundleOpener FileBundleOpener();
// http:// and https:// locations are downloads: the update starts in state downloading.
bool IsRemoteLocation(std::string_view location);

struct AgentOptions {
  std::string hardware;                   // this device's id in bundles' "compatible" lists
  std::string payload_target = "rootfs";  // the payload target that is this device's slot image
  // Start-ups allowed in one in-flight state (installing, trial boot, ...) before the agent gives
  // up on it: fails an install, rolls back a trial. Breaks reboot loops.
  std::uint32_t max_boot_attempts = 3;
  // Times a trial may be armed for one update before an unexplained fall-back counts as failure.
  std::uint32_t max_arms = 2;
  // Progress is made durable (slot synced, journal written) every this many image bytes
  // (rounded up to the slot's erase size); a resumed install restarts from there.
  std::uint64_t checkpoint_bytes = 8u << 20;
  // A chunk that fails its hash is read again from the source this many times before the
  // install fails (format::Errc::kHashMismatch naming the chunk).
  int max_chunk_attempts = 3;
  // A remote bundle that changes on the server during an install is started over from its head
  // at most this many times in one run.
  int max_source_restarts = 3;
};

struct AgentDeps {
  storage::RecordStore& journal;
  storage::BlockDevice& slot_a;
  storage::BlockDevice& slot_b;
  boot::BootControl& boot;
  Rebooter& rebooter;
  const Clock& clock;
  const format::TrustStore* trust = nullptr;  // null: every bundle is refused
  HookRunner* hooks = nullptr;                // null: no hooks
  std::vector<HealthCheck*> health = {};      // run in order during a trial boot
  BundleOpener open_bundle = FileBundleOpener();
  // Errors of a bundle source that say "not now" rather than "never": the update keeps its place
  // (state and restart point) for a later recover instead of failing. The default knows
  // base::Errc::kUnavailable; uplift-agent adds TLS trust failures (a device whose clock is not
  // set yet sees every certificate as not yet valid).
  std::function<bool(const Error&)> keeps_place = {};
  // Observes every transition after it is journaled (golden traces, logs, later: reports).
  std::function<void(AgentState from, Event event, AgentState to)> on_transition = {};
};

class Agent {
 public:
  // `booted` is the slot the device runs from (kernel command line / simulator); the agent never
  // writes it.
  Agent(AgentOptions options, AgentDeps deps, boot::Slot booted);

  // Reads the journal, or starts a factory journal (idle, active = booted) if there is none.
  // Journal errors (kMalformed, kUnsupportedSchema) and store errors are returned.
  Status Load();

  // Start-up recovery; run on every start, safe to run any number of times at any point:
  // resumes an interrupted install, handles the trial boot (health checks, then commit or roll
  // back), finishes a commit or a rollback, and on a boot at rest marks the booted slot good
  // (resetting the boot counter). Returns Ok when it did what the state asked (a rollback is an
  // outcome, see journal().state and last_error), an error when it could not act.
  Status Recover();

  // Verifies the bundle, writes its image into the inactive slot, reads it back, arms a trial
  // boot and asks for a reboot. An update still downloading or installing (slot not yet armed)
  // is abandoned for the new one, so a device can never be wedged by a bundle that became
  // unreachable. A URL (IsRemoteLocation) is streamed from the network into the
  // slot: every chunk is verified before it is used, and an interruption resumes from the last
  // restart point. A network outage beyond the retry deadline (base::Errc::kUnavailable) keeps
  // the update in flight for the next recover. Refusals (format::Errc: signatures, revoked key,
  // expiry, downgrade, hardware; delta::Errc::kSourceMismatch; kSlotTooSmall, kNoPayload) write
  // nothing to the slot and leave the journal in state failed with the reason. kBusy if an update
  // is in flight.
  Status Install(const std::string& bundle_location);

  // Manual commit of the update on trial (skips health checks). kNothingToDo if none is, and
  // kWrongSlot if the device does not run from the new slot.
  Status Commit();
  // Manual rollback of the update awaiting reboot or on trial. kNothingToDo if there is none.
  Status Rollback();

  const format::JournalEntry& journal() const { return journal_; }
  boot::Slot booted() const { return booted_; }

 private:
  Status Transition(Event event, const std::function<void(format::JournalEntry&)>& change = {});
  Status Save(const format::JournalEntry& entry);
  Status Fail(Error error, HookPhase phase);
  Status RunHook(HookPhase phase, HookAction action, const std::string& error = {});

  Status ContinueUpdate();
  Status Verify();
  Status WriteSlot();
  Status ArmAndReboot();
  Status Trial();
  Status DoCommit();
  Status StartRollback(Error reason);
  Status FinishRollback();
  Status ResumeCounted(const std::function<Status(Error)>& give_up);

  Result<std::unique_ptr<RangeSource>> OpenBundle(bool resume) const;
  Status StreamImage(RangeSource& src, format::BundleReader& reader, std::size_t payload_index);
  Status KeepPlace(Error error);
  bool KeepsPlace(const Error& e) const;
  void CountFetched(format::JournalEntry& e) const;
  format::VerifyOptions Verification() const;
  storage::BlockDevice& SlotDevice(format::SlotIndex s);
  boot::Slot Target() const;

  AgentOptions options_;
  AgentDeps deps_;
  // The bundle source being read (every journal write keeps its data-cap count current), and the
  // head Verify() authenticated: WriteSlot() in the same run uses both, so a download reads the
  // head once and stays on one connection. Both empty after a restart of the process.
  std::unique_ptr<RangeSource> source_;
  std::unique_ptr<format::BundleHead> verified_head_;
  boot::Slot booted_;
  format::JournalEntry journal_;
  bool loaded_ = false;
};

}  // namespace uplift::agent
