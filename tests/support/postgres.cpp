#include "postgres.hpp"

#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "child_process.hpp"
#include "loopback_socket.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"

namespace uplift::faultlab {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kStartLimit = std::chrono::seconds(30);
constexpr auto kStopLimit = std::chrono::seconds(10);
constexpr auto kKillLimit = std::chrono::seconds(10);
constexpr int kPortAttempts = 5;
constexpr const char* kDefaultBinDir = "/usr/lib/postgresql/15/bin";
// initdb -U names the superuser, so the role does not depend on which OS user runs the server.
constexpr const char* kRole = "uplift";
constexpr const char* kDatabase = "uplift";

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

Result<std::string> FindBinDir() {
  const char* env = std::getenv("UPLIFT_PG_BINDIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : kDefaultBinDir;
  for (const char* tool : {"initdb", "postgres", "createdb"}) {
    if (!IsExecutable(dir + "/" + tool)) {
      return Error(base::Errc::kNotFound, std::string("PostgreSQL's ") + tool + " not found in " +
                                              dir + " (set UPLIFT_PG_BINDIR)");
    }
  }
  return dir;
}

// A port nobody listens on right now. Another process may take it before postgres binds it;
// Start() notices (postgres exits with "Address already in use") and tries another.
Result<std::uint16_t> FreePort() {
  UPLIFT_ASSIGN(Fd probe, ListenLoopback(0));
  return LocalPort(probe.get());
}

// postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shared memory key,
// status. The status line reads "ready" once the server accepts connections (what pg_ctl waits
// for); the pid tells our postmaster from the stale file a crashed one left behind.
bool IsReady(const std::string& pid_file, pid_t pid) {
  std::istringstream lines(ReadText(pid_file));
  std::string line;
  for (int i = 1; std::getline(lines, line); ++i) {
    if (i == 1 && line != std::to_string(pid)) return false;
    if (i == 8) return line.rfind("ready", 0) == 0;
  }
  return false;
}

std::uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start(const PostgresOptions& options) {
  UPLIFT_ASSIGN(std::string bin_dir, FindBinDir());
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "uplift-pg-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoError("mkdtemp " + tmpl, errno);
  // From here on the destructor stops what runs and removes the directory.
  auto server = std::make_unique<PostgresServer>(Token{}, tmpl, std::move(bin_dir), options.fsync);
  const std::string& work = server->work_dir_;
  if (work.find('"') != std::string::npos) {
    return Error(base::Errc::kInvalidArgument,
                 "temporary directory " + work + " cannot be quoted in unix_socket_directories");
  }

  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) {
      return Error(base::Errc::kNotFound, "user nobody to run postgres as (it refuses root)");
    }
    UPLIFT_ASSIGN(const std::string setpriv,
                  FindProgram("UPLIFT_SETPRIV", "/usr/bin/setpriv", "setpriv"));
    // setpriv execs in place, so the pid we spawn is the postmaster's own.
    server->run_as_ = {setpriv, "--reuid=" + std::to_string(nobody->pw_uid),
                       "--regid=" + std::to_string(nobody->pw_gid), "--clear-groups", "--"};
    if (::chown(work.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) {
      return ErrnoError("chown " + work, errno);
    }
  }

  // --no-sync: initdb's own files are flushed or not, a killed process loses nothing from the
  // page cache either way; the server's fsync setting, which the tests rely on, is separate.
  const std::string initdb_log = work + "/initdb.log";
  UPLIFT_ASSIGN(const int initdb_rc,
                RunLogged(server->AsServerUser({server->bin_dir_ + "/initdb", "-D", work + "/data",
                                                "-U", kRole, "--auth=trust", "-E", "UTF8",
                                                "--no-locale", "--no-sync"}),
                          initdb_log));
  if (initdb_rc != 0) {
    return Error(base::Errc::kIo, "initdb exited with " + std::to_string(initdb_rc) + ": " +
                                      LogTail(ReadText(initdb_log)));
  }

  for (int attempt = 1;; ++attempt) {
    UPLIFT_ASSIGN(server->port_, FreePort());
    Status launched = server->Launch();
    if (launched.ok()) break;
    if (server->pid_ > 0 || attempt == kPortAttempts ||
        launched.error().message().find("Address already in use") == std::string::npos) {
      return std::move(launched).error();
    }
  }

  const std::string createdb_log = work + "/createdb.log";
  UPLIFT_ASSIGN(const int createdb_rc,
                RunLogged({server->bin_dir_ + "/createdb", "-h", "127.0.0.1", "-p",
                           std::to_string(server->port_), "-U", kRole, "-w", kDatabase},
                          createdb_log));
  if (createdb_rc != 0) {
    return Error(base::Errc::kIo, "createdb exited with " + std::to_string(createdb_rc) + ": " +
                                      LogTail(ReadText(createdb_log)));
  }
  return server;
}

std::vector<std::string> PostgresServer::AsServerUser(std::vector<std::string> argv) const {
  std::vector<std::string> full = run_as_;
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

Status PostgresServer::Launch() {
  const std::string log = log_path();
  const std::uint64_t log_start = FileSize(log);  // the log spans restarts: report only this run
  UPLIFT_ASSIGN(pid_, SpawnLogged(AsServerUser({bin_dir_ + "/postgres", "-D", work_dir_ + "/data",
                                                "-c", "port=" + std::to_string(port_), "-c",
                                                "listen_addresses=127.0.0.1", "-c",
                                                "unix_socket_directories=\"" + work_dir_ + "\"",
                                                "-c", fsync_ ? "fsync=on" : "fsync=off"}),
                                  log));
  const std::string pid_file = work_dir_ + "/data/postmaster.pid";
  const auto deadline = SteadyClock::now() + kStartLimit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error(base::Errc::kIo,
                   "postgres exited during start-up: " + LogTail(ReadText(log, log_start)));
    }
    if (IsReady(pid_file, pid_)) return Ok();
    if (SteadyClock::now() >= deadline) {
      return Error(base::Errc::kIo,
                   "postgres did not accept connections on 127.0.0.1:" + std::to_string(port_) +
                       " within 30 s: " + LogTail(ReadText(log, log_start)));
    }
    ::poll(nullptr, 0, 10);  // readiness has no notification to wait on
  }
}

Status PostgresServer::CrashAndRestart() {
  if (pid_ > 0) {
    const pid_t postmaster = pid_;
    pid_ = -1;
    if (!KillTree(postmaster, kKillLimit)) {
      return Error(base::Errc::kIo, "a child of the killed postmaster " +
                                        std::to_string(postmaster) + " outlived 10 s");
    }
  }
  return Launch();
}

PostgresServer::~PostgresServer() {
  Stop();
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  // Fast shutdown: aborts sessions, writes a shutdown checkpoint, and the postmaster exits only
  // after it has reaped all its children.
  ::kill(pid_, SIGINT);
  const auto deadline = SteadyClock::now() + kStopLimit;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (SteadyClock::now() >= deadline) {
      (void)KillTree(pid_, kKillLimit);  // best effort: a destructor cannot report
      break;
    }
    ::poll(nullptr, 0, 10);
  }
  pid_ = -1;
}

std::string PostgresServer::ConnectionString() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + kRole + " dbname=" + kDatabase;
}

}  // namespace uplift::faultlab
