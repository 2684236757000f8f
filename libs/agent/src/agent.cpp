#include "uplift/agent/agent.hpp"

#include <algorithm>

#include "slot_writer.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/delta/errors.hpp"
#include "uplift/delta/native.hpp"
#include "uplift/format/bundle_head.hpp"
#include "uplift/format/bundle_reader.hpp"
#include "uplift/format/payload_codec.hpp"

namespace uplift::agent {
namespace {

using format::AgentState;
using format::JournalEntry;
using format::SlotIndex;

SlotIndex IndexOf(boot::Slot s) { return static_cast<SlotIndex>(s); }
boot::Slot SlotOf(SlotIndex i) { return i == 0 ? boot::Slot::kA : boot::Slot::kB; }
std::string SlotName(boot::Slot s) { return std::string(1, boot::SlotLetter(s)); }

format::JournalError ToJournal(const Error& e, AgentState state) {
  return format::JournalError{std::string(e.domain()), e.code(), e.message(), state};
}

class FunctionSink final : public ByteSink {
 public:
  explicit FunctionSink(std::function<Status(ByteView)> f) : f_(std::move(f)) {}
  Status Write(ByteView data) override { return f_(data); }

 private:
  std::function<Status(ByteView)> f_;
};

}  // namespace

BundleOpener FileBundleOpener() {
  return [](const BundleRequest& r) -> Result<std::unique_ptr<RangeSource>> {
    if (IsRemoteLocation(r.location)) {
      return Error(base::Errc::kInvalidArgument,
                   "this agent has no transport for remote bundles: " + r.location);
    }
    UPLIFT_ASSIGN(auto file, FileRangeSource::Open(r.location, r.validator));
    return std::unique_ptr<RangeSource>(std::move(file));
  };
}

bool IsRemoteLocation(std::string_view location) {
  return location.starts_with("http://") || location.starts_with("https://");
}

Agent::Agent(AgentOptions options, AgentDeps deps, boot::Slot booted)
    : options_(std::move(options)), deps_(std::move(deps)), booted_(booted) {}

Status Agent::Load() {
  UPLIFT_ASSIGN(const auto stored, deps_.journal.Load());
  if (stored) {
    auto parsed = format::ParseJournal(*stored);
    if (!parsed.ok()) return std::move(parsed).error().Context("reading the journal");
    journal_ = std::move(parsed).value();
  } else {
    JournalEntry factory;
    factory.active_slot = IndexOf(booted_);
    UPLIFT_TRY(Save(factory));
  }
  loaded_ = true;
  return Ok();
}

// --- journal and transitions ---------------------------------------------------------------

Status Agent::Save(const JournalEntry& entry) {
  UPLIFT_ASSIGN(const std::string bytes, format::EncodeJournal(entry));
  UPLIFT_TRY(deps_.journal.Store(AsBytes(bytes)));
  journal_ = entry;
  return Ok();
}

Status Agent::Transition(Event event, const std::function<void(JournalEntry&)>& change) {
  const AgentState from = journal_.state;
  UPLIFT_ASSIGN(const AgentState to, NextState(from, event));
  JournalEntry next = journal_;
  next.state = to;
  if (to != from) next.boot_attempts = 0;
  if (change) change(next);
  UPLIFT_TRY(Save(next));  // persist first, act after
  if (deps_.on_transition) deps_.on_transition(from, event, to);
  return Ok();
}

Status Agent::RunHook(HookPhase phase, HookAction action, const std::string& error) {
  if (deps_.hooks == nullptr) return Ok();
  HookContext ctx;
  if (journal_.update) {
    ctx.target_slot = SlotName(SlotOf(journal_.update->target_slot));
    ctx.version = journal_.update->version;
  }
  ctx.error = error;
  return deps_.hooks->Run(phase, action, ctx);
}

Status Agent::Fail(Error error, HookPhase phase) {
  // Error hooks inform; they cannot change the outcome.
  (void)RunHook(phase, HookAction::kError, error.message());
  const AgentState state = journal_.state;
  UPLIFT_TRY(Transition(Event::kFail, [&](JournalEntry& e) {
    e.last_error = ToJournal(error, state);
    CountFetched(e);
  }));
  return error;
}

boot::Slot Agent::Target() const { return SlotOf(journal_.update->target_slot); }

storage::BlockDevice& Agent::SlotDevice(SlotIndex s) {
  return s == 0 ? deps_.slot_a : deps_.slot_b;
}

format::VerifyOptions Agent::Verification() const {
  format::VerifyOptions v;
  v.trust = deps_.trust;
  v.now = deps_.clock.NowUnix();
  v.hardware = options_.hardware;
  v.min_security_counter = journal_.committed_security_counter;
  return v;
}

Result<std::unique_ptr<RangeSource>> Agent::OpenBundle(bool resume) const {
  if (deps_.trust == nullptr) {
    return Error(format::Errc::kBelowThreshold,
                 "no trust store configured: every bundle is refused");
  }
  const auto& u = *journal_.update;
  BundleRequest r;
  r.location = u.bundle;
  if (resume) r.validator = u.progress.source_validator;
  r.fetched_bytes = u.progress.downloaded_bytes;
  return deps_.open_bundle(r);
}

// A network outage is not the update's fault: keep the state and the restart point, note the
// error, and leave the next start-up (or the daemon's next cycle) to resume. The start-up counter
// is reset, so outages never use up the budget meant for crash loops.
Status Agent::KeepPlace(Error error) {
  JournalEntry e = journal_;
  e.boot_attempts = 0;
  e.last_error = ToJournal(error, e.state);
  CountFetched(e);
  UPLIFT_TRY(Save(e));
  return error;
}

bool Agent::KeepsPlace(const Error& e) const {
  if (e.Is(base::Errc::kUnavailable)) return true;
  return deps_.keeps_place && deps_.keeps_place(e);
}

// Bytes fetched so far count against the data cap across runs, whatever ends this one.
void Agent::CountFetched(JournalEntry& e) const {
  if (source_ != nullptr && e.update) {
    e.update->progress.downloaded_bytes =
        std::max(e.update->progress.downloaded_bytes, source_->fetched_bytes());
  }
}

// --- install ---------------------------------------------------------------------------------

Status Agent::Install(const std::string& bundle_location) {
  if (!loaded_) UPLIFT_TRY(Load());
  const AgentState s = journal_.state;
  if (s == AgentState::kDownloading || s == AgentState::kVerifying ||
      s == AgentState::kInstalling) {
    // Nothing is armed yet: the unfinished update is abandoned (failed, with the reason) and
    // the new one starts. Never wedged behind a bundle that became unreachable.
    (void)Fail(Error(Errc::kInterrupted, "superseded by a new install of " + bundle_location),
               s == AgentState::kInstalling ? HookPhase::kInstall : HookPhase::kDownload);
    if (journal_.state != AgentState::kFailed)
      return Error(Errc::kBusy, "could not abandon the unfinished update");
  }
  if (!format::IsAtRest(journal_.state)) {
    return Error(Errc::kBusy, "an update is in state " +
                                  std::string(format::AgentStateName(journal_.state)) +
                                  "; run recover, commit or rollback first");
  }
  if (IndexOf(booted_) != journal_.active_slot) {
    return Error(Errc::kWrongSlot, "running from slot " + SlotName(booted_) +
                                       " but the committed slot is " +
                                       SlotName(SlotOf(journal_.active_slot)) + "; run recover");
  }
  source_.reset();
  verified_head_.reset();
  const bool remote = IsRemoteLocation(bundle_location);
  UPLIFT_TRY(Transition(remote ? Event::kDownload : Event::kInstallLocal, [&](JournalEntry& e) {
    format::JournalUpdate u;
    u.bundle = bundle_location;
    if (remote) u.progress.download_url = bundle_location;
    u.target_slot = IndexOf(boot::Other(booted_));
    e.update = u;
    e.last_error.reset();
  }));
  return ContinueUpdate();
}

Status Agent::ContinueUpdate() {
  int restarts = 0;
  for (;;) {
    const AgentState s = journal_.state;
    if (s == AgentState::kDownloading || s == AgentState::kVerifying) UPLIFT_TRY(Verify());
    if (journal_.state == AgentState::kInstalling) {
      Status st = WriteSlot();
      if (!st.ok() && st.error().Is(base::Errc::kSourceChanged)) {
        Error changed = std::move(st).error();
        if (!IsRemoteLocation(journal_.update->bundle)) {
          return Fail(Error(Errc::kInterrupted, changed.message()), HookPhase::kInstall);
        }
        if (++restarts > options_.max_source_restarts) {
          return Fail(std::move(changed).Context("gave up after " +
                                                 std::to_string(options_.max_source_restarts) +
                                                 " restarts of a changing bundle"),
                      HookPhase::kInstall);
        }
        // Start over from the new version's head; nothing of the old one is kept.
        UPLIFT_TRY(Transition(Event::kRestart, [this](JournalEntry& e) {
          auto& u = *e.update;
          format::JournalProgress fresh;
          fresh.download_url = u.progress.download_url;
          fresh.downloaded_bytes = u.progress.downloaded_bytes;  // the data cap counts on
          u.progress = fresh;
          CountFetched(e);
          e.last_error.reset();
        }));
        source_.reset();
        verified_head_.reset();
        continue;
      }
      UPLIFT_TRY(st);
    }
    if (journal_.state == AgentState::kInstalled) return ArmAndReboot();
    return Ok();
  }
}

Status Agent::Verify() {
  if (Status st = RunHook(HookPhase::kDownload, HookAction::kEnter); !st.ok()) {
    return Fail(std::move(st).error(), HookPhase::kDownload);
  }
  auto refuse = [this](Error e) {
    if (KeepsPlace(e)) return KeepPlace(std::move(e));
    return Fail(std::move(e), HookPhase::kDownload);
  };
  // Whatever the source holds now is what gets verified (and then installed). A bundle replaced
  // between the requests that read its head is read again from the start.
  verified_head_.reset();
  Result<std::unique_ptr<format::BundleHead>> head = Error(base::Errc::kInvalidArgument, "unread");
  for (int attempt = 0;; ++attempt) {
    source_.reset();
    auto src = OpenBundle(/*resume=*/false);
    if (!src.ok()) return refuse(std::move(src).error());
    source_ = std::move(*src);
    head = format::BundleHead::Read(*source_, Verification());
    if (head.ok()) break;
    if (!head.error().Is(base::Errc::kSourceChanged) || attempt >= options_.max_source_restarts) {
      return refuse(std::move(head).error());
    }
  }
  format::BundleReader* reader = &(*head)->reader();
  const format::Manifest& m = reader->manifest();

  const format::PayloadInfo* payload = nullptr;
  for (const auto& p : m.payloads) {
    if (p.target == options_.payload_target) payload = &p;
  }
  if (payload == nullptr) {
    return Fail(Error(Errc::kNoPayload,
                      "bundle has no payload with target \"" + options_.payload_target + "\""),
                HookPhase::kDownload);
  }
  const SlotIndex target = journal_.update->target_slot;
  if (payload->image_size > SlotDevice(target).size()) {
    return Fail(
        Error(Errc::kSlotTooSmall, "image of " + std::to_string(payload->image_size) +
                                       " bytes does not fit slot " + SlotName(SlotOf(target)) +
                                       " of " + std::to_string(SlotDevice(target).size())),
        HookPhase::kDownload);
  }
  const auto& active = journal_.slots[1 - target];
  if (payload->delta_source_sha256 && active &&
      active->image_sha256 != *payload->delta_source_sha256) {
    return Fail(Error(delta::Errc::kSourceMismatch,
                      "delta is for source " + ToHex(*payload->delta_source_sha256) + " but slot " +
                          SlotName(booted_) + " holds " + ToHex(active->image_sha256)),
                HookPhase::kDownload);
  }
  if (Status st = RunHook(HookPhase::kDownload, HookAction::kLeave); !st.ok()) {
    return Fail(std::move(st).error(), HookPhase::kDownload);
  }
  UPLIFT_TRY(Transition(Event::kVerified, [&](JournalEntry& e) {
    auto& u = *e.update;
    u.manifest_sha256 = crypto::Sha256::Of(reader->manifest_bytes());
    u.version = m.version.ToString();
    u.security_counter = m.security_counter;
    u.payload = payload->name;
    u.kind =
        payload->delta_source_sha256 ? format::PayloadKind::kDelta : format::PayloadKind::kFull;
    u.image_size = payload->image_size;
    u.image_sha256 = payload->image_sha256;
    u.delta_source_sha256 = payload->delta_source_sha256;
    format::JournalProgress fresh;
    fresh.download_url = u.progress.download_url;
    fresh.source_validator = source_->validator();
    fresh.downloaded_bytes = source_->fetched_bytes();
    u.progress = fresh;
    e.slots[target].reset();  // about to be overwritten
  }));
  verified_head_ = std::move(*head);
  return Ok();
}

Status Agent::WriteSlot() {
  const format::JournalUpdate u = *journal_.update;
  if (booted_ == Target()) {
    return Fail(Error(Errc::kWrongSlot, "running from slot " + SlotName(booted_) +
                                            ", the install target: refusing to write it"),
                HookPhase::kInstall);
  }
  if (Status st = RunHook(HookPhase::kInstall, HookAction::kEnter); !st.ok()) {
    return Fail(std::move(st).error(), HookPhase::kInstall);
  }
  // kSourceChanged goes back to ContinueUpdate (start over); an outage keeps the place.
  auto stop = [this](Error e) -> Status {
    if (e.Is(base::Errc::kSourceChanged) || e.Is(storage::Errc::kPowerLost)) return e;
    if (KeepsPlace(e)) return KeepPlace(std::move(e));
    return Fail(std::move(e).Context("writing slot " + SlotName(Target())), HookPhase::kInstall);
  };
  // Straight after Verify() the same source and head are used; after a restart both are read
  // again (the head is authenticated again: the journal is not trusted to vouch for it).
  std::unique_ptr<format::BundleHead> head = std::move(verified_head_);
  if (source_ == nullptr || head == nullptr) {
    source_.reset();
    auto opened = OpenBundle(/*resume=*/true);
    if (!opened.ok()) return stop(std::move(opened).error());
    source_ = std::move(*opened);
    auto read = format::BundleHead::Read(*source_, Verification());
    if (!read.ok()) return stop(std::move(read).error());
    head = std::move(*read);
  }
  format::BundleReader& reader = head->reader();
  if (crypto::Sha256::Of(reader.manifest_bytes()) != u.manifest_sha256) {
    return stop(
        Error(base::Errc::kSourceChanged, "bundle " + u.bundle + " changed since it was verified"));
  }
  const auto& payloads = reader.manifest().payloads;
  std::size_t index = 0;
  while (index < payloads.size() && payloads[index].name != u.payload) ++index;
  if (index == payloads.size()) {
    return stop(
        Error(base::Errc::kSourceChanged, "bundle " + u.bundle + " lost payload " + u.payload));
  }
  if (Status st = StreamImage(*source_, reader, index); !st.ok()) {
    return stop(std::move(st).error());
  }
  source_.reset();  // the download is over: what follows is the read-back and the journal

  storage::BlockDevice& target = SlotDevice(u.target_slot);
  auto digest = internal::HashDevice(target, u.image_size);
  if (!digest.ok()) return std::move(digest).error();
  if (*digest != u.image_sha256) {
    return Fail(
        Error(Errc::kReadbackMismatch, "slot " + SlotName(Target()) + " reads back as " +
                                           ToHex(*digest) + ", expected " + ToHex(u.image_sha256)),
        HookPhase::kInstall);
  }
  UPLIFT_TRY(Transition(Event::kWritten, [&](JournalEntry& e) {
    e.update->progress.output_bytes = u.image_size;
    e.slots[u.target_slot] = format::SlotFacts{u.version, u.image_size, u.image_sha256};
  }));
  if (Status st = RunHook(HookPhase::kInstall, HookAction::kLeave); !st.ok()) {
    return Fail(std::move(st).error(), HookPhase::kInstall);
  }
  return Ok();
}

// Streams the payload from the restart point in the journal into the target slot: the source
// is read from the chunk holding the restart point on, every chunk is verified (a bad one is read
// again alone), decoded or patched, and written. Restart points are journaled where the format
// allows a fresh decoder to start: any aligned offset of an uncompressed image, a zstd frame
// boundary, a delta segment boundary.
Status Agent::StreamImage(RangeSource& src, format::BundleReader& reader, std::size_t index) {
  const format::JournalUpdate u = *journal_.update;
  const format::PayloadInfo& p = reader.manifest().payloads[index];
  storage::BlockDevice& target = SlotDevice(u.target_slot);
  const std::uint64_t unit =
      std::max<std::uint64_t>({target.erase_size(), target.program_size(), 1});
  const std::uint64_t every = (options_.checkpoint_bytes + unit - 1) / unit * unit;

  // A restart point is trusted only if it is one the writer could have recorded.
  std::uint64_t out0 = u.progress.output_bytes;
  std::uint64_t stored0 = u.progress.stored_offset;
  std::uint32_t segment0 = u.progress.delta_segment;
  bool valid = out0 % unit == 0 && out0 <= u.image_size && stored0 <= p.size;
  if (u.kind == format::PayloadKind::kDelta) {
    valid = valid && p.compression == format::Compression::kNone &&
            (segment0 == 0) == (out0 == 0) && (segment0 == 0) == (stored0 == 0);
  } else if (p.compression == format::Compression::kNone) {
    valid = valid && segment0 == 0 && stored0 == out0;
  } else {
    valid = valid && segment0 == 0 && (stored0 == 0) == (out0 == 0);
  }
  if (!valid) out0 = stored0 = segment0 = 0;

  format::ChunkRefetch refetch;
  refetch.source = &src;
  refetch.max_attempts = options_.max_chunk_attempts;
  auto stream = [&](std::uint64_t begin, std::uint64_t end, ByteSink& sink) -> Status {
    const auto window = reader.ChunkWindow(index, begin, end);
    UPLIFT_ASSIGN(auto in, src.OpenRange(window.first, window.second));
    return reader.StreamPayload(index, begin, end, *in, sink, refetch);
  };
  auto checkpoint = [&](std::uint64_t output, std::uint32_t segment, std::uint64_t stored) {
    JournalEntry e = journal_;
    auto& pr = e.update->progress;
    pr.output_bytes = output;
    pr.delta_segment = segment;
    pr.stored_offset = stored;
    pr.downloaded_bytes = src.fetched_bytes();
    // Progress since the last start-up: whatever interrupted us is not a loop at one spot.
    e.boot_attempts = 0;
    return Save(e);
  };

  if (u.kind == format::PayloadKind::kFull && p.compression == format::Compression::kNone) {
    internal::SlotWriter out(target, out0, every,
                             [&](std::uint64_t pos) { return checkpoint(pos, 0, pos); });
    UPLIFT_TRY(stream(out0, p.size, out));
    return out.Finish();
  }
  if (u.kind == format::PayloadKind::kFull) {
    internal::SlotWriter out(target, out0);
    format::ZstdDecompressSink decoder(out, u.image_size - out0);
    std::uint64_t last = out0;
    decoder.set_on_frame_end([&](std::uint64_t input_end, std::uint64_t output_end) -> Status {
      const std::uint64_t output = out0 + output_end;
      if (output - last < every || output >= u.image_size) return Ok();
      UPLIFT_ASSIGN(const bool durable, out.Checkpoint());
      if (!durable) return Ok();  // a frame end off the erase grid: not a restart point
      last = output;
      return checkpoint(output, 0, stored0 + input_end);
    });
    UPLIFT_TRY(stream(stored0, p.size, decoder));
    UPLIFT_TRY(decoder.Finish());
    if (out0 + decoder.output_size() != u.image_size) {
      return Error(format::Errc::kDecompress,
                   "payload decodes to " + std::to_string(out0 + decoder.output_size()) +
                       " bytes, the manifest says " + std::to_string(u.image_size));
    }
    return out.Finish();
  }

  storage::BlockDevice& active = SlotDevice(static_cast<SlotIndex>(1 - u.target_slot));
  const auto old_image = storage::MakeDeviceReader(active, 0, active.size());
  internal::SlotWriter out(target, out0);
  delta::NativeApplyOptions opts;
  opts.verify_source = true;
  opts.max_new_size = target.size();
  opts.resume_segment = segment0;
  opts.resume_patch_offset = stored0;
  delta::NativeApplier applier(*old_image, out, opts);
  std::uint32_t segment = segment0;
  std::uint64_t last = out0;
  // Checkpoints at segment boundaries: the applier's only restart points.
  FunctionSink feed([&](ByteView d) -> Status {
    UPLIFT_TRY(applier.Write(d));
    const auto pr = applier.progress();
    if (pr.segments_done > segment && pr.new_offset == out.pos() && pr.new_offset - last >= every &&
        pr.new_offset < u.image_size) {
      UPLIFT_ASSIGN(const bool durable, out.Checkpoint());
      if (durable) {
        segment = pr.segments_done;
        last = pr.new_offset;
        UPLIFT_TRY(checkpoint(pr.new_offset, segment, pr.patch_offset));
      }
    }
    return Ok();
  });
  // Resuming: the patch's fixed header, then the patch from the restart point on.
  if (segment0 > 0) UPLIFT_TRY(stream(0, delta::kNativeHeaderSize, feed));
  UPLIFT_TRY(stream(stored0, p.size, feed));
  UPLIFT_TRY(applier.Finish());
  return out.Finish();
}

// Installed, still running from the old slot: arm the trial (once more if the arm never reached
// the environment) and reboot; or notice that the bootloader already gave up on the new slot.
Status Agent::ArmAndReboot() {
  UPLIFT_ASSIGN(const boot::BootState env, deps_.boot.Read());
  const auto& u = *journal_.update;
  const bool armed = env.upgrade_available && env.boot_part == Target();
  if (!armed) {
    if (u.arm_count > 0 && env.bootcount > 0) {
      return StartRollback(
          Error(Errc::kRolledBack, "the bootloader fell back to slot " + SlotName(booted_) +
                                       " after " + std::to_string(env.bootcount) +
                                       " boot attempts of slot " + SlotName(Target())));
    }
    if (u.arm_count >= options_.max_arms) {
      return StartRollback(Error(Errc::kRolledBack, "slot " + SlotName(Target()) + " armed " +
                                                        std::to_string(u.arm_count) +
                                                        " times but never booted"));
    }
    if (Status st = RunHook(HookPhase::kReboot, HookAction::kEnter); !st.ok()) {
      return Fail(std::move(st).error(), HookPhase::kReboot);
    }
    JournalEntry e = journal_;
    e.update->arm_count += 1;
    UPLIFT_TRY(Save(e));  // counted before acting, so a loop of arms ends
    UPLIFT_TRY(deps_.boot.ArmTrial(Target()));
  }
  return deps_.rebooter.Reboot();
}

// --- recovery --------------------------------------------------------------------------------

Status Agent::ResumeCounted(const std::function<Status(Error)>& give_up) {
  const AgentState state = journal_.state;
  if (journal_.boot_attempts + 1 > options_.max_boot_attempts) {
    return give_up(Error(Errc::kInterrupted,
                         std::string("gave up after ") + std::to_string(journal_.boot_attempts) +
                             " start-ups in state " + std::string(format::AgentStateName(state))));
  }
  return Transition(Event::kResume, [](JournalEntry& e) { e.boot_attempts += 1; });
}

Status Agent::Recover() {
  if (!loaded_) UPLIFT_TRY(Load());
  switch (journal_.state) {
    case AgentState::kIdle:
    case AgentState::kCommitted:
    case AgentState::kRolledBack:
    case AgentState::kFailed: {
      if (IndexOf(booted_) != journal_.active_slot) {
        // The bootloader chose another slot than the committed one (a fall-back after commit,
        // or a manual switch): what runs is what counts from now on; keep a note of it.
        JournalEntry e = journal_;
        e.last_error =
            ToJournal(Error(Errc::kWrongSlot, "booted slot " + SlotName(booted_) +
                                                  " instead of committed slot " +
                                                  SlotName(SlotOf(e.active_slot)) + "; adopted it"),
                      e.state);
        e.active_slot = IndexOf(booted_);
        UPLIFT_TRY(Save(e));
      }
      // A healthy boot at rest: reset the boot counter (MarkGood skips a write if nothing changes).
      return deps_.boot.MarkGood(booted_);
    }
    case AgentState::kDownloading:
    case AgentState::kVerifying:
    case AgentState::kInstalling: {
      const HookPhase phase =
          journal_.state == AgentState::kInstalling ? HookPhase::kInstall : HookPhase::kDownload;
      UPLIFT_TRY(ResumeCounted([&](Error e) { return Fail(std::move(e), phase); }));
      return ContinueUpdate();
    }
    case AgentState::kInstalled:
      if (booted_ == Target()) {
        UPLIFT_TRY(Transition(Event::kBooted, [](JournalEntry& e) { e.boot_attempts = 1; }));
        return Trial();
      }
      return ArmAndReboot();
    case AgentState::kTrialBoot:
      if (booted_ != Target()) {
        return StartRollback(Error(Errc::kRolledBack, "the bootloader fell back to slot " +
                                                          SlotName(booted_) + " during the trial"));
      }
      UPLIFT_TRY(ResumeCounted([&](Error e) {
        return StartRollback(std::move(e).Context("reboot loop in trial boot"));
      }));
      if (journal_.state != AgentState::kTrialBoot) return Ok();
      return Trial();
    case AgentState::kRollingBack:
      // MarkGood(old) is idempotent: no counter needed, rolling back must always finish.
      return FinishRollback();
  }
  return Error(Errc::kBadTransition, "unknown state in journal");
}

Status Agent::Trial() {
  if (Status st = RunHook(HookPhase::kReboot, HookAction::kLeave); !st.ok()) {
    (void)RunHook(HookPhase::kReboot, HookAction::kError, st.error().message());
    return StartRollback(std::move(st).error());
  }
  for (HealthCheck* check : deps_.health) {
    if (Status st = check->Run(); !st.ok()) {
      return StartRollback(std::move(st).error().Context("health check " + check->name()));
    }
  }
  if (Status st = RunHook(HookPhase::kCommit, HookAction::kEnter); !st.ok()) {
    (void)RunHook(HookPhase::kCommit, HookAction::kError, st.error().message());
    return StartRollback(std::move(st).error());
  }
  return DoCommit();
}

Status Agent::DoCommit() {
  const auto& u = *journal_.update;
  const SlotIndex target = u.target_slot;
  const std::uint64_t floor = std::max(journal_.committed_security_counter, u.security_counter);
  UPLIFT_TRY(Transition(Event::kHealthy, [&](JournalEntry& e) {
    e.active_slot = target;
    e.committed_security_counter = floor;
    e.last_error.reset();
  }));
  UPLIFT_TRY(deps_.boot.MarkGood(SlotOf(target)));
  if (Status st = RunHook(HookPhase::kCommit, HookAction::kLeave); !st.ok()) {
    // Committed is committed: a Leave hook can only report.
    JournalEntry e = journal_;
    e.last_error = ToJournal(st.error(), AgentState::kCommitted);
    UPLIFT_TRY(Save(e));
  }
  return Ok();
}

Status Agent::StartRollback(Error reason) {
  // Rolling back is the safe direction: Rollback hooks are told, never asked.
  (void)RunHook(HookPhase::kRollback, HookAction::kEnter, reason.message());
  const AgentState state = journal_.state;
  UPLIFT_TRY(Transition(Event::kRollback,
                        [&](JournalEntry& e) { e.last_error = ToJournal(reason, state); }));
  return FinishRollback();
}

Status Agent::FinishRollback() {
  const boot::Slot old = boot::Other(Target());
  UPLIFT_TRY(deps_.boot.MarkGood(old));
  if (booted_ != old) return deps_.rebooter.Reboot();
  UPLIFT_TRY(
      Transition(Event::kRolledBack, [&](JournalEntry& e) { e.active_slot = IndexOf(old); }));
  (void)RunHook(HookPhase::kRollback, HookAction::kLeave);
  return Ok();
}

// --- manual ------------------------------------------------------------------------------------

Status Agent::Commit() {
  if (!loaded_) UPLIFT_TRY(Load());
  const AgentState s = journal_.state;
  if (s != AgentState::kInstalled && s != AgentState::kTrialBoot) {
    return Error(Errc::kNothingToDo,
                 "no update on trial (state " + std::string(format::AgentStateName(s)) + ")");
  }
  if (booted_ != Target()) {
    return Error(Errc::kWrongSlot, "running from slot " + SlotName(booted_) +
                                       "; reboot into slot " + SlotName(Target()) +
                                       " before committing it");
  }
  if (s == AgentState::kInstalled) UPLIFT_TRY(Transition(Event::kBooted));
  if (Status st = RunHook(HookPhase::kCommit, HookAction::kEnter); !st.ok()) {
    (void)RunHook(HookPhase::kCommit, HookAction::kError, st.error().message());
    return st;
  }
  return DoCommit();
}

Status Agent::Rollback() {
  if (!loaded_) UPLIFT_TRY(Load());
  const AgentState s = journal_.state;
  if (s == AgentState::kRollingBack) return FinishRollback();
  if (s != AgentState::kInstalled && s != AgentState::kTrialBoot) {
    return Error(Errc::kNothingToDo,
                 "no update to roll back (state " + std::string(format::AgentStateName(s)) + ")");
  }
  return StartRollback(Error(Errc::kRolledBack, "manual rollback"));
}

}  // namespace uplift::agent
