#include "config.hpp"

#include <toml++/toml.h>

#include <set>

#include "uplift/agent/errors.hpp"
#include "uplift/base/io.hpp"

namespace uplift::agent_app {
namespace {

constexpr std::uint64_t kMaxConfigSize = 64 * 1024;

class Reader {
 public:
  Reader(std::string file) : file_(std::move(file)) {}

  Error Bad(const std::string& key, const std::string& what) const {
    return Error(agent::Errc::kConfig, file_ + ": " + key + ": " + what);
  }

  // Every key of `table` must be in `allowed`.
  Status Keys(const toml::table& table, const std::string& where,
              std::set<std::string_view> allowed) const {
    for (const auto& [k, v] : table) {
      if (!allowed.contains(k.str())) {
        return Bad(where.empty() ? std::string(k.str()) : where + "." + std::string(k.str()),
                   "unknown key");
      }
    }
    return Ok();
  }

  Status String(const toml::table& t, const char* key, const std::string& where, std::string& out,
                bool required = false) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
      if (required) return Bad(Path(where, key), "missing");
      return Ok();
    }
    const auto v = n->value<std::string>();
    if (!n->is_string() || !v) return Bad(Path(where, key), "expected a string");
    out = *v;
    return Ok();
  }

  template <typename T>
  Status Unsigned(const toml::table& t, const char* key, const std::string& where, T& out,
                  std::uint64_t min, std::uint64_t max) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Ok();
    const auto v = n->value<std::int64_t>();
    if (!n->is_integer() || !v || *v < 0 || static_cast<std::uint64_t>(*v) < min ||
        static_cast<std::uint64_t>(*v) > max) {
      return Bad(Path(where, key), "expected an integer in [" + std::to_string(min) + ", " +
                                       std::to_string(max) + "]");
    }
    out = static_cast<T>(*v);
    return Ok();
  }

  Status RegionOf(const toml::table& t, const char* key, const std::string& where,
                  Region& out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Bad(Path(where, key), "missing");
    const toml::table* r = n->as_table();
    if (r == nullptr) return Bad(Path(where, key), "expected a table { path = ..., offset, size }");
    const std::string p = Path(where, key);
    UPLIFT_TRY(Keys(*r, p, {"path", "offset", "size"}));
    UPLIFT_TRY(String(*r, "path", p, out.path, true));
    UPLIFT_TRY(Unsigned(*r, "offset", p, out.offset, 0, std::uint64_t{1} << 62));
    UPLIFT_TRY(Unsigned(*r, "size", p, out.size, 0, std::uint64_t{1} << 62));
    return Ok();
  }

  const toml::table* Table(const toml::table& t, const char* key) const {
    const toml::node* n = t.get(key);
    return n ? n->as_table() : nullptr;
  }

  static std::string Path(const std::string& where, const char* key) {
    return where.empty() ? key : where + "." + key;
  }

 private:
  std::string file_;
};

}  // namespace

Result<Config> LoadConfig(const std::string& path) {
  UPLIFT_ASSIGN(const Bytes text, ReadFile(path, kMaxConfigSize));
  toml::table root;
  try {
    root = toml::parse(AsChars(text), path);
  } catch (const toml::parse_error& e) {
    return Error(agent::Errc::kConfig, path + ":" + std::to_string(e.source().begin.line) + ": " +
                                           std::string(e.description()));
  }
  const Reader r(path);
  Config c;
  UPLIFT_TRY(r.Keys(root, "",
                    {"device_type", "data_dir", "trust_store", "payload_target",
                     "max_boot_attempts", "checkpoint_mib", "slots", "boot", "journal", "hooks",
                     "health", "reboot", "daemon", "transport", "server"}));
  UPLIFT_TRY(r.String(root, "device_type", "", c.device_type, true));
  UPLIFT_TRY(r.String(root, "data_dir", "", c.data_dir, true));
  UPLIFT_TRY(r.String(root, "trust_store", "", c.trust_store, true));
  UPLIFT_TRY(r.String(root, "payload_target", "", c.payload_target));
  UPLIFT_TRY(r.Unsigned(root, "max_boot_attempts", "", c.max_boot_attempts, 1, 100));
  std::uint64_t checkpoint_mib = c.checkpoint_bytes >> 20;
  UPLIFT_TRY(r.Unsigned(root, "checkpoint_mib", "", checkpoint_mib, 1, 4096));
  c.checkpoint_bytes = checkpoint_mib << 20;

  const toml::table* slots = r.Table(root, "slots");
  if (slots == nullptr) return r.Bad("slots", "missing table [slots] with a and b");
  UPLIFT_TRY(r.Keys(*slots, "slots", {"a", "b"}));
  UPLIFT_TRY(r.RegionOf(*slots, "a", "slots", c.slot_a));
  UPLIFT_TRY(r.RegionOf(*slots, "b", "slots", c.slot_b));

  const toml::table* boot = r.Table(root, "boot");
  if (boot == nullptr) return r.Bad("boot", "missing table [boot]");
  UPLIFT_TRY(r.Keys(*boot, "boot",
                    {"backend", "fw_env_config", "grubenv", "cmdline_file", "cmdline_param",
                     "boot_part_variable", "slot_values", "bootlimit"}));
  UPLIFT_TRY(r.String(*boot, "backend", "boot", c.boot_backend));
  if (c.boot_backend == "uboot") {
    UPLIFT_TRY(r.String(*boot, "fw_env_config", "boot", c.fw_env_config, true));
  } else if (c.boot_backend == "grub") {
    UPLIFT_TRY(r.String(*boot, "grubenv", "boot", c.grubenv, true));
  } else {
    return r.Bad("boot.backend",
                 "expected \"uboot\" or \"grub\", found \"" + c.boot_backend + "\"");
  }
  UPLIFT_TRY(r.String(*boot, "cmdline_file", "boot", c.cmdline_file));
  UPLIFT_TRY(r.String(*boot, "cmdline_param", "boot", c.cmdline_param));
  UPLIFT_TRY(r.String(*boot, "boot_part_variable", "boot", c.var_boot_part));
  UPLIFT_TRY(r.Unsigned(*boot, "bootlimit", "boot", c.bootlimit, 1, 1000));
  if (const toml::node* sv = boot->get("slot_values")) {
    const toml::array* a = sv->as_array();
    if (a == nullptr || a->size() != 2 || !a->is_homogeneous<std::string>()) {
      return r.Bad("boot.slot_values", "expected two strings, e.g. [\"A\", \"B\"]");
    }
    c.slot_values = {*(*a)[0].value<std::string>(), *(*a)[1].value<std::string>()};
    if (c.slot_values[0] == c.slot_values[1] || c.slot_values[0].empty()) {
      return r.Bad("boot.slot_values", "the two values must be distinct and non-empty");
    }
  }

  if (const toml::table* j = r.Table(root, "journal")) {
    UPLIFT_TRY(r.Keys(*j, "journal", {"backend", "region"}));
    UPLIFT_TRY(r.String(*j, "backend", "journal", c.journal_backend));
    if (c.journal_backend == "flash") {
      UPLIFT_TRY(r.RegionOf(*j, "region", "journal", c.journal_region));
    } else if (c.journal_backend != "file") {
      return r.Bad("journal.backend", "expected \"file\" or \"flash\"");
    }
  }
  if (const toml::table* h = r.Table(root, "hooks")) {
    UPLIFT_TRY(r.Keys(*h, "hooks", {"dir", "timeout_seconds"}));
    UPLIFT_TRY(r.String(*h, "dir", "hooks", c.hooks_dir));
    UPLIFT_TRY(r.Unsigned(*h, "timeout_seconds", "hooks", c.hooks_timeout_seconds, 1, 86400));
  }
  if (const toml::table* h = r.Table(root, "health")) {
    UPLIFT_TRY(r.Keys(*h, "health", {"dir", "timeout_seconds"}));
    UPLIFT_TRY(r.String(*h, "dir", "health", c.health_dir));
    UPLIFT_TRY(r.Unsigned(*h, "timeout_seconds", "health", c.health_timeout_seconds, 1, 86400));
  }
  if (const toml::table* rb = r.Table(root, "reboot")) {
    UPLIFT_TRY(r.Keys(*rb, "reboot", {"command"}));
    const toml::node* cmd = rb->get("command");
    const toml::array* a = cmd ? cmd->as_array() : nullptr;
    if (a == nullptr || a->empty() || !a->is_homogeneous<std::string>()) {
      return r.Bad("reboot.command", "expected a non-empty array of strings (no shell)");
    }
    c.reboot_command.clear();
    for (const auto& e : *a) c.reboot_command.push_back(*e.value<std::string>());
  }
  if (const toml::table* d = r.Table(root, "daemon")) {
    UPLIFT_TRY(r.Keys(*d, "daemon", {"spool_dir", "poll_seconds"}));
    UPLIFT_TRY(r.String(*d, "spool_dir", "daemon", c.spool_dir));
    UPLIFT_TRY(r.Unsigned(*d, "poll_seconds", "daemon", c.poll_seconds, 1, 86400));
  }
  if (const toml::table* t = r.Table(root, "transport")) {
    auto& x = c.transport;
    UPLIFT_TRY(r.Keys(*t, "transport",
                      {"ca_file", "pinned_public_key", "proxy", "http2", "connect_timeout_seconds",
                       "stall_seconds", "max_bytes_per_second", "data_cap_bytes",
                       "retry_deadline_seconds", "recover_deadline_seconds", "chunk_attempts"}));
    UPLIFT_TRY(r.String(*t, "ca_file", "transport", x.ca_file));
    UPLIFT_TRY(r.String(*t, "pinned_public_key", "transport", x.pinned_public_key));
    UPLIFT_TRY(r.String(*t, "proxy", "transport", x.proxy));
    if (const toml::node* n = t->get("http2")) {
      if (!n->is_boolean()) return r.Bad("transport.http2", "expected true or false");
      x.http2 = *n->value<bool>();
    }
    UPLIFT_TRY(
        r.Unsigned(*t, "connect_timeout_seconds", "transport", x.connect_timeout_seconds, 1, 600));
    UPLIFT_TRY(r.Unsigned(*t, "stall_seconds", "transport", x.stall_seconds, 1, 3600));
    UPLIFT_TRY(r.Unsigned(*t, "max_bytes_per_second", "transport", x.max_bytes_per_second, 0,
                          std::uint64_t{1} << 40));
    UPLIFT_TRY(
        r.Unsigned(*t, "data_cap_bytes", "transport", x.data_cap_bytes, 0, std::uint64_t{1} << 50));
    UPLIFT_TRY(r.Unsigned(*t, "retry_deadline_seconds", "transport", x.retry_deadline_seconds, 1,
                          7 * 86400));
    UPLIFT_TRY(r.Unsigned(*t, "recover_deadline_seconds", "transport", x.recover_deadline_seconds,
                          1, 7 * 86400));
    UPLIFT_TRY(r.Unsigned(*t, "chunk_attempts", "transport", x.chunk_attempts, 1, 100));
    if (!x.pinned_public_key.empty() && !x.pinned_public_key.starts_with("sha256//")) {
      return r.Bad("transport.pinned_public_key", "expected \"sha256//BASE64\"");
    }
  }
  if (const toml::table* sv = r.Table(root, "server")) {
    auto& x = c.server;
    UPLIFT_TRY(r.Keys(*sv, "server",
                      {"url", "tenant", "device_id", "credential_file", "enrollment_secret_file",
                       "product", "factory_version", "factory_image_sha256", "attributes"}));
    UPLIFT_TRY(r.String(*sv, "url", "server", x.url, true));
    UPLIFT_TRY(r.String(*sv, "tenant", "server", x.tenant, true));
    UPLIFT_TRY(r.String(*sv, "device_id", "server", x.device_id));
    UPLIFT_TRY(r.String(*sv, "credential_file", "server", x.credential_file));
    UPLIFT_TRY(r.String(*sv, "enrollment_secret_file", "server", x.enrollment_secret_file));
    UPLIFT_TRY(r.String(*sv, "product", "server", x.product));
    UPLIFT_TRY(r.String(*sv, "factory_version", "server", x.factory_version));
    UPLIFT_TRY(r.String(*sv, "factory_image_sha256", "server", x.factory_image_sha256));
    if (!x.url.starts_with("http://") && !x.url.starts_with("https://")) {
      return r.Bad("server.url", "expected an http:// or https:// URL");
    }
    if (const toml::table* at = r.Table(*sv, "attributes")) {
      for (const auto& [k, v] : *at) {
        const auto value = v.value<std::string>();
        if (!v.is_string() || !value) {
          return r.Bad("server.attributes." + std::string(k.str()), "expected a string");
        }
        x.attributes.emplace(std::string(k.str()), *value);
      }
    }
    if (x.credential_file.empty()) x.credential_file = c.data_dir + "/credential";
  }
  if (c.spool_dir.empty()) c.spool_dir = c.data_dir + "/spool";
  return c;
}

}  // namespace uplift::agent_app
