#include "uplift/agent/state_machine.hpp"

#include <string>

namespace uplift::agent {
namespace {

using S = AgentState;
using E = Event;

// clang-format off
constexpr Transition kTable[] = {
    // Starting an update: only from a state at rest.
    {S::kIdle,        E::kInstallLocal, S::kVerifying},
    {S::kCommitted,   E::kInstallLocal, S::kVerifying},
    {S::kRolledBack,  E::kInstallLocal, S::kVerifying},
    {S::kFailed,      E::kInstallLocal, S::kVerifying},
    {S::kIdle,        E::kDownload,     S::kDownloading},
    {S::kCommitted,   E::kDownload,     S::kDownloading},
    {S::kRolledBack,  E::kDownload,     S::kDownloading},
    {S::kFailed,      E::kDownload,     S::kDownloading},
    // Fetching and checking the bundle's head: nothing has touched a slot yet.
    {S::kDownloading, E::kResume,       S::kDownloading},
    {S::kDownloading, E::kVerified,     S::kInstalling},
    {S::kDownloading, E::kFail,         S::kFailed},
    {S::kVerifying,   E::kResume,       S::kVerifying},
    {S::kVerifying,   E::kVerified,     S::kInstalling},
    {S::kVerifying,   E::kFail,         S::kFailed},
    // Writing the inactive slot; the active one is never touched.
    {S::kInstalling,  E::kResume,       S::kInstalling},
    {S::kInstalling,  E::kWritten,      S::kInstalled},
    {S::kInstalling,  E::kFail,         S::kFailed},
    {S::kInstalling,  E::kRestart,      S::kDownloading},  // the remote bundle changed
    // Awaiting reboot into the armed slot.
    {S::kInstalled,   E::kBooted,       S::kTrialBoot},
    {S::kInstalled,   E::kFail,         S::kFailed},      // refused before arming (Reboot hook)
    {S::kInstalled,   E::kRollback,     S::kRollingBack}, // bootloader fell back, or manual
    // On trial in the new slot.
    {S::kTrialBoot,   E::kResume,       S::kTrialBoot},
    {S::kTrialBoot,   E::kHealthy,      S::kCommitted},
    {S::kTrialBoot,   E::kRollback,     S::kRollingBack},
    // Back to the old slot.
    {S::kRollingBack, E::kRolledBack,   S::kRolledBack},
};
// clang-format on

constexpr std::array<std::string_view, kEventCount> kEventNames = {
    "install_local", "download", "restart",  "verified",    "resume", "written",
    "booted",        "healthy",  "rollback", "rolled_back", "fail"};

// A table with two rows for the same (from, event) would make the machine ambiguous.
constexpr bool Deterministic() {
  for (std::size_t i = 0; i < std::size(kTable); ++i) {
    for (std::size_t j = i + 1; j < std::size(kTable); ++j) {
      if (kTable[i].from == kTable[j].from && kTable[i].event == kTable[j].event) return false;
    }
  }
  return true;
}
static_assert(Deterministic(), "two transitions for the same (state, event)");

}  // namespace

std::string_view EventName(Event e) { return kEventNames.at(static_cast<std::size_t>(e)); }

std::span<const Transition> TransitionTable() { return kTable; }

Result<AgentState> NextState(AgentState from, Event event) {
  for (const auto& t : kTable) {
    if (t.from == from && t.event == event) return t.to;
  }
  return Error(Errc::kBadTransition, "no transition from state " +
                                         std::string(format::AgentStateName(from)) + " on event " +
                                         std::string(EventName(event)));
}

}  // namespace uplift::agent
