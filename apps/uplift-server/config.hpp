// uplift-server's configuration: a TOML file (docs/server.md) with UPLIFT_* environment
// overrides, for containers and systemd units that set a value without editing the file.
#pragma once

#include <string>

#include "uplift/base/result.hpp"
#include "uplift/server/server.hpp"

namespace uplift::server_app {

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, off
  std::string format = "text";  // text or json
};

struct AppConfig {
  server::ServerConfig server;
  LogConfig log;
};

// `path` may be empty (defaults + environment). `env` is the process environment (environ).
Result<AppConfig> LoadConfig(const std::string& path, char** env);

}  // namespace uplift::server_app
