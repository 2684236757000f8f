// The update state machine, declared once as a table of (from, event, to). The agent writes
// the journal with the new state BEFORE it acts on a transition; a transition missing from the
// table is a bug and fails with agent::Errc::kBadTransition (never silently continues).
// The table is documented in docs/agent.md §States.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "uplift/agent/errors.hpp"
#include "uplift/format/journal.hpp"

namespace uplift::agent {

using format::AgentState;

enum class Event : std::uint8_t {
  kInstallLocal,  // a local bundle file: start verifying it
  kDownload,      // a remote bundle: start fetching (and authenticating) its head
  kRestart,       // the remote bundle changed on the server mid-install: start over from its head
  kVerified,      // manifest trusted and the device accepts it: start writing the slot
  kResume,        // start-up found this state interrupted and runs it again
  kWritten,       // the slot is written and read back equal to the image
  kBooted,        // after reboot, running from the new slot: trial starts
  kHealthy,       // health checks passed (or manual commit): commit
  kRollback,      // health check failed, boot loop, bootloader fell back, or manual
  kRolledBack,    // running from the old slot again, marked good
  kFail,          // refused or broken before the bootloader was armed
};
inline constexpr std::size_t kEventCount = 11;

std::string_view EventName(Event e);

struct Transition {
  AgentState from;
  Event event;
  AgentState to;
};

// Every allowed transition; nothing else is.
std::span<const Transition> TransitionTable();

// The state after `event` in `from`, or kBadTransition.
Result<AgentState> NextState(AgentState from, Event event);

}  // namespace uplift::agent
