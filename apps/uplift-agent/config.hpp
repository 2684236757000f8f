// uplift-agent's TOML configuration (documented with a commented example in
// docs/agent.example.toml). Parsing is strict: an unknown key is an error, since a typo in a
// device's update configuration should fail loudly on the bench, not silently in the field.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::agent_app {

// A slot, or the journal on raw storage: a file or block device, or a region of one.
struct Region {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // 0: to the end of the file/device
};

struct Config {
  std::string device_type;
  std::string data_dir;
  std::string trust_store;
  std::string payload_target = "rootfs";
  std::uint32_t max_boot_attempts = 3;
  std::uint64_t checkpoint_bytes = 8u << 20;

  Region slot_a;
  Region slot_b;

  std::string boot_backend = "uboot";  // "uboot" | "grub"
  std::string fw_env_config;           // uboot: the fw_env.config naming the environment copies
  std::string grubenv;                 // grub: the environment block file
  std::string cmdline_file = "/proc/cmdline";
  std::string cmdline_param = "uplift.slot";
  std::string var_boot_part = "boot_part";
  std::array<std::string, 2> slot_values = {"A", "B"};
  std::uint32_t bootlimit = 3;

  std::string journal_backend = "file";  // "file" (data_dir/journal) | "flash"
  Region journal_region;                 // flash

  std::string hooks_dir;  // empty: no hooks
  std::uint32_t hooks_timeout_seconds = 60;
  std::string health_dir;  // empty: only built-in checks
  std::uint32_t health_timeout_seconds = 30;

  std::vector<std::string> reboot_command = {"/bin/systemctl", "reboot"};

  // [transport]: downloads of http(s) bundles (docs/agent.md §Downloads).
  struct Transport {
    std::string ca_file;            // PEM CA bundle; empty: the system's
    std::string pinned_public_key;  // curl pin "sha256//BASE64"
    std::string proxy;              // empty: the http_proxy/https_proxy environment
    bool http2 = true;
    std::uint32_t connect_timeout_seconds = 15;
    std::uint32_t stall_seconds = 30;        // under 1 byte/s for this long: reconnect
    std::uint64_t max_bytes_per_second = 0;  // bandwidth cap; 0: none
    std::uint64_t data_cap_bytes = 0;        // per update, all attempts; 0: none
    std::uint32_t retry_deadline_seconds = 3600;
    // `recover` runs at every boot: resuming a download there must not hold the boot for long.
    std::uint32_t recover_deadline_seconds = 60;
    std::uint32_t chunk_attempts = 3;  // re-reads of one corrupt chunk before failing
  } transport;

  // [server]: `daemon` talks to uplift-server (docs/agent.md §Server mode) when url is set.
  struct Server {
    std::string url;  // empty: the daemon installs from the spool directory instead
    std::string tenant;
    std::string device_id;                  // empty: the contents of /etc/machine-id
    std::string credential_file;            // empty: data_dir/credential (hex, 0600)
    std::string enrollment_secret_file;     // used once, when there is no credential yet
    std::string product;                    // sent in check-ins: offers must be of this product
    std::string factory_version = "0.0.0";  // what the booted slot runs before any update
    std::string factory_image_sha256;       // its SHA-256 (hex); empty: never offered deltas
    std::map<std::string, std::string> attributes;
  } server;

  std::string spool_dir;  // daemon: bundles dropped here are installed; empty: data_dir/spool
  std::uint32_t poll_seconds = 60;
};

// agent::Errc::kConfig with "FILE: key: problem" for anything wrong; base errors for I/O.
Result<Config> LoadConfig(const std::string& path);

}  // namespace uplift::agent_app
