#include "uplift/agent/health.hpp"

#include <unistd.h>

#include "uplift/agent/errors.hpp"
#include "uplift/agent/process.hpp"
#include "uplift/base/io.hpp"

namespace uplift::agent {

Status DirectoryHealthChecks::Run() {
  UPLIFT_ASSIGN(const auto names, ListExecutables(dir_));
  for (const auto& name : names) {
    auto out = RunProcess({dir_ + "/" + name}, {}, timeout_);
    if (!out.ok()) {
      return Error(Errc::kHealthCheckFailed, "health check " + name + ": " + out.error().message());
    }
    if (out->exit_code != 0 || out->timed_out) {
      return Error(Errc::kHealthCheckFailed,
                   "health check " + name + " " + DescribeOutcome(*out, timeout_));
    }
  }
  return Ok();
}

Status DataDirWritableCheck::Run() {
  const std::string probe = dir_ + "/.uplift-health-probe";
  const Status st = WriteFileAtomic(probe, AsBytes("ok\n"));
  ::unlink(probe.c_str());
  if (!st.ok()) {
    return Error(Errc::kHealthCheckFailed,
                 "data dir " + dir_ + " is not writable: " + st.error().message());
  }
  return Ok();
}

}  // namespace uplift::agent
