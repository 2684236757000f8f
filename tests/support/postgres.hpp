// A real PostgreSQL server on 127.0.0.1 for integration and durability tests of the server side.
// Each server gets its own temporary directory (data directory, Unix socket, logs) and a free
// port, a superuser role "uplift" that needs no password, and an empty database "uplift".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::faultlab {

struct PostgresOptions {
  bool fsync = true;  // durability tests must be real; off only for speed-only tests
};

class PostgresServer {
 public:
  // initdb (-U uplift, trust, UTF8, no locale) into a fresh temporary directory, starts postgres
  // on 127.0.0.1 and a free port, waits until it accepts connections and creates database
  // "uplift". The binaries come from $UPLIFT_PG_BINDIR, else /usr/lib/postgresql/15/bin. Running
  // as root, the server runs as `nobody` (through setpriv), since postgres refuses root.
  // Fails with base::Errc::kNotFound when a binary (or user nobody, or setpriv) is missing,
  // kInvalidArgument when the temporary path holds a '"', kIo when initdb or createdb fails or the
  // server does not come up within 30 s (the message ends with the tail of the relevant log).
  [[nodiscard]] static Result<std::unique_ptr<PostgresServer>> Start(
      const PostgresOptions& options = {});
  // Fast shutdown (SIGINT, what `pg_ctl stop -m fast` sends; SIGKILL to all server processes
  // after 10 s), then removes the temporary directory.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  std::uint16_t port() const { return port_; }
  // The postmaster's pid (-1 when it is not running).
  pid_t pid() const { return pid_; }
  // libpq connection string: "host=127.0.0.1 port=P user=uplift dbname=uplift".
  std::string ConnectionString() const;
  // The temporary directory (data/, the Unix socket, the logs).
  const std::string& work_dir() const { return work_dir_; }
  // The server's stdout and stderr, across restarts.
  std::string log_path() const { return work_dir_ + "/postgres.log"; }

  // Kills the postmaster and all its children with SIGKILL at once (a crash: nothing gets to
  // flush), then starts postgres again on the same data directory and port and waits until crash
  // recovery is done and it accepts connections. kIo when a killed process outlives 10 s or the
  // restart fails (another process took the port, recovery failed: log tail in the message).
  [[nodiscard]] Status CrashAndRestart();

  struct Token {  // keeps construction to Start()
   private:
    Token() = default;
    friend class PostgresServer;
  };
  PostgresServer(Token, std::string work_dir, std::string bin_dir, bool fsync)
      : work_dir_(std::move(work_dir)), bin_dir_(std::move(bin_dir)), fsync_(fsync) {}

 private:
  // Spawns postgres on port_ and waits until its postmaster.pid says "ready".
  [[nodiscard]] Status Launch();
  // Prefixes argv with what runs it as the server's user (empty when not root).
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;
  void Stop();

  std::string work_dir_;
  std::string bin_dir_;
  bool fsync_;
  std::vector<std::string> run_as_;  // setpriv ... -- when root
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace uplift::faultlab
