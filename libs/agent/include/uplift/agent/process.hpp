// Running external programs (state hooks, health checks, the reboot command) without a shell:
// posix_spawn in a new process group, stdin from /dev/null, stdout joined to the agent's stderr
// (stdout stays clean for `status --json`), and on timeout the whole group is killed.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::agent {

struct ProcessOutcome {
  int exit_code = -1;      // exit status, or 128 + signal number
  bool timed_out = false;  // killed (with its process group) at the timeout
};

// Runs argv (argv[0] an absolute or relative path, not searched in PATH) with the agent's
// environment plus `extra_env` ("NAME=value"). base::Errc::kNotFound if argv[0] does not exist,
// kIo if it cannot be started or waited for.
Result<ProcessOutcome> RunProcess(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& extra_env,
                                  std::chrono::milliseconds timeout);

// Executable regular files in dir (not following into subdirectories), sorted by name. A missing
// directory is an empty list; other errors kIo.
Result<std::vector<std::string>> ListExecutables(const std::string& dir);

// "exited 3" / "killed by signal 9" / "timed out after 2000 ms".
std::string DescribeOutcome(const ProcessOutcome& o, std::chrono::milliseconds timeout);

}  // namespace uplift::agent
