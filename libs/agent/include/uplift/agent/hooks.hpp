// State hooks in the manner of Mender's state scripts: executables named
// <Phase>_<Action>_<NN>[_description] in one directory (e.g. Install_Enter_00,
// Commit_Leave_10_notify), run in lexical order when the agent enters, leaves or fails a phase.
// A non-zero exit (or a timeout) of an Enter or Leave hook vetoes the step
// (agent::Errc::kHookVeto); Error hooks are informative and cannot veto, and neither can Rollback
// hooks: rolling back is the safe direction and must not be blocked.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::agent {

enum class HookPhase { kDownload, kInstall, kReboot, kCommit, kRollback };
enum class HookAction { kEnter, kLeave, kError };

std::string_view HookPhaseName(HookPhase p);    // "Download", ...
std::string_view HookActionName(HookAction a);  // "Enter", "Leave", "Error"

// What a hook learns through its environment (UPLIFT_* variables, docs/agent.md §Hooks).
struct HookContext {
  std::string target_slot;  // "A"/"B"
  std::string version;      // of the update
  std::string error;        // for Error hooks: the one-line error
};

class HookRunner {
 public:
  virtual ~HookRunner() = default;
  // Runs every hook of (phase, action). kHookVeto naming the first hook that failed; the
  // remaining hooks of that step are not run.
  virtual Status Run(HookPhase phase, HookAction action, const HookContext& context) = 0;
};

// No hooks at all.
class NoHooks final : public HookRunner {
 public:
  Status Run(HookPhase, HookAction, const HookContext&) override { return Ok(); }
};

class DirectoryHooks final : public HookRunner {
 public:
  DirectoryHooks(std::string dir, std::chrono::milliseconds timeout)
      : dir_(std::move(dir)), timeout_(timeout) {}
  Status Run(HookPhase phase, HookAction action, const HookContext& context) override;

 private:
  std::string dir_;
  std::chrono::milliseconds timeout_;
};

// True if name is a hook file name for (phase, action).
bool IsHookName(std::string_view name, HookPhase phase, HookAction action);

}  // namespace uplift::agent
