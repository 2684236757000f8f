#include "platform.hpp"

#include <sys/stat.h>

#include <chrono>

#include "uplift/agent/process.hpp"
#include "uplift/boot/grub_env_store.hpp"
#include "uplift/boot/uboot_env_store.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::agent_app {
namespace {

Error ConfigError(const std::string& what) { return Error(agent::Errc::kConfig, what); }

Result<storage::BlockDevice*> OpenShared(Platform& p, const std::string& path) {
  auto it = p.files.find(path);
  if (it == p.files.end()) {
    auto dev = storage::OpenFileDevice(path);
    if (!dev.ok()) return std::move(dev).error().Context("opening " + path);
    it = p.files.emplace(path, std::move(dev).value()).first;
  }
  return it->second.get();
}

Result<std::unique_ptr<storage::BlockDevice>> OpenRegion(Platform& p, const Region& r,
                                                         const std::string& name) {
  UPLIFT_ASSIGN(storage::BlockDevice * parent, OpenShared(p, r.path));
  if (r.offset > parent->size()) {
    return ConfigError(name + ": offset " + std::to_string(r.offset) + " beyond " + r.path + " (" +
                       std::to_string(parent->size()) + " bytes)");
  }
  const std::uint64_t size = r.size != 0 ? r.size : parent->size() - r.offset;
  if (size == 0 || r.offset + size > parent->size()) {
    return ConfigError(name + ": region [" + std::to_string(r.offset) + ", +" +
                       std::to_string(size) + ") does not fit " + r.path + " (" +
                       std::to_string(parent->size()) + " bytes)");
  }
  return storage::MakePartition(*parent, name, r.offset, size);
}

}  // namespace

Status CommandRebooter::Reboot() {
  UPLIFT_ASSIGN(const auto out, agent::RunProcess(argv_, {}, std::chrono::minutes(5)));
  if (out.exit_code != 0 || out.timed_out) {
    return Error(base::Errc::kIo, "reboot command " + argv_[0] + " " +
                                      agent::DescribeOutcome(out, std::chrono::minutes(5)));
  }
  return Ok();
}

bool KeepsPlace(const Error& e) {
  return e.Is(base::Errc::kUnavailable) || e.Is(transport::Errc::kTls);
}

transport::HttpOptions HttpOptionsOf(const Config::Transport& t, std::uint64_t fetched,
                                     std::uint32_t deadline_seconds) {
  transport::HttpOptions o;
  o.ca_file = t.ca_file;
  o.pinned_public_key = t.pinned_public_key;
  o.proxy = t.proxy;
  o.http2 = t.http2;
  o.connect_timeout = transport::Millis(std::uint64_t{t.connect_timeout_seconds} * 1000);
  o.stall_time = transport::Millis(std::uint64_t{t.stall_seconds} * 1000);
  o.max_bytes_per_s = t.max_bytes_per_second;
  o.byte_budget = t.data_cap_bytes;
  o.budget_used = fetched;
  o.retry.deadline = transport::Millis(std::uint64_t{deadline_seconds} * 1000);
  o.user_agent = std::string("uplift-agent/") + UPLIFT_VERSION;
  // Devices are short of memory and the slot writer keeps up with any link: 1 MiB of read-ahead
  // is plenty (the fetch tool uses the default 4 MiB).
  o.buffer_bytes = 1 << 20;
  return o;
}

agent::AgentOptions Platform::Options() const {
  agent::AgentOptions o;
  o.hardware = config.device_type;
  o.payload_target = config.payload_target;
  o.max_boot_attempts = config.max_boot_attempts;
  o.checkpoint_bytes = config.checkpoint_bytes;
  o.max_chunk_attempts = static_cast<int>(config.transport.chunk_attempts);
  return o;
}

agent::AgentDeps Platform::Deps() {
  agent::AgentDeps d{*journal, *slot_a, *slot_b, *boot, *rebooter, clock};
  d.trust = trust ? &*trust : nullptr;
  d.hooks = hooks.get();
  for (auto& h : health) d.health.push_back(h.get());
  d.open_bundle = [this](const agent::BundleRequest& r) -> Result<std::unique_ptr<RangeSource>> {
    if (!agent::IsRemoteLocation(r.location)) return agent::FileBundleOpener()(r);
    UPLIFT_ASSIGN(
        auto http,
        transport::HttpRangeSource::Create(
            r.location, HttpOptionsOf(config.transport, r.fetched_bytes, retry_deadline_seconds),
            r.validator));
    return std::unique_ptr<RangeSource>(std::move(http));
  };
  d.keeps_place = KeepsPlace;
  return d;
}

Result<std::unique_ptr<Platform>> OpenPlatform(const Config& config, bool need_trust) {
  auto p = std::make_unique<Platform>();
  p->config = config;
  p->retry_deadline_seconds = config.transport.retry_deadline_seconds;
  UPLIFT_ASSIGN(p->slot_a, OpenRegion(*p, config.slot_a, "slot A"));
  UPLIFT_ASSIGN(p->slot_b, OpenRegion(*p, config.slot_b, "slot B"));

  if (config.boot_backend == "uboot") {
    UPLIFT_ASSIGN(const Bytes text, ReadFile(config.fw_env_config, 64 * 1024));
    auto entries = boot::ParseFwEnvConfig(AsChars(text));
    if (!entries.ok()) return std::move(entries).error().Context(config.fw_env_config);
    auto store = boot::OpenUbootEnvStore(*entries);
    if (!store.ok()) return std::move(store).error().Context(config.fw_env_config);
    p->env = std::move(store).value();
  } else {
    p->env = std::make_unique<boot::GrubEnvStore>(config.grubenv);
  }
  p->names.boot_part = config.var_boot_part;
  p->names.slot_values = config.slot_values;
  p->names.default_bootlimit = config.bootlimit;
  p->boot = std::make_unique<boot::EnvBootControl>(*p->env, p->names);

  if (config.journal_backend == "flash") {
    UPLIFT_ASSIGN(p->journal_device, OpenRegion(*p, config.journal_region, "journal"));
    p->journal = std::make_unique<storage::FlashRecordStore>(*p->journal_device);
  } else {
    ::mkdir(config.data_dir.c_str(), 0755);
    p->journal = std::make_unique<storage::FileRecordStore>(config.data_dir + "/journal");
  }

  if (need_trust) {
    UPLIFT_ASSIGN(const Bytes ts, ReadFile(config.trust_store, format::kMaxTrustStoreSize));
    auto trust = format::TrustStore::Parse(ts);
    if (!trust.ok()) return std::move(trust).error().Context(config.trust_store);
    p->trust = std::move(trust).value();
  }
  if (config.hooks_dir.empty()) {
    p->hooks = std::make_unique<agent::NoHooks>();
  } else {
    p->hooks = std::make_unique<agent::DirectoryHooks>(
        config.hooks_dir, std::chrono::seconds(config.hooks_timeout_seconds));
  }
  p->health.push_back(std::make_unique<agent::DataDirWritableCheck>(config.data_dir));
  if (!config.health_dir.empty()) {
    p->health.push_back(std::make_unique<agent::DirectoryHealthChecks>(
        config.health_dir, std::chrono::seconds(config.health_timeout_seconds)));
  }
  p->rebooter = std::make_unique<CommandRebooter>(config.reboot_command);
  return p;
}

Result<boot::Slot> BootedSlot(const Config& config, const std::string& override_slot) {
  auto match = [&](std::string_view v) -> Result<boot::Slot> {
    if (v == config.slot_values[0]) return boot::Slot::kA;
    if (v == config.slot_values[1]) return boot::Slot::kB;
    return boot::ParseSlot(v);
  };
  if (!override_slot.empty()) return match(override_slot);
  UPLIFT_ASSIGN(const Bytes cmdline, ReadFile(config.cmdline_file, 64 * 1024));
  const std::string_view text = AsChars(cmdline);
  const std::string key = config.cmdline_param + "=";
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find_first_of(" \n\t", pos), text.size());
    const std::string_view word = text.substr(pos, end - pos);
    if (word.starts_with(key)) {
      auto slot = match(word.substr(key.size()));
      if (!slot.ok()) return std::move(slot).error().Context(config.cmdline_file);
      return slot;
    }
    pos = end + 1;
  }
  return ConfigError(config.cmdline_file + ": no " + key + " parameter; pass --booted-slot");
}

Result<std::optional<format::JournalEntry>> PeekJournal(storage::RecordStore& store) {
  UPLIFT_ASSIGN(const auto bytes, store.Load());
  if (!bytes) return std::optional<format::JournalEntry>();
  UPLIFT_ASSIGN(auto entry, format::ParseJournal(*bytes));
  return std::optional<format::JournalEntry>(std::move(entry));
}

}  // namespace uplift::agent_app
