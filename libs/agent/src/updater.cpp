#include "uplift/agent/updater.hpp"

#include <algorithm>
#include <cmath>

#include "uplift/base/errors.hpp"

// GCC 12 at -O2 reports copies of QueueState (an optional holding strings) as maybe-uninitialized:
// a false positive of its optional/string inlining; clang and -O0 builds see nothing.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace uplift::agent {
namespace {

using format::JournalEntry;

int PhaseRank(std::string_view phase) {
  if (phase == "downloading") return 1;
  if (phase == "installing") return 2;
  if (phase == "installed") return 3;
  return IsFinalPhase(phase) ? 4 : 0;
}

bool InFlight(AgentState s) {
  return s == AgentState::kDownloading || s == AgentState::kVerifying ||
         s == AgentState::kInstalling;
}

std::string Reason(const JournalEntry& j, std::string_view fallback) {
  if (!j.last_error) return std::string(fallback);
  return "[" + j.last_error->domain + " " + std::to_string(j.last_error->code) + "] " +
         j.last_error->message;
}

}  // namespace

std::string_view OutcomeName(Step::Outcome outcome) {
  switch (outcome) {
    case Step::Outcome::kIdle:
      return "idle";
    case Step::Outcome::kInstalled:
      return "installed";
    case Step::Outcome::kInstallFailed:
      return "install_failed";
    case Step::Outcome::kInFlight:
      return "in_flight";
    case Step::Outcome::kUnavailable:
      return "unavailable";
    case Step::Outcome::kRefused:
      return "refused";
  }
  return "unknown";
}

Updater::Updater(Agent& agent, UpdateService& service, ReportQueue& queue, const Clock& clock,
                 RandomBits random, UpdaterOptions options)
    : agent_(agent),
      service_(service),
      queue_(queue),
      clock_(clock),
      random_(std::move(random)),
      options_(std::move(options)),
      poll_seconds_(std::max<std::uint32_t>(options_.poll_seconds, 1)) {}

format::Inventory Updater::Inventory() const {
  const JournalEntry& j = agent_.journal();
  const auto booted = static_cast<std::size_t>(agent_.booted());
  format::Inventory inv;
  inv.product = options_.product;
  inv.hardware = options_.hardware;
  inv.attributes = options_.attributes;
  if (const auto& facts = j.slots[booted]; facts && !facts->version.empty()) {
    inv.version = facts->version;
    inv.image_sha256 = ToHex(facts->image_sha256);
  } else {
    inv.version = options_.factory_version;
    inv.image_sha256 = options_.factory_image_sha256.empty() ? std::string(64, '0')
                                                             : options_.factory_image_sha256;
  }
  inv.booted_slot = agent_.booted() == boot::Slot::kA ? "a" : "b";
  inv.slot_state = std::string(format::AgentStateName(j.state));
  if (options_.add_inventory) options_.add_inventory(inv);
  return inv;
}

// The agent began the install the context names: Agent::Install journals the URL first. (The
// context is written before Install runs, so a crash in between leaves a context whose install
// never began.)
bool Updater::Started() const {
  const auto& ctx = queue_.state().current;
  const auto& u = agent_.journal().update;
  return ctx && u && u->bundle == ctx->offer.url;
}

Status Updater::Advance(std::string_view phase) {
  QueueState s = queue_.state();
  if (!s.current || PhaseRank(phase) <= PhaseRank(s.current->phase)) return Ok();
  s.current->phase = std::string(phase);
  format::Report r;
  r.time = Now();
  r.release_id = s.current->offer.release_id;
  r.phase = std::string(phase);
  r.progress = phase == "installed" ? 100 : 0;
  return queue_.Save(std::move(s), {std::move(r)});
}

// The final report and the end of the context, in one write: never reported twice, never lost.
Status Updater::Finish(std::string phase, std::string result, std::string reason) {
  QueueState s = queue_.state();
  if (!s.current) return Ok();
  const std::int64_t release = s.current->offer.release_id;
  format::Report r;
  r.time = Now();
  r.release_id = release;
  r.phase = std::move(phase);
  r.progress = r.phase == "committed" ? 100 : 0;
  r.result = std::move(result);
  r.reason = std::move(reason);
  if (r.result == "success") {
    s.failed_release_id = 0;
    s.failed_attempts = 0;
  } else if (r.phase == "rolled_back") {
    // The image itself failed on this device (did not boot, failed its health checks):
    // installing it again would only repeat the download and the rollback.
    s.failed_release_id = release;
    s.failed_attempts = std::max<std::uint32_t>(options_.max_attempts_per_release, 1);
  } else if (s.failed_release_id == release) {
    s.failed_attempts += 1;
  } else {
    s.failed_release_id = release;
    s.failed_attempts = 1;
  }
  s.current.reset();
  return queue_.Save(std::move(s), {std::move(r)});
}

// Compares the journal with the context: reports phases reached and outcomes found (after a
// reboot the outcome is only in the journal).
Status Updater::Reconcile() {
  const auto& ctx = queue_.state().current;
  if (!ctx) return Ok();
  const JournalEntry& j = agent_.journal();
  if (!Started()) {
    // Crashed between writing the context and the install's first journal write: nothing
    // happened to the device; the next check-in offers the update again.
    if (format::IsAtRest(j.state)) {
      QueueState s = queue_.state();
      s.current.reset();
      return queue_.Save(std::move(s));
    }
    return Ok();
  }
  switch (j.state) {
    case AgentState::kCommitted:
      if (ToHex(j.update->image_sha256) != ctx->offer.image_sha256) {
        return Finish("failed", "failure",
                      "committed image " + ToHex(j.update->image_sha256) +
                          " is not the offered image " + ctx->offer.image_sha256);
      }
      return Finish("committed", "success", "");
    case AgentState::kRolledBack:
      return Finish("rolled_back", "failure", Reason(j, "rolled back"));
    case AgentState::kFailed:
      return Finish("failed", "failure", Reason(j, "failed"));
    case AgentState::kIdle:
      return Finish("failed", "failure", "the agent's journal no longer holds the update");
    case AgentState::kInstalled:
    case AgentState::kTrialBoot:
    case AgentState::kRollingBack:
      UPLIFT_TRY(Advance("installing"));
      return Advance("installed");
    case AgentState::kInstalling:
      return Advance("installing");
    case AgentState::kDownloading:
    case AgentState::kVerifying:
      return Ok();
  }
  return Ok();
}

void Updater::OnTransition(AgentState, Event, AgentState to) {
  // Best effort: a failed write here is made good by Reconcile after the install.
  if (to == AgentState::kInstalling) (void)Advance("installing");
  if (to == AgentState::kInstalled) (void)Advance("installed");
}

Result<std::size_t> Updater::Flush() {
  std::size_t sent = 0;
  for (std::size_t n = 0; n < options_.max_report_requests_per_step && queue_.size() > 0; ++n) {
    const auto batch = queue_.Pending(std::max<std::size_t>(options_.reports_per_request, 1));
    auto accepted = service_.SendReports(batch);
    if (accepted.ok()) {
      const std::size_t before = queue_.size();
      UPLIFT_TRY(queue_.Ack(*accepted));
      if (queue_.size() == before) break;  // the server took none of them: do not spin
      sent += before - queue_.size();
      continue;
    }
    if (!accepted.error().Is(base::Errc::kInvalidArgument)) break;  // unreachable or refused
    // The server refuses the batch's content: find the reports it refuses on their own and drop
    // them, or they would block the queue forever.
    for (const auto& r : batch) {
      auto one = service_.SendReports({r});
      if (!one.ok() && !one.error().Is(base::Errc::kInvalidArgument)) return sent;
      UPLIFT_TRY(queue_.Ack({r.id}));
      if (one.ok()) sent += 1;
    }
  }
  return sent;
}

double Updater::Uniform() { return static_cast<double>(random_() >> 11) * 0x1.0p-53; }

std::chrono::milliseconds Updater::Jittered(std::uint32_t seconds, double fraction) {
  const double factor = 1.0 - fraction + 2.0 * fraction * Uniform();
  return std::chrono::milliseconds(std::llround(static_cast<double>(seconds) * 1000.0 * factor));
}

std::chrono::milliseconds Updater::Backoff() {
  const int exp = std::clamp(failures_ - 1, 0, 30);
  const std::uint64_t base = std::min<std::uint64_t>(
      options_.max_backoff_seconds, std::uint64_t{options_.min_backoff_seconds} << exp);
  // Uniform in [base/2, base]: spread out, yet never an immediate retry.
  return std::chrono::milliseconds(
      std::llround(static_cast<double>(base) * 1000.0 * (0.5 + 0.5 * Uniform())));
}

Result<Step> Updater::RunOnce() {
  Step step;
  auto checkin = service_.Checkin(Inventory());
  // Outcomes found in the journal are queued whether or not the server answered.
  UPLIFT_TRY(Reconcile());
  if (!checkin.ok()) {
    step.detail = checkin.error().message();
    if (checkin.error().Is(base::Errc::kUnavailable)) {
      failures_ += 1;
      step.outcome = Step::Outcome::kUnavailable;
      step.next_run = Backoff();
    } else {
      step.outcome = Step::Outcome::kRefused;
      step.next_run = Jittered(options_.refused_backoff_seconds, options_.poll_jitter);
    }
    step.reports_pending = queue_.size();
    return step;
  }
  failures_ = 0;
  poll_seconds_ = checkin->poll_seconds;
  const std::int64_t skew = checkin->server_time - clock_.NowUnix();
  if (skew > 60 || skew < -60) time_offset_ = skew;
  step.offer = checkin->update;
  step.next_run = Jittered(poll_seconds_, options_.poll_jitter);
  UPLIFT_ASSIGN(step.reports_sent, Flush());

  const AgentState state = agent_.journal().state;
  const auto& ctx = queue_.state().current;
  if (InFlight(state) && ctx && Started()) {
    if (step.offer && step.offer->release_id != ctx->offer.release_id) {
      // A newer release replaces the one still downloading (Install abandons it).
      UPLIFT_TRY(Finish("failed", "failure",
                        "superseded by release " + std::to_string(step.offer->release_id)));
      const format::UpdateOffer offer = *step.offer;  // a copy: `step` is moved below
      return Install(offer, std::move(step));
    }
    // Resume the download that kept its place (the network came back).
    const Status st = agent_.Recover();
    UPLIFT_TRY(Reconcile());
    if (!st.ok()) step.detail = st.error().message();
    const AgentState now = agent_.journal().state;
    step.outcome = now == AgentState::kInstalled ? Step::Outcome::kInstalled
                   : format::IsAtRest(now)       ? Step::Outcome::kInstallFailed
                                                 : Step::Outcome::kInFlight;
  } else if (!format::IsAtRest(state)) {
    step.outcome = Step::Outcome::kInFlight;  // armed or on trial: the reboot decides
  } else if (step.offer) {
    const format::UpdateOffer offer = *step.offer;  // a copy: `step` is moved into Install
    const QueueState& s = queue_.state();
    if (offer.image_sha256 == Inventory().image_sha256) {
      step.detail = "offered image " + offer.image_sha256 + " is the running one";
    } else if (s.failed_release_id == offer.release_id &&
               s.failed_attempts >= options_.max_attempts_per_release) {
      step.detail = "release " + std::to_string(offer.release_id) + " failed " +
                    std::to_string(s.failed_attempts) + " times on this device; not retried";
    } else {
      return Install(offer, std::move(step));
    }
  }
  step.reports_pending = queue_.size();
  return step;
}

Result<Step> Updater::Install(const format::UpdateOffer& offer, Step step) {
  QueueState s = queue_.state();
  s.current = UpdateContext{offer, "downloading"};
  format::Report r;
  r.time = Now();
  r.release_id = offer.release_id;
  r.phase = "downloading";
  UPLIFT_TRY(queue_.Save(std::move(s), {std::move(r)}));
  UPLIFT_ASSIGN(const std::size_t early, Flush());  // the server sees the start at once

  const Status st = agent_.Install(offer.url);
  if (!st.ok() && !Started()) {
    // Refused before the agent journaled anything (busy, wrong slot): still an outcome.
    UPLIFT_TRY(Finish("failed", "failure", st.error().message()));
  }
  UPLIFT_TRY(Reconcile());
  UPLIFT_ASSIGN(const std::size_t late, Flush());
  step.reports_sent += early + late;
  step.reports_pending = queue_.size();
  const AgentState now = agent_.journal().state;
  if (!st.ok()) step.detail = st.error().message();
  step.outcome = st.ok() && now == AgentState::kInstalled ? Step::Outcome::kInstalled
                 : format::IsAtRest(now)                  ? Step::Outcome::kInstallFailed
                                                          : Step::Outcome::kInFlight;
  return step;
}

}  // namespace uplift::agent
