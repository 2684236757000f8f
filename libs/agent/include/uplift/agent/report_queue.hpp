// The device's durable queue of update reports (docs/api/device-api.md §Reports) and the update
// it is working on, in one record of a storage::RecordStore: a report survives reboots, power
// cuts and network outages and is sent once the server is reachable; the server acknowledges
// reports by id, so a resent one is stored once.
//
// The record is JSON (docs/agent.md §Server mode), at most kMaxRecordBytes. Bounded: when
// full, the oldest progress reports are dropped first; final results (committed, rolled_back,
// failed) only when nothing else is left.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"
#include "uplift/format/device_protocol.hpp"
#include "uplift/storage/record_store.hpp"

namespace uplift::agent {

// 64 random bits per call. Injected (no global generator) so tests and the fleet simulator are
// reproducible and agents in one process share nothing.
using RandomBits = std::function<std::uint64_t()>;
// From OpenSSL's DRBG (crypto::RandomBytes); a failing DRBG is a broken invariant (abort).
RandomBits SecureRandomBits();

// The offer the device is installing: written before Agent::Install starts, so the outcome
// found after the reboot is reported against the right release.
struct UpdateContext {
  format::UpdateOffer offer;
  std::string phase;  // the last phase queued for it: downloading, installing or installed
  friend bool operator==(const UpdateContext&, const UpdateContext&) = default;
};

struct QueueState {
  std::optional<UpdateContext> current;
  // The release whose installs failed last, and how many times in a row: the Updater stops
  // taking offers of it after UpdaterOptions::max_attempts_per_release.
  std::int64_t failed_release_id = 0;
  std::uint32_t failed_attempts = 0;
  friend bool operator==(const QueueState&, const QueueState&) = default;
};

bool IsFinalPhase(std::string_view phase);  // committed, rolled_back, failed

class ReportQueue {
 public:
  static constexpr std::size_t kMaxReports = 200;
  static constexpr std::size_t kMaxRecordBytes = 60 * 1024;
  static constexpr std::size_t kMaxQueuedReason = 1024;

  // Loads the record (none yet: an empty queue). A record that is corrupt or does not parse is
  // replaced by an empty queue at the next write, and discarded() says why: lost reports are
  // better than a device that can no longer update. Other store errors are returned.
  static Result<ReportQueue> Open(storage::RecordStore& store, RandomBits random);

  const QueueState& state() const { return state_; }
  std::size_t size() const { return reports_.size(); }
  // The oldest `max` reports, oldest first.
  std::vector<format::Report> Pending(std::size_t max) const;
  // Replaces the state and appends `add` in one durable write. An empty id gets NewId(); a
  // reason is cut to kMaxQueuedReason bytes; then the bounds are applied. On a store error
  // nothing changes in memory either.
  Status Save(QueueState state, std::vector<format::Report> add = {});
  Status Push(format::Report report) { return Save(state_, {std::move(report)}); }
  // Removes the reports with these ids (unknown ids are ignored); writes only if one matched.
  Status Ack(const std::vector<std::string>& ids);

  std::string NewId() const;  // 32 hex digits (128 random bits)
  const std::string& discarded() const { return discarded_; }
  std::uint64_t dropped() const { return dropped_; }  // reports dropped by the bounds so far

 private:
  ReportQueue(storage::RecordStore& store, RandomBits random)
      : store_(&store), random_(std::move(random)) {}
  Status Write(const QueueState& state, std::vector<format::Report> reports);

  storage::RecordStore* store_;
  RandomBits random_;
  QueueState state_;
  std::vector<format::Report> reports_;  // oldest first
  std::string discarded_;
  std::uint64_t dropped_ = 0;
};

}  // namespace uplift::agent
