// The update client: one step of the conversation with uplift-server (docs/agent.md §Server
// mode). RunOnce checks in with the device's inventory, reports what happened to the update in
// flight (including outcomes found after a reboot), sends queued reports, and installs an offer
// when the agent is at rest. It never sleeps: it says when to run next, so `uplift-agent daemon`
// sleeps between steps and the fleet simulator runs thousands of updaters on one timeline. No
// global state; everything is injected.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "uplift/agent/agent.hpp"
#include "uplift/agent/report_queue.hpp"
#include "uplift/agent/update_service.hpp"
#include "uplift/base/clock.hpp"

namespace uplift::agent {

struct UpdaterOptions {
  // Inventory (docs/api/device-api.md §Check-in).
  std::string product;
  std::string hardware;
  std::map<std::string, std::string> attributes;
  // What the booted slot runs when the journal does not know (a factory image the agent never
  // installed): reported as the running version and image hash. An empty hash is sent as 64
  // zeros (the server then offers full bundles, never a delta).
  std::string factory_version = "0.0.0";
  std::string factory_image_sha256;
  // Adds live facts (battery, network) to each check-in's inventory.
  std::function<void(format::Inventory&)> add_inventory;

  std::uint32_t poll_seconds = 300;  // until the server's first answer; then the server's
  double poll_jitter = 0.10;         // ± this fraction of the poll interval
  // Server unreachable: min * 2^(n-1) seconds after the n-th failure in a row, capped at max,
  // drawn uniformly from [half, all] of that.
  std::uint32_t min_backoff_seconds = 10;
  std::uint32_t max_backoff_seconds = 3600;
  // The server refused the device (credential revoked, unknown device): wait this long (±jitter).
  std::uint32_t refused_backoff_seconds = 3600;
  // Installs of one release that may fail in a row (download, verification) before its offers
  // are ignored; a release that was rolled back (did not boot, failed its health checks) is not
  // taken again at all. The server should stop offering it; this keeps a device out of a
  // download-and-roll-back loop if it does not.
  std::uint32_t max_attempts_per_release = 3;
  std::size_t reports_per_request = format::kMaxReportsPerRequest;
  std::size_t max_report_requests_per_step = 8;
};

struct Step {
  enum class Outcome {
    kIdle,           // checked in; nothing to install
    kInstalled,      // an update is written and armed, the agent asked for a reboot
    kInstallFailed,  // the offered update failed or was refused (reported)
    kInFlight,       // an update waits: for a reboot, or (kept its place) for the network
    kUnavailable,    // the server could not be reached: backing off
    kRefused,        // the server refused the device: waiting refused_backoff_seconds
  };
  Outcome outcome = Outcome::kIdle;
  std::chrono::milliseconds next_run{0};     // when to call RunOnce again
  std::optional<format::UpdateOffer> offer;  // the check-in's offer, if any
  std::size_t reports_sent = 0;
  std::size_t reports_pending = 0;
  std::string detail;  // why, for logs: the error of a failed step or install
};
std::string_view OutcomeName(Step::Outcome outcome);

class Updater {
 public:
  // Borrows everything; the agent must be loaded (Agent::Load or Recover). `random` draws the
  // jitter.
  Updater(Agent& agent, UpdateService& service, ReportQueue& queue, const Clock& clock,
          RandomBits random, UpdaterOptions options);

  // One step. Errors only when the device itself fails (the report queue cannot be written);
  // the server's and the install's failures are outcomes of the step.
  Result<Step> RunOnce();

  // Queues the progress phases of the update in flight (installing, installed) as the agent
  // reaches them: wire into AgentDeps::on_transition through a TransitionRelay.
  void OnTransition(AgentState from, Event event, AgentState to);

  // The inventory a check-in sends now (running version and image from the journal).
  format::Inventory Inventory() const;

 private:
  Status Reconcile();
  Status Advance(std::string_view phase);
  Status Finish(std::string phase, std::string result, std::string reason);
  Result<std::size_t> Flush();
  Result<Step> Install(const format::UpdateOffer& offer, Step step);
  bool Started() const;
  std::int64_t Now() const { return clock_.NowUnix() + time_offset_; }
  double Uniform();  // [0, 1) from random_
  std::chrono::milliseconds Jittered(std::uint32_t seconds, double fraction);
  std::chrono::milliseconds Backoff();

  Agent& agent_;
  UpdateService& service_;
  ReportQueue& queue_;
  const Clock& clock_;
  RandomBits random_;
  UpdaterOptions options_;
  std::uint32_t poll_seconds_;
  int failures_ = 0;  // check-ins in a row that found the server unavailable
  // Server time minus device time, learned from check-ins: report times stay right on a
  // device whose clock is not set.
  std::int64_t time_offset_ = 0;
};

// AgentDeps::on_transition for an agent whose Updater is built after it (the Updater borrows
// the Agent): forwards to the attached Updater, ignores transitions while none is.
class TransitionRelay {
 public:
  std::function<void(AgentState, Event, AgentState)> Callback() {
    return [this](AgentState from, Event e, AgentState to) {
      if (updater_ != nullptr) updater_->OnTransition(from, e, to);
    };
  }
  void Attach(Updater* updater) { updater_ = updater; }

 private:
  Updater* updater_ = nullptr;
};

}  // namespace uplift::agent
