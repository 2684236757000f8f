// Shared plumbing of the `uplift` CLI: exit codes, error and JSON output, progress bars, key
// and trust store loading. Exit codes are documented in docs/cli.md and never renumbered.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // unexpected internal failure
  kExitUsage = 2,        // bad command line or argument value
  kExitIo = 3,           // a file could not be read or written
  kExitKey = 4,          // a key could not be loaded (bad PEM, wrong passphrase, wrong type)
  kExitCrypto = 5,       // a cryptographic operation failed
  kExitExists = 6,       // refusing to overwrite an existing file (use --force)
  kExitUnavailable = 7,  // a server stayed unreachable past the retry deadline: try again later
  kExitChanged = 8,      // the artifact kept changing on the server during the download
  // 10..29: format errors, the number is format::Errc (docs/cli.md lists them).
  // 40..49: delta errors, the number is delta::Errc.
  // 50..54: answers of a server's admin API (cmd_server.cpp: AdminErrc).
  // 100..109: transport errors, the number is transport::Errc.
};

int ExitCodeFor(const Error& e);

// What a subcommand runs after parsing; set by the Register* functions.
using Action = std::function<Status()>;

struct Context {
  Action action;
  bool json = false;  // the selected subcommand asked for --json
};

// After sub parses, the command runs run(*args); args->json selects JSON error output.
template <typename Args, typename Run>
void OnParsed(CLI::App* sub, Context& ctx, std::shared_ptr<Args> args, Run run) {
  sub->callback([&ctx, args, run] {
    ctx.json = args->json;
    ctx.action = [args, run] { return run(*args); };
  });
}

void RegisterKeyCommands(CLI::App& app, Context& ctx);
void RegisterTrustCommands(CLI::App& app, Context& ctx);
void RegisterBundleCommands(CLI::App& app, Context& ctx);
void RegisterDeltaCommands(CLI::App& app, Context& ctx);
void RegisterFetchCommand(CLI::App& app, Context& ctx);
void RegisterServerCommands(CLI::App& app, Context& ctx);
// Exit code of an admin-API or server-data-directory error, or -1 if it is neither.
int AdminExitCode(const Error& e);

// Prints a JSON document on stdout (pretty, with a trailing newline).
void PrintJson(const nlohmann::json& j);

// A progress bar on stderr, drawn only when stderr is a terminal; throttled to 10 updates/s.
class Progress {
 public:
  Progress(std::string label, std::uint64_t total, bool enabled = true);
  ~Progress();
  void Update(std::uint64_t done);
  void Done();

 private:
  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::int64_t start_ns_;
  std::int64_t last_draw_ns_ = 0;
};

// A ByteSource that reports bytes read to a Progress.
class ProgressSource final : public ByteSource {
 public:
  ProgressSource(ByteSource& inner, Progress& progress) : inner_(inner), progress_(progress) {}
  Result<std::size_t> Read(MutableByteView buf) override;

 private:
  ByteSource& inner_;
  Progress& progress_;
  std::uint64_t done_ = 0;
};

// The passphrase from --passphrase-file (first line) or $UPLIFT_KEY_PASSPHRASE, if any.
Result<std::optional<std::string>> Passphrase(const std::string& passphrase_file);
Result<crypto::PrivateKey> LoadPrivateKey(const std::string& path,
                                          const std::optional<std::string>& passphrase);
Result<crypto::PublicKey> LoadPublicKey(const std::string& path);
Result<format::TrustStore> LoadTrustStore(const std::string& path);
Status SaveTrustStore(const std::string& path, const format::TrustStore& ts);

// Fails with kExitExists semantics (base::Errc::kInvalidArgument tagged) if path exists.
Status RefuseOverwrite(const std::string& path, bool force);

}  // namespace uplift::cli
