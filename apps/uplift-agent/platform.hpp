// The device as the configuration describes it: slot devices, boot environment, journal store,
// hooks, health checks and the reboot command, opened once at start-up.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "uplift/agent/agent.hpp"
#include "uplift/boot/env_boot_control.hpp"
#include "uplift/boot/env_store.hpp"
#include "uplift/format/trust_store.hpp"
#include "uplift/storage/record_store.hpp"
#include "uplift/transport/http_source.hpp"

namespace uplift::agent_app {

// Runs the configured reboot command (no shell) and waits for it.
class CommandRebooter final : public agent::Rebooter {
 public:
  explicit CommandRebooter(std::vector<std::string> argv) : argv_(std::move(argv)) {}
  Status Reboot() override;

 private:
  std::vector<std::string> argv_;
};

struct Platform {
  Config config;
  std::map<std::string, std::unique_ptr<storage::BlockDevice>> files;  // one per path
  std::unique_ptr<storage::BlockDevice> slot_a, slot_b, journal_device;
  std::unique_ptr<boot::EnvStore> env;
  boot::BootVariables names;
  std::unique_ptr<boot::EnvBootControl> boot;
  std::unique_ptr<storage::RecordStore> journal;
  std::optional<format::TrustStore> trust;
  std::unique_ptr<agent::HookRunner> hooks;
  std::vector<std::unique_ptr<agent::HealthCheck>> health;
  std::unique_ptr<CommandRebooter> rebooter;
  SystemClock clock;
  // The retry deadline of downloads opened from now on: the configured one, or the shorter
  // recover_deadline_seconds while a start-up recovery runs.
  std::uint32_t retry_deadline_seconds = 3600;

  agent::AgentOptions Options() const;
  agent::AgentDeps Deps();
};

// libcurl options from the [transport] section; `fetched` bytes already count against the cap.
transport::HttpOptions HttpOptionsOf(const Config::Transport& t, std::uint64_t fetched,
                                     std::uint32_t deadline_seconds);

// Errors that leave an update in flight for later (agent::AgentDeps::keeps_place): an outage,
// and TLS trust failures (a clock not set yet, a captive portal) once the update was verified.
bool KeepsPlace(const Error& e);

// Opens everything; `need_trust` false for commands that never verify a bundle.
Result<std::unique_ptr<Platform>> OpenPlatform(const Config& config, bool need_trust);

// The booted slot: `override_slot` (--booted-slot) if given, else the kernel command line
// parameter config.cmdline_param (value one of config.slot_values, or A/B).
Result<boot::Slot> BootedSlot(const Config& config, const std::string& override_slot);

// Reads the journal without creating one (status must not write). nullopt if none yet.
Result<std::optional<format::JournalEntry>> PeekJournal(storage::RecordStore& store);

}  // namespace uplift::agent_app
