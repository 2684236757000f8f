// The group-commit writer shared by both backends: one thread takes every report queued while
// the previous transaction was committing and commits them together, so N concurrent devices
// cost one fsync, not N; the same thread writes the soft state in batches.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "store_backend.hpp"

namespace uplift::server::internal {
namespace {

bool ValidId(const std::string& s) {
  return !s.empty() && s.size() <= kMaxIdLength && s.find('\0') == std::string::npos;
}
bool ValidText(const std::string& s, std::size_t max) {
  return s.size() <= max && s.find('\0') == std::string::npos;
}
bool ValidReportId(const std::string& s) {
  if (s.size() > kMaxReportIdLength) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

class GroupStore final : public DeviceStore {
 public:
  GroupStore(std::unique_ptr<Backend> backend, StoreOptions options)
      : backend_(std::move(backend)), options_(options) {
    if (options_.max_group == 0) options_.max_group = 1;
    writer_ = std::thread([this] { Run(); });
  }
  ~GroupStore() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }

  Result<std::int64_t> AppendReport(const DeviceReport& report) override {
    UPLIFT_TRY(Validate(report));
    Pending p{&report};
    std::unique_lock lock(mu_);
    if (stop_) return Error(StoreErrc::kClosed, "store is closing");
    queue_.push_back(&p);
    cv_.notify_all();
    done_cv_.wait(lock, [&] { return p.done; });
    return std::move(p.result);
  }

  Status PutState(const DeviceState& state) override {
    UPLIFT_TRY(Validate(state));
    std::lock_guard lock(mu_);
    if (stop_) return Error(StoreErrc::kClosed, "store is closing");
    states_[{state.tenant, state.device_id}] = state;
    if (states_.size() >= options_.state_flush_max) cv_.notify_all();
    return Ok();
  }

  Status FlushState() override {
    std::unique_lock lock(mu_);
    const std::uint64_t want = ++flush_requests_;
    cv_.notify_all();
    done_cv_.wait(lock, [&] { return flushes_done_ >= want; });
    if (flush_error_) return *flush_error_;
    return Ok();
  }

  Result<std::optional<DeviceState>> GetState(const std::string& tenant,
                                              const std::string& device_id) override {
    return backend_->GetState(tenant, device_id);
  }
  Result<std::vector<StoredReport>> Reports(const std::string& tenant, const std::string& device_id,
                                            std::int64_t after_seq, std::size_t limit) override {
    return backend_->Reports(tenant, device_id, after_seq, limit);
  }
  int schema_version() const override { return backend_->schema_version(); }
  std::uint64_t report_commits() const override { return commits_.load(); }

 private:
  struct Pending {
    const DeviceReport* report;
    bool done = false;
    Result<std::int64_t> result = Error(StoreErrc::kClosed, "not committed");
  };

  void Run() {
    std::unique_lock lock(mu_);
    auto next_flush = std::chrono::steady_clock::now() + options_.state_flush_interval;
    for (;;) {
      cv_.wait_until(lock, next_flush, [&] {
        return stop_ || !queue_.empty() || flush_requests_ > flushes_done_ ||
               states_.size() >= options_.state_flush_max;
      });
      if (!queue_.empty()) {
        std::vector<Pending*> batch;
        while (!queue_.empty() && batch.size() < options_.max_group) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
        lock.unlock();
        std::vector<const DeviceReport*> reports;
        reports.reserve(batch.size());
        for (Pending* p : batch) reports.push_back(p->report);
        auto seqs = backend_->CommitReports(reports);
        commits_ += 1;
        lock.lock();
        for (std::size_t i = 0; i < batch.size(); ++i) {
          batch[i]->result =
              seqs.ok() ? Result<std::int64_t>((*seqs)[i]) : Result<std::int64_t>(seqs.error());
          batch[i]->done = true;
        }
        done_cv_.notify_all();
        continue;  // reports first: they are what a device waits for
      }
      const auto now = std::chrono::steady_clock::now();
      const std::uint64_t requested = flush_requests_;
      if (now >= next_flush || requested > flushes_done_ ||
          states_.size() >= options_.state_flush_max || stop_) {
        std::map<std::pair<std::string, std::string>, DeviceState> batch;
        batch.swap(states_);
        lock.unlock();
        Status st = Ok();
        if (!batch.empty()) {
          std::vector<DeviceState> states;
          states.reserve(batch.size());
          for (auto& [k, v] : batch) states.push_back(std::move(v));
          st = backend_->CommitStates(states);
        }
        lock.lock();
        flush_error_.reset();
        if (!st.ok()) flush_error_ = st.error();
        flushes_done_ = std::max(flushes_done_, requested);
        done_cv_.notify_all();
        next_flush = std::chrono::steady_clock::now() + options_.state_flush_interval;
      }
      if (stop_ && queue_.empty() && states_.empty()) return;
    }
  }

  std::unique_ptr<Backend> backend_;
  StoreOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;       // wakes the writer
  std::condition_variable done_cv_;  // wakes callers
  std::deque<Pending*> queue_;
  std::map<std::pair<std::string, std::string>, DeviceState> states_;
  std::uint64_t flush_requests_ = 0;
  std::uint64_t flushes_done_ = 0;
  std::optional<Error> flush_error_;
  bool stop_ = false;
  std::atomic<std::uint64_t> commits_{0};
  std::thread writer_;
};

}  // namespace

std::unique_ptr<DeviceStore> MakeGroupStore(std::unique_ptr<Backend> backend,
                                            StoreOptions options) {
  return std::make_unique<GroupStore>(std::move(backend), options);
}

Status Validate(const DeviceReport& r) {
  if (!ValidId(r.tenant) || !ValidId(r.device_id)) {
    return Error(StoreErrc::kInvalid, "tenant and device id must be 1-128 bytes without NUL");
  }
  if (!ValidText(r.phase, 32) || r.phase.empty() || !ValidText(r.result, 32) ||
      !ValidText(r.reason, kMaxReasonBytes)) {
    return Error(StoreErrc::kInvalid, "report phase/result/reason out of bounds");
  }
  if (!ValidReportId(r.report_id)) {
    return Error(StoreErrc::kInvalid, "report id must be up to 64 characters of [A-Za-z0-9_-]");
  }
  if (r.release_id < 0) return Error(StoreErrc::kInvalid, "release id must not be negative");
  if (r.progress < 0 || r.progress > 100) {
    return Error(StoreErrc::kInvalid, "progress must be 0..100, got " + std::to_string(r.progress));
  }
  return Ok();
}

Status Validate(const DeviceState& s) {
  if (!ValidId(s.tenant) || !ValidId(s.device_id)) {
    return Error(StoreErrc::kInvalid, "tenant and device id must be 1-128 bytes without NUL");
  }
  if (!ValidText(s.inventory, kMaxInventoryBytes)) {
    return Error(StoreErrc::kInvalid, "inventory larger than 64 KiB or with NUL");
  }
  return Ok();
}

}  // namespace uplift::server::internal
