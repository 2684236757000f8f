// Starting, finding and ending the third-party server processes the fault lab runs (nginx,
// PostgreSQL).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::faultlab {

// $env_var if set, else `fallback` if executable, else the first `name` on PATH. kNotFound when
// none is executable (or $env_var names something that is not).
[[nodiscard]] Result<std::string> FindProgram(const char* env_var, const std::string& fallback,
                                              const std::string& name);

// Starts argv[0] (an absolute path) with stdin from /dev/null and stdout/stderr appended to
// log_path, so the child never writes to the test's own output. kIo when posix_spawn fails.
[[nodiscard]] Result<pid_t> SpawnLogged(std::vector<std::string> argv, const std::string& log_path);
// SpawnLogged and waits for the end; returns the exit status (128+signal when killed).
[[nodiscard]] Result<int> RunLogged(std::vector<std::string> argv, const std::string& log_path);

// The file's contents from byte `offset` on; empty when it cannot be read.
std::string ReadText(const std::string& path, std::uint64_t offset = 0);
// The last ~1500 bytes of a log as one line ('\n' becomes '|'), for error messages.
std::string LogTail(std::string log);

// The live processes whose parent is `parent` (from /proc).
std::vector<pid_t> ChildrenOf(pid_t parent);
// True when `pid` does not exist or is a zombie: it holds no resources and runs no code.
bool IsGone(pid_t pid);

// Ends `pid` (our child) and its children at once with SIGKILL, as a crash would: the parent is
// stopped first so it cannot fork while its children are collected. Reaps `pid` and waits up to
// `limit` for the children (reparented to init) to be gone; false if one outlives that.
bool KillTree(pid_t pid, std::chrono::milliseconds limit);

}  // namespace uplift::faultlab
