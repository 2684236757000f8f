// uplift-agent's server mode (docs/agent.md §Server mode): enrollment, and the daemon loop that
// checks in with uplift-server, installs what it offers and reports every phase.
#pragma once

#include <functional>
#include <string>

#include "config.hpp"
#include "platform.hpp"
#include "uplift/agent/agent.hpp"
#include "uplift/agent/updater.hpp"
#include "uplift/transport/device_api.hpp"

namespace uplift::agent_app {

// The device id from the configuration, else /etc/machine-id.
Result<std::string> DeviceIdOf(const Config& config);

// The credential from credential_file; if there is none, enrolls with the enrollment secret and
// stores the credential (0600, durably) first. Returns the credentials.
Result<transport::DeviceCredentials> EnsureEnrolled(const Config& config);

// One step at a time until `once` (one step) or forever; between steps it sleeps for what the
// updater says. `make_agent` builds the agent with the given transition observer and runs its
// start-up recovery; it is called again after every install that asked for a reboot (on a real
// device the reboot ends this process first).
Status RunServerDaemon(
    const Config& config,
    const std::function<Result<agent::Agent>(
        std::function<void(agent::AgentState, agent::Event, agent::AgentState)>)>& make_agent,
    storage::RecordStore& report_store, const Clock& clock, bool once, bool json);

}  // namespace uplift::agent_app
