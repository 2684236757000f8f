#include "uplift/agent/hooks.hpp"

#include <array>

#include "uplift/agent/errors.hpp"
#include "uplift/agent/process.hpp"

namespace uplift::agent {
namespace {

constexpr std::array<std::string_view, 5> kPhases = {"Download", "Install", "Reboot", "Commit",
                                                     "Rollback"};
constexpr std::array<std::string_view, 3> kActions = {"Enter", "Leave", "Error"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string_view HookPhaseName(HookPhase p) { return kPhases.at(static_cast<std::size_t>(p)); }
std::string_view HookActionName(HookAction a) { return kActions.at(static_cast<std::size_t>(a)); }

bool IsHookName(std::string_view name, HookPhase phase, HookAction action) {
  const std::string prefix =
      std::string(HookPhaseName(phase)) + "_" + std::string(HookActionName(action)) + "_";
  if (!name.starts_with(prefix)) return false;
  name.remove_prefix(prefix.size());
  if (name.size() < 2 || !IsDigit(name[0]) || !IsDigit(name[1])) return false;
  return name.size() == 2 || name[2] == '_';
}

Status DirectoryHooks::Run(HookPhase phase, HookAction action, const HookContext& context) {
  UPLIFT_ASSIGN(const auto names, ListExecutables(dir_));
  const std::vector<std::string> env = {"UPLIFT_HOOK_PHASE=" + std::string(HookPhaseName(phase)),
                                        "UPLIFT_HOOK_ACTION=" + std::string(HookActionName(action)),
                                        "UPLIFT_TARGET_SLOT=" + context.target_slot,
                                        "UPLIFT_VERSION=" + context.version,
                                        "UPLIFT_ERROR=" + context.error};
  for (const auto& name : names) {
    if (!IsHookName(name, phase, action)) continue;
    auto out = RunProcess({dir_ + "/" + name}, env, timeout_);
    if (!out.ok()) {
      return Error(Errc::kHookVeto, "hook " + name + ": " + out.error().message());
    }
    if (out->exit_code != 0 || out->timed_out) {
      return Error(Errc::kHookVeto, "hook " + name + " " + DescribeOutcome(*out, timeout_));
    }
  }
  return Ok();
}

}  // namespace uplift::agent
