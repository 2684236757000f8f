// Runs a program as a child process for the integration tests: stdin from /dev/null, stdout and
// stderr captured in unlinked temporary files (no pipes: no deadlock on large output, no
// threads), the exit code returned.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern char** environ;

namespace uplift::testing {

using Env = std::vector<std::pair<std::string, std::string>>;
using Args = std::vector<std::string>;

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << "writing " << path;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Slurp(int fd) {
  std::string s;
  char buf[8192];
  ssize_t n = 0;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(s.size()))) > 0) {
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

// An unlinked temporary file to capture a child's output in.
inline int TempFd() {
  char name[] = "/tmp/uplift-cli-io-XXXXXX";
  const int fd = ::mkstemp(name);
  if (fd >= 0) ::unlink(name);
  return fd;
}

inline std::vector<char*> CStrings(Args& v) {
  std::vector<char*> p;
  for (auto& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// Runs argv[0] (an absolute path) with stdin from /dev/null and stdout/stderr captured in
// files (no pipes: no deadlock on large output, no threads). UPLIFT_KEY_PASSPHRASE is never
// inherited from the test's own environment, only set through `env`.
inline RunResult Spawn(Args argv, const Env& env = {}) {
  Args env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with("UPLIFT_KEY_PASSPHRASE=")) env_strings.push_back(*e);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  const int out_fd = TempFd();
  const int err_fd = TempFd();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = out_fd < 0 || err_fd < 0
                     ? EMFILE
                     : ::posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, CStrings(argv).data(),
                                     CStrings(env_strings).data());
  posix_spawn_file_actions_destroy(&fa);
  RunResult r;
  int status = 0;
  if (rc != 0) {
    ADD_FAILURE() << "spawning " << argv[0] << ": " << std::strerror(rc);
  } else if (::waitpid(pid, &status, 0) == pid) {
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.out = Slurp(out_fd);
  r.err = Slurp(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return r;
}

}  // namespace uplift::testing
