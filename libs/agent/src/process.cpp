#include "uplift/agent/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"

extern char** environ;

namespace uplift::agent {
namespace {

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> p;
  p.reserve(v.size() + 1);
  for (auto& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// Waits for pid for at most `timeout`; a pidfd lets poll() wait on the child without signals
// (the fleet simulator runs many agents in one process, so no SIGCHLD handler).
Result<bool> WaitExited(pid_t pid, std::chrono::milliseconds timeout) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return ErrnoError("pidfd_open", errno);
  Fd owned(pidfd);
  pollfd p{pidfd, POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return ErrnoError("poll(pidfd)", errno);
  }
}

}  // namespace

Result<ProcessOutcome> RunProcess(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& extra_env,
                                  std::chrono::milliseconds timeout) {
  if (argv.empty()) return Error(base::Errc::kInvalidArgument, "RunProcess: empty argv");
  struct stat st {};
  if (::stat(argv[0].c_str(), &st) != 0) return ErrnoError(argv[0], errno);
  std::vector<std::string> args = argv;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra_env.begin(), extra_env.end());

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a timeout kills the program and everything it started.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = 0;
  const int rc =
      ::posix_spawn(&pid, args[0].c_str(), &fa, &attr, CStrings(args).data(), CStrings(env).data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return ErrnoError("spawning " + argv[0], rc);

  ProcessOutcome out;
  auto exited = WaitExited(pid, timeout);
  if (!exited.ok() || !*exited) {
    ::kill(-pid, SIGKILL);
    out.timed_out = exited.ok();
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid " + argv[0], errno);
  }
  if (!exited.ok()) return std::move(exited).error();
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

Result<std::vector<std::string>> ListExecutables(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return ErrnoError("opendir " + dir, errno);
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    struct stat st {};
    const std::string path = dir + "/" + name;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(path.c_str(), X_OK) != 0) continue;
    names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string DescribeOutcome(const ProcessOutcome& o, std::chrono::milliseconds timeout) {
  if (o.timed_out) return "timed out after " + std::to_string(timeout.count()) + " ms";
  if (o.exit_code >= 128) return "killed by signal " + std::to_string(o.exit_code - 128);
  return "exited " + std::to_string(o.exit_code);
}

}  // namespace uplift::agent
