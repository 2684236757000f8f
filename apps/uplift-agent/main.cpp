// uplift-agent: the device side. Thin: argument parsing, output and process plumbing here; the
// state machine, journal and installer are libs/agent. Exit codes: docs/agent.md.
#include <dirent.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config.hpp"
#include "platform.hpp"
#include "server_mode.hpp"
#include "uplift/agent/errors.hpp"
#include "uplift/boot/simulated_bootloader.hpp"
#include "uplift/crypto/errors.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/delta/errors.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/storage/device.hpp"
#include "uplift/transport/errors.hpp"

#ifndef UPLIFT_VERSION
#define UPLIFT_VERSION "0.0.0"
#endif

namespace uplift::agent_app {
namespace {

using Json = nlohmann::json;

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // unexpected internal failure
  kExitUsage = 2,        // bad command line or argument value
  kExitIo = 3,           // a file or device could not be read or written
  kExitCrypto = 5,       // a cryptographic operation failed
  kExitUnavailable = 7,  // the bundle's server stayed unreachable: the update waits, run recover
  kExitChanged = 8,      // the remote bundle kept changing during the install (gave up)
  // 10..29 format::Errc, 40..49 delta::Errc, 50..59 storage::Errc, 60..69 boot::Errc,
  // 70..79 format::JournalErrc, 80..99 agent::Errc, 100..109 transport::Errc: the number is the
  // error code.
};

int ExitCodeFor(const Error& e) {
  const std::string_view d = e.domain();
  if (d == ErrorDomainOf<format::Errc>::kName || d == ErrorDomainOf<delta::Errc>::kName ||
      d == ErrorDomainOf<storage::Errc>::kName || d == ErrorDomainOf<boot::Errc>::kName ||
      d == ErrorDomainOf<format::JournalErrc>::kName || d == ErrorDomainOf<agent::Errc>::kName) {
    return e.code();
  }
  if (d == ErrorDomainOf<crypto::Errc>::kName) return kExitCrypto;
  if (d == ErrorDomainOf<transport::Errc>::kName) return e.code();
  if (d == ErrorDomainOf<base::Errc>::kName) {
    switch (static_cast<base::Errc>(e.code())) {
      case base::Errc::kInvalidArgument:
        return kExitUsage;
      case base::Errc::kUnavailable:
        return kExitUnavailable;
      case base::Errc::kSourceChanged:
        return kExitChanged;
      default:
        return kExitIo;
    }
  }
  return kExitFailure;
}

std::string SlotText(boot::Slot s) { return std::string(1, boot::SlotLetter(s)); }

Json StatusJson(const std::optional<format::JournalEntry>& journal,
                const std::optional<boot::Slot>& booted) {
  Json j;
  if (journal) {
    auto text = format::EncodeJournal(*journal);
    if (text.ok()) j = Json::parse(*text);
  } else {
    j = Json::parse(*format::EncodeJournal(format::JournalEntry{}));
    j["note"] = "no journal yet: the agent has not run on this device";
  }
  if (booted) j["booted_slot"] = SlotText(*booted);
  return j;
}

void PrintStatus(const std::optional<format::JournalEntry>& journal,
                 const std::optional<boot::Slot>& booted) {
  const format::JournalEntry e = journal.value_or(format::JournalEntry{});
  std::printf("state:        %s\n", std::string(format::AgentStateName(e.state)).c_str());
  std::printf("active slot:  %c\n", e.active_slot == 0 ? 'A' : 'B');
  if (booted) std::printf("booted slot:  %c\n", boot::SlotLetter(*booted));
  for (format::SlotIndex s = 0; s < 2; ++s) {
    if (e.slots[s]) {
      std::printf("slot %c:       %s (%llu bytes, sha256 %s)\n", s == 0 ? 'A' : 'B',
                  e.slots[s]->version.c_str(),
                  static_cast<unsigned long long>(e.slots[s]->image_size),
                  ToHex(e.slots[s]->image_sha256).c_str());
    }
  }
  std::printf("security counter floor: %llu\n",
              static_cast<unsigned long long>(e.committed_security_counter));
  if (e.update) {
    std::printf("update:       %s -> slot %c (%s, %s)\n", e.update->version.c_str(),
                e.update->target_slot == 0 ? 'A' : 'B',
                e.update->kind == format::PayloadKind::kFull ? "full" : "delta",
                e.update->bundle.c_str());
  }
  if (e.last_error) {
    std::printf("last error:   [%s %lld in %s] %s\n", e.last_error->domain.c_str(),
                static_cast<long long>(e.last_error->code),
                std::string(format::AgentStateName(e.last_error->state)).c_str(),
                e.last_error->message.c_str());
  }
}

// The simulator's "kernel starts" predicate for sim-boot (docs/agent.md §sim-boot): the slot
// begins with the magic, a little-endian u64 length n, n bytes, and their SHA-256.
constexpr std::string_view kSimMagic = "UPLIFT-SIM-BOOT\n";

bool SimImageBoots(storage::BlockDevice& slot) {
  Bytes head(kSimMagic.size() + 8);
  if (slot.size() < head.size() || !slot.Read(0, head).ok()) return false;
  if (AsChars(ByteView(head).first(kSimMagic.size())) != kSimMagic) return false;
  const std::uint64_t n = LoadLe64(&head[kSimMagic.size()]);
  if (n > slot.size() - head.size() - 32) return false;
  Bytes body(static_cast<std::size_t>(n) + 32);
  if (!slot.Read(head.size(), body).ok()) return false;
  const auto digest = crypto::Sha256::Of(ByteView(body).first(static_cast<std::size_t>(n)));
  return std::equal(digest.begin(), digest.end(), body.begin() + static_cast<std::ptrdiff_t>(n));
}

struct Args {
  std::string config = "/etc/uplift/agent.toml";
  std::string booted;
  bool json = false;
  std::string bundle;
  bool once = false;
};

class App {
 public:
  explicit App(Args args) : args_(std::move(args)) {}

  Status Open(bool need_trust) {
    UPLIFT_ASSIGN(config_, LoadConfig(args_.config));
    UPLIFT_ASSIGN(platform_, OpenPlatform(config_, need_trust));
    return Ok();
  }

  Result<agent::Agent> MakeAgent() {
    UPLIFT_ASSIGN(const boot::Slot booted, BootedSlot(config_, args_.booted));
    agent::Agent a(platform_->Options(), platform_->Deps(), booted);
    UPLIFT_TRY(a.Load());
    return a;
  }

  Status Report(const agent::Agent& a) {
    if (args_.json) {
      std::cout << StatusJson(a.journal(), a.booted()).dump(2) << "\n";
    } else {
      PrintStatus(a.journal(), a.booted());
    }
    return Ok();
  }

  Status Install() {
    UPLIFT_TRY(Open(true));
    UPLIFT_ASSIGN(agent::Agent a, MakeAgent());
    // An unfinished download that cannot go on now is superseded by this install.
    platform_->retry_deadline_seconds = config_.transport.recover_deadline_seconds;
    if (Status st = a.Recover(); !st.ok() && !KeepsPlace(st.error())) return st;
    platform_->retry_deadline_seconds = config_.transport.retry_deadline_seconds;
    UPLIFT_TRY(a.Install(args_.bundle));
    return Report(a);
  }

  Status Recover() {
    UPLIFT_TRY(Open(true));
    UPLIFT_ASSIGN(agent::Agent a, MakeAgent());
    platform_->retry_deadline_seconds = config_.transport.recover_deadline_seconds;
    UPLIFT_TRY(a.Recover());
    return Report(a);
  }

  Status Commit() {
    UPLIFT_TRY(Open(false));
    UPLIFT_ASSIGN(agent::Agent a, MakeAgent());
    UPLIFT_TRY(a.Commit());
    return Report(a);
  }

  Status Rollback() {
    UPLIFT_TRY(Open(false));
    UPLIFT_ASSIGN(agent::Agent a, MakeAgent());
    UPLIFT_TRY(a.Rollback());
    return Report(a);
  }

  Status Status_() {
    UPLIFT_TRY(Open(false));
    UPLIFT_ASSIGN(const auto journal, PeekJournal(*platform_->journal));
    std::optional<boot::Slot> booted;
    if (auto b = BootedSlot(config_, args_.booted); b.ok()) booted = *b;
    if (args_.json) {
      std::cout << StatusJson(journal, booted).dump(2) << "\n";
    } else {
      PrintStatus(journal, booted);
    }
    return Ok();
  }

  // Enrolls with uplift-server (once) and stores the credential.
  Status Enroll() {
    UPLIFT_ASSIGN(config_, LoadConfig(args_.config));
    if (config_.server.url.empty()) {
      return Error(agent::Errc::kConfig, args_.config + ": no [server] section");
    }
    UPLIFT_ASSIGN(const auto creds, EnsureEnrolled(config_));
    if (args_.json) {
      std::cout << Json{{"ok", true},
                        {"tenant", creds.tenant},
                        {"device_id", creds.device_id},
                        {"credential_file", config_.server.credential_file}}
                       .dump(2)
                << "\n";
    } else {
      std::printf("enrolled %s in tenant %s (credential in %s)\n", creds.device_id.c_str(),
                  creds.tenant.c_str(), config_.server.credential_file.c_str());
    }
    return Ok();
  }

  // With [server]: recover, then check in with uplift-server, install its offers and report
  // (docs/agent.md §Server mode). Without: install bundles dropped into the spool directory; a
  // bundle leaves the spool as NAME.installed or NAME.rejected.
  Status Daemon() {
    UPLIFT_TRY(Open(true));
    if (!config_.server.url.empty()) {
      storage::FileRecordStore reports(config_.data_dir + "/reports");
      auto make_agent =
          [this](std::function<void(agent::AgentState, agent::Event, agent::AgentState)> observer)
          -> Result<agent::Agent> {
        UPLIFT_ASSIGN(const boot::Slot booted, BootedSlot(config_, args_.booted));
        agent::AgentDeps deps = platform_->Deps();
        deps.on_transition = std::move(observer);
        agent::Agent a(platform_->Options(), std::move(deps), booted);
        UPLIFT_TRY(a.Load());
        platform_->retry_deadline_seconds = config_.transport.recover_deadline_seconds;
        const Status st = a.Recover();
        platform_->retry_deadline_seconds = config_.transport.retry_deadline_seconds;
        if (!st.ok() && !KeepsPlace(st.error())) {
          std::fprintf(stderr, "uplift-agent: recover: %s\n", st.error().message().c_str());
        }
        return a;
      };
      return RunServerDaemon(config_, make_agent, reports, platform_->clock, args_.once,
                             args_.json);
    }
    UPLIFT_ASSIGN(agent::Agent a, MakeAgent());
    UPLIFT_TRY(a.Recover());
    for (;;) {
      if (format::IsAtRest(a.journal().state)) {
        if (auto next = NextSpooled(); next) {
          const std::string path = config_.spool_dir + "/" + *next;
          const Status st = a.Install(path);
          const std::string done = path + (st.ok() ? ".installed" : ".rejected");
          std::rename(path.c_str(), done.c_str());
          if (!st.ok()) {
            std::fprintf(stderr, "uplift-agent: %s: %s\n", path.c_str(),
                         st.error().message().c_str());
          }
          continue;
        }
      }
      if (args_.once) return Ok();
      ::sleep(config_.poll_seconds);
    }
  }

  Status SimBoot() {
    UPLIFT_TRY(Open(false));
    Platform& p = *platform_;
    boot::SimulatedBootloaderOptions opts;
    opts.names = p.names;
    boot::SimulatedBootloader bl(
        *p.env,
        [&p](boot::Slot s) { return SimImageBoots(s == boot::Slot::kA ? *p.slot_a : *p.slot_b); },
        opts);
    UPLIFT_ASSIGN(const boot::Slot slot, bl.Boot());
    if (args_.json) {
      std::cout << Json{{"slot", SlotText(slot)},
                        {"resets", bl.resets()},
                        {"fallbacks", bl.fallbacks()}}
                       .dump(2)
                << "\n";
    } else {
      std::printf("%c\n", boot::SlotLetter(slot));
    }
    return Ok();
  }

 private:
  std::optional<std::string> NextSpooled() const {
    DIR* d = ::opendir(config_.spool_dir.c_str());
    if (d == nullptr) return std::nullopt;
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 4 && n.ends_with(".upl")) names.push_back(n);
    }
    ::closedir(d);
    if (names.empty()) return std::nullopt;
    return *std::min_element(names.begin(), names.end());
  }

  Args args_;
  Config config_;
  std::unique_ptr<Platform> platform_;
};

}  // namespace
}  // namespace uplift::agent_app

int main(int argc, char** argv) {
  using namespace uplift::agent_app;  // NOLINT(google-build-using-namespace)
  CLI::App app{
      "uplift-agent: installs signed update bundles into the inactive A/B slot, runs the trial\n"
      "boot, commits or rolls back. Exit codes are listed in docs/agent.md.",
      "uplift-agent"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(UPLIFT_VERSION));
  auto args = std::make_shared<Args>();
  app.add_option("-c,--config", args->config, "Configuration file (TOML)")->capture_default_str();
  std::function<uplift::Status(App&)> action;

  auto booted_opt = [&](CLI::App* sub) {
    sub->add_option("--booted-slot", args->booted,
                    "Slot the device runs from (default: from the kernel command line)");
  };
  auto json_flag = [&](CLI::App* sub) {
    sub->add_flag("--json", args->json, "Machine-readable output");
  };

  auto* install = app.add_subcommand("install",
                                     "Verify BUNDLE, write it to the inactive slot, "
                                     "arm a trial boot and reboot");
  install->add_option("BUNDLE", args->bundle, "Bundle file")->required();
  booted_opt(install);
  json_flag(install);
  install->callback([&] { action = [](App& a) { return a.Install(); }; });

  auto* status = app.add_subcommand("status", "Show the update state (reads only)");
  booted_opt(status);
  json_flag(status);
  status->callback([&] { action = [](App& a) { return a.Status_(); }; });

  auto* commit = app.add_subcommand("commit", "Commit the update on trial (skips health checks)");
  booted_opt(commit);
  json_flag(commit);
  commit->callback([&] { action = [](App& a) { return a.Commit(); }; });

  auto* rollback =
      app.add_subcommand("rollback", "Roll back the update awaiting reboot or on trial");
  booted_opt(rollback);
  json_flag(rollback);
  rollback->callback([&] { action = [](App& a) { return a.Rollback(); }; });

  auto* recover = app.add_subcommand(
      "recover", "Start-up recovery: resume, run the trial (health checks), commit or roll back");
  booted_opt(recover);
  json_flag(recover);
  recover->callback([&] { action = [](App& a) { return a.Recover(); }; });

  auto* daemon = app.add_subcommand(
      "daemon",
      "Recover, then check in with uplift-server ([server]) and install its offers, or install "
      "bundles (*.upl) dropped into the spool directory");
  booted_opt(daemon);
  daemon->add_flag("--once", args->once,
                   "One step (one check-in, or one look at the spool) and exit");
  json_flag(daemon);
  daemon->callback([&] { action = [](App& a) { return a.Daemon(); }; });

  auto* enroll = app.add_subcommand(
      "enroll", "Enroll with uplift-server ([server]) and store the device credential");
  json_flag(enroll);
  enroll->callback([&] { action = [](App& a) { return a.Enroll(); }; });

  // Development only: one power-on of the simulated U-Boot over the configured environment.
  auto* sim = app.add_subcommand("sim-boot", "");
  sim->group("");  // hidden
  json_flag(sim);
  sim->callback([&] { action = [](App& a) { return a.SimBoot(); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "uplift-agent: error: %s (see --help)\n", e.what());
    return kExitUsage;
  }
  if (!action) return kExitUsage;
  App a(*args);
  const uplift::Status st = action(a);
  if (st.ok()) return kExitOk;
  const int code = ExitCodeFor(st.error());
  std::fprintf(stderr, "uplift-agent: error: %s\n", st.error().message().c_str());
  if (args->json) {
    std::cout << nlohmann::json{{"ok", false},
                                {"error",
                                 {{"exit_code", code},
                                  {"domain", std::string(st.error().domain())},
                                  {"code", st.error().code()},
                                  {"message", st.error().message()}}}}
                     .dump(2)
              << "\n";
  }
  return code;
}
