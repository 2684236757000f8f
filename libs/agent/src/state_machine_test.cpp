#include "uplift/agent/state_machine.hpp"

#include <gtest/gtest.h>

#include <set>

namespace uplift::agent {
namespace {

using S = AgentState;

TEST(StateMachine, HappyPathIsInTheTable) {
  S s = S::kIdle;
  for (Event e :
       {Event::kInstallLocal, Event::kVerified, Event::kWritten, Event::kBooted, Event::kHealthy}) {
    auto n = NextState(s, e);
    ASSERT_TRUE(n.ok()) << n.error().message();
    s = *n;
  }
  EXPECT_EQ(s, S::kCommitted);
}

TEST(StateMachine, TransitionsOutsideTheTableAreErrors) {
  const auto r = NextState(S::kIdle, Event::kHealthy);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kBadTransition));
  EXPECT_NE(r.error().message().find("idle"), std::string::npos);
  EXPECT_FALSE(NextState(S::kCommitted, Event::kRollback).ok());       // commit is final
  EXPECT_FALSE(NextState(S::kTrialBoot, Event::kFail).ok());           // a trial only rolls back
  EXPECT_FALSE(NextState(S::kInstalling, Event::kInstallLocal).ok());  // one update at a time
}

TEST(StateMachine, EveryStateIsReachableFromIdleAndEveryInFlightStateCanEnd) {
  std::set<S> reached = {S::kIdle};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& t : TransitionTable()) {
      if (reached.contains(t.from) && reached.insert(t.to).second) grew = true;
    }
  }
  EXPECT_EQ(reached.size(), format::kAgentStateCount);
  // From each in-flight state some path leads to a state at rest.
  for (std::size_t i = 0; i < format::kAgentStateCount; ++i) {
    std::set<S> seen = {static_cast<S>(i)};
    bool rest = format::IsAtRest(static_cast<S>(i));
    for (bool grew = true; grew && !rest;) {
      grew = false;
      for (const auto& t : TransitionTable()) {
        if (seen.contains(t.from) && seen.insert(t.to).second) {
          grew = true;
          rest = rest || format::IsAtRest(t.to);
        }
      }
    }
    EXPECT_TRUE(rest) << format::AgentStateName(static_cast<S>(i));
  }
}

TEST(StateMachine, OnlyStatesAtRestStartUpdates) {
  for (const auto& t : TransitionTable()) {
    if (t.event == Event::kInstallLocal || t.event == Event::kDownload) {
      EXPECT_TRUE(format::IsAtRest(t.from)) << format::AgentStateName(t.from);
    }
  }
}

}  // namespace
}  // namespace uplift::agent
