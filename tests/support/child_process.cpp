#include "child_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"

extern char** environ;

namespace uplift::faultlab {
namespace {

constexpr std::size_t kLogTail = 1500;

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// The state letter and parent of /proc/PID/stat ("pid (comm) S ppid ..."); comm may hold spaces
// and parentheses, so parse from the last ')'.
bool ReadStat(pid_t pid, char* state, pid_t* ppid) {
  const std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 1));
  long parent = 0;
  if (!(rest >> *state >> parent)) return false;
  *ppid = static_cast<pid_t>(parent);
  return true;
}

}  // namespace

Result<std::string> FindProgram(const char* env_var, const std::string& fallback,
                                const std::string& name) {
  if (const char* v = std::getenv(env_var); v != nullptr && *v != '\0') {
    if (IsExecutable(v)) return std::string(v);
    return Error(base::Errc::kNotFound, std::string(env_var) + "=" + v + " is not executable");
  }
  if (IsExecutable(fallback)) return fallback;
  std::stringstream path(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(path, dir, ':');) {
    if (!dir.empty() && IsExecutable(dir + "/" + name)) return dir + "/" + name;
  }
  return Error(base::Errc::kNotFound, name + " not found (" + fallback + ", PATH)");
}

Result<pid_t> SpawnLogged(std::vector<std::string> argv, const std::string& log_path) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return ErrnoError("spawning " + argv[0], rc);
  return pid;
}

Result<int> RunLogged(std::vector<std::string> argv, const std::string& log_path) {
  UPLIFT_ASSIGN(const pid_t pid, SpawnLogged(std::move(argv), log_path));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid", errno);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadText(const std::string& path, std::uint64_t offset) {
  std::ifstream f(path, std::ios::binary);
  if (offset > 0) f.seekg(static_cast<std::streamoff>(offset));
  if (!f) return {};
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string LogTail(std::string log) {
  if (log.size() > kLogTail) log = "..." + log.substr(log.size() - kLogTail);
  while (!log.empty() && (log.back() == '\n' || log.back() == '\r')) log.pop_back();
  for (char& c : log) {
    if (c == '\n') c = '|';  // error messages are one line
  }
  return log;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return children;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    char state = 0;
    pid_t ppid = 0;
    if (ReadStat(static_cast<pid_t>(pid), &state, &ppid) && ppid == parent && state != 'Z') {
      children.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(proc);
  return children;
}

bool IsGone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  char state = 0;
  pid_t ppid = 0;
  // A zombie waits for whoever reaps orphans; inside some containers that may be never.
  return !ReadStat(pid, &state, &ppid) || state == 'Z' || state == 'X';
}

bool KillTree(pid_t pid, std::chrono::milliseconds limit) {
  ::kill(pid, SIGSTOP);
  const std::vector<pid_t> children = ChildrenOf(pid);
  ::kill(pid, SIGKILL);
  for (const pid_t child : children) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (const pid_t child : children) {
    while (!IsGone(child)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ::poll(nullptr, 0, 5);  // an exit we did not fork has no notification to wait on
    }
  }
  return true;
}

}  // namespace uplift::faultlab
