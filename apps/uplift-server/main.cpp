// uplift-server: the update server (docs/server.md). Runs until SIGTERM or SIGINT, then shuts
// down gracefully: stops accepting, answers every request already read, flushes soft state.
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "uplift/server/http.hpp"
#include "uplift/server/server.hpp"

extern char** environ;

namespace {

// Documented in docs/server.md §Exit codes.
enum Exit : int {
  kOk = 0,
  kFailure = 1,
  kUsage = 2,
  kConfigError = 3,
  kNotInitialised = 4,
  kListenFailed = 5,
};

int ExitFor(const uplift::Error& e) {
  if (e.Is(uplift::server::ServerErrc::kConfig)) return kConfigError;
  if (e.Is(uplift::server::ServerErrc::kDataDir)) return kNotInitialised;
  if (e.Is(uplift::server::HttpErrc::kListen) || e.Is(uplift::server::HttpErrc::kTls)) {
    return kListenFailed;
  }
  return kFailure;
}

// %j: the message as a JSON string (quoted and escaped), for one JSON object per log line.
class JsonMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessage>();
  }
};

void SetUpLogging(const uplift::server_app::LogConfig& log) {
  auto logger = spdlog::stderr_color_mt("uplift");
  if (log.format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessage>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":%j})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(log.level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "uplift-server: the Uplift update server (device API, admin API, artifacts).\n"
      "Configuration: docs/server.md. Create a data directory first with `uplift server init`.",
      "uplift-server"};
  app.set_version_flag("--version", std::string(UPLIFT_VERSION));
  std::string config_path;
  std::string data_dir;
  int port = -1;
  std::string listen;
  bool print_url = false;
  app.add_option("-c,--config", config_path, "Configuration file (TOML)");
  app.add_option("--data", data_dir, "Data directory (overrides data_dir and UPLIFT_DATA_DIR)");
  app.add_option("--port", port, "Port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--listen", listen, "Address to listen on");
  app.add_flag("--print-url", print_url, "Print the server's URL on stdout once it listens");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  auto config = uplift::server_app::LoadConfig(config_path, environ);
  if (!data_dir.empty() && !config.ok() &&
      config.error().message().find("data_dir: missing") != std::string::npos) {
    setenv("UPLIFT_DATA_DIR", data_dir.c_str(), 1);
    config = uplift::server_app::LoadConfig(config_path, environ);
  }
  if (!config.ok()) {
    std::fprintf(stderr, "uplift-server: %s\n", config.error().message().c_str());
    return ExitFor(config.error());
  }
  if (!data_dir.empty()) config->server.data_dir = data_dir;
  if (port >= 0) config->server.port = static_cast<std::uint16_t>(port);
  if (!listen.empty()) config->server.listen_address = listen;
  SetUpLogging(config->log);

  // Signals are taken synchronously by this thread; the server's threads never see them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = uplift::server::Server::Start(config->server);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.error().message());
    std::fprintf(stderr, "uplift-server: %s\n", server.error().message().c_str());
    return ExitFor(server.error());
  }
  spdlog::info("listening on {} (database: {}, data: {})", (*server)->url(),
               config->server.database.empty() ? "sqlite" : "postgresql", config->server.data_dir);
  if (print_url) {
    std::printf("%s\n", (*server)->url().c_str());
    std::fflush(stdout);
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*server)->Stop();
  spdlog::info("stopped");
  return kOk;
}
