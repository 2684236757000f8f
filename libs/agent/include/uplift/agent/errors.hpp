// Error codes of the agent module. The numbers are `uplift-agent` exit codes (docs/agent.md):
// never renumber, only append (the range 80..99 belongs to the agent).
#pragma once

#include "uplift/base/result.hpp"

namespace uplift::agent {

enum class Errc : int {
  kBadTransition = 80,      // a transition not in the table: a bug, never silently continued
  kBusy = 81,               // an update is in flight; finish it (recover/commit/rollback) first
  kNothingToDo = 82,        // commit/rollback with no update on trial
  kHookVeto = 83,           // a state hook exited non-zero (or timed out): the step was refused
  kHealthCheckFailed = 84,  // a health check failed: the update was rolled back
  kReadbackMismatch = 85,   // the slot read back does not hash to the image: update failed
  kSlotTooSmall = 86,       // the image does not fit the inactive slot
  kNoPayload = 87,          // the bundle has no payload for this device's slot target
  kConfig = 88,             // the agent configuration is invalid
  kWrongSlot = 89,          // booted slot disagrees with what the update expects
  kRolledBack = 90,         // the update ended rolled back (bootloader fell back, loop limit)
  kInterrupted = 91,        // an interrupted update could not be resumed (bundle gone, limit)
};

}  // namespace uplift::agent

UPLIFT_ERROR_DOMAIN(uplift::agent::Errc, "agent")
