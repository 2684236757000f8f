#include "config.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <map>
#include <set>

#include "uplift/base/io.hpp"

namespace uplift::server_app {
namespace {

using server::ServerErrc;

Error Bad(const std::string& where, const std::string& what) {
  return Error(ServerErrc::kConfig, where + ": " + what);
}

Status CheckKeys(const toml::table& t, const std::string& where,
                 const std::set<std::string_view>& allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.contains(k.str())) {
      return Bad(where + (where.empty() ? "" : ".") + std::string(k.str()), "unknown key");
    }
  }
  return Ok();
}

Status Str(const toml::table& t, const char* key, const std::string& where, std::string& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Ok();
  auto v = n->value<std::string>();
  if (!n->is_string() || !v) return Bad(where + key, "expected a string");
  out = *v;
  return Ok();
}

template <typename T>
Status Int(const toml::table& t, const char* key, const std::string& where, T& out,
           std::int64_t min, std::int64_t max) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Ok();
  auto v = n->value<std::int64_t>();
  if (!n->is_integer() || !v || *v < min || *v > max) {
    return Bad(where + key,
               "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<T>(*v);
  return Ok();
}

template <typename T>
Status EnvInt(const std::map<std::string, std::string>& env, const char* name, T& out,
              std::int64_t min, std::int64_t max) {
  auto it = env.find(name);
  if (it == env.end()) return Ok();
  std::int64_t v = 0;
  const auto& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
    return Bad(std::string("environment ") + name,
               "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<T>(v);
  return Ok();
}

}  // namespace

Result<AppConfig> LoadConfig(const std::string& path, char** environ_in) {
  AppConfig c;
  server::ServerConfig& s = c.server;
  std::string url_secret_file;
  if (!path.empty()) {
    UPLIFT_ASSIGN(const Bytes text, ReadFile(path, 256 * 1024));
    toml::table root;
    try {
      root = toml::parse(std::string_view(AsChars(text)), path);
    } catch (const toml::parse_error& e) {
      return Error(ServerErrc::kConfig, path + ":" + std::to_string(e.source().begin.line) + ": " +
                                            std::string(e.description()));
    }
    UPLIFT_TRY(
        CheckKeys(root, "", {"data_dir", "database", "http", "devices", "artifacts", "log"}));
    UPLIFT_TRY(Str(root, "data_dir", "", s.data_dir));
    UPLIFT_TRY(Str(root, "database", "", s.database));
    if (const toml::table* h = root["http"].as_table()) {
      UPLIFT_TRY(
          CheckKeys(*h, "http",
                    {"listen", "port", "io_threads", "blocking_threads", "tls_cert", "tls_key",
                     "public_url", "max_upload_bytes", "shutdown_grace_seconds"}));
      UPLIFT_TRY(Str(*h, "listen", "http.", s.listen_address));
      UPLIFT_TRY(Int(*h, "port", "http.", s.port, 0, 65535));
      UPLIFT_TRY(Int(*h, "io_threads", "http.", s.io_threads, 0, 256));
      UPLIFT_TRY(Int(*h, "blocking_threads", "http.", s.blocking_threads, 1, 4096));
      UPLIFT_TRY(Str(*h, "tls_cert", "http.", s.tls_cert_file));
      UPLIFT_TRY(Str(*h, "tls_key", "http.", s.tls_key_file));
      UPLIFT_TRY(Str(*h, "public_url", "http.", s.public_url));
      UPLIFT_TRY(
          Int(*h, "max_upload_bytes", "http.", s.max_upload_bytes, 1 << 20, std::int64_t{1} << 40));
      std::int64_t grace = s.shutdown_grace.count();
      UPLIFT_TRY(Int(*h, "shutdown_grace_seconds", "http.", grace, 0, 3600));
      s.shutdown_grace = std::chrono::seconds(grace);
    }
    if (const toml::table* d = root["devices"].as_table()) {
      UPLIFT_TRY(
          CheckKeys(*d, "devices", {"poll_seconds", "auth_window_seconds", "state_flush_ms"}));
      UPLIFT_TRY(Int(*d, "poll_seconds", "devices.", s.poll_seconds, 1, 86400));
      UPLIFT_TRY(Int(*d, "auth_window_seconds", "devices.", s.auth_window_seconds, 10, 3600));
      std::int64_t flush = s.state_flush_interval.count();
      UPLIFT_TRY(Int(*d, "state_flush_ms", "devices.", flush, 10, 60'000));
      s.state_flush_interval = std::chrono::milliseconds(flush);
    }
    if (const toml::table* a = root["artifacts"].as_table()) {
      UPLIFT_TRY(CheckKeys(*a, "artifacts", {"base_url", "url_secret_file", "url_ttl_seconds"}));
      UPLIFT_TRY(Str(*a, "base_url", "artifacts.", s.artifact_base_url));
      UPLIFT_TRY(Str(*a, "url_secret_file", "artifacts.", url_secret_file));
      UPLIFT_TRY(
          Int(*a, "url_ttl_seconds", "artifacts.", s.artifact_url_ttl_seconds, 60, 365 * 86400));
    }
    if (const toml::table* l = root["log"].as_table()) {
      UPLIFT_TRY(CheckKeys(*l, "log", {"level", "format"}));
      UPLIFT_TRY(Str(*l, "level", "log.", c.log.level));
      UPLIFT_TRY(Str(*l, "format", "log.", c.log.format));
    }
  }

  std::map<std::string, std::string> env;
  for (char** e = environ_in; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("UPLIFT_")) continue;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  auto str_env = [&](const char* name, std::string& out) {
    if (auto it = env.find(name); it != env.end()) out = it->second;
  };
  str_env("UPLIFT_DATA_DIR", s.data_dir);
  str_env("UPLIFT_DATABASE", s.database);
  str_env("UPLIFT_LISTEN", s.listen_address);
  str_env("UPLIFT_PUBLIC_URL", s.public_url);
  str_env("UPLIFT_TLS_CERT", s.tls_cert_file);
  str_env("UPLIFT_TLS_KEY", s.tls_key_file);
  str_env("UPLIFT_ARTIFACT_BASE_URL", s.artifact_base_url);
  str_env("UPLIFT_ARTIFACT_URL_SECRET_FILE", url_secret_file);
  str_env("UPLIFT_LOG_LEVEL", c.log.level);
  str_env("UPLIFT_LOG_FORMAT", c.log.format);
  UPLIFT_TRY(EnvInt(env, "UPLIFT_PORT", s.port, 0, 65535));
  UPLIFT_TRY(EnvInt(env, "UPLIFT_IO_THREADS", s.io_threads, 0, 256));
  UPLIFT_TRY(EnvInt(env, "UPLIFT_POLL_SECONDS", s.poll_seconds, 1, 86400));

  if (!url_secret_file.empty()) {
    UPLIFT_ASSIGN(const Bytes secret, ReadFile(url_secret_file, 4096));
    s.artifact_url_secret = std::string(AsChars(secret));
    while (!s.artifact_url_secret.empty() &&
           (s.artifact_url_secret.back() == '\n' || s.artifact_url_secret.back() == '\r')) {
      s.artifact_url_secret.pop_back();
    }
  }
  static const std::set<std::string_view> kLevels = {"trace", "debug", "info",
                                                     "warn",  "error", "off"};
  if (!kLevels.contains(c.log.level)) {
    return Bad("log.level", "expected trace, debug, info, warn, error or off");
  }
  if (c.log.format != "text" && c.log.format != "json") {
    return Bad("log.format", "expected text or json");
  }
  if (s.data_dir.empty()) {
    return Bad("data_dir", "missing (config file, UPLIFT_DATA_DIR or --data)");
  }
  return c;
}

}  // namespace uplift::server_app
