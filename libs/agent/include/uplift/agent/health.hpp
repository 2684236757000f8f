// Health checks run during a trial boot: all must pass for the agent to commit. A failed check
// rolls the update back and its message is kept in the journal (last_error) for reporting.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::agent {

class HealthCheck {
 public:
  virtual ~HealthCheck() = default;
  virtual std::string name() const = 0;
  // Ok if healthy; agent::Errc::kHealthCheckFailed (or an I/O error) with the reason otherwise.
  virtual Status Run() = 0;
};

// Every executable in dir (lexical order), each with its own timeout; exit 0 = healthy, anything
// else, a kill or the timeout (the check's process group is killed) = unhealthy.
class DirectoryHealthChecks final : public HealthCheck {
 public:
  DirectoryHealthChecks(std::string dir, std::chrono::milliseconds timeout)
      : dir_(std::move(dir)), timeout_(timeout) {}
  std::string name() const override { return "checks in " + dir_; }
  Status Run() override;

 private:
  std::string dir_;
  std::chrono::milliseconds timeout_;
};

// Built-in: the data directory accepts a durable write (a full or read-only data partition after
// an update is a classic way to strand a device).
class DataDirWritableCheck final : public HealthCheck {
 public:
  explicit DataDirWritableCheck(std::string dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "data dir writable"; }
  Status Run() override;

 private:
  std::string dir_;
};

}  // namespace uplift::agent
