// One proxied connection of the fault lab: forwards client <-> origin and applies its plan.
#pragma once

#include <atomic>
#include <cstdint>

#include "fault_proxy.hpp"
#include "uplift/base/io.hpp"

namespace uplift::faultlab {

struct Counters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> upstream_connections{0};
  std::atomic<std::uint64_t> upstream_failures{0};
  std::atomic<std::uint64_t> body_bytes_to_client{0};
  std::atomic<std::uint64_t> drops{0};
  std::atomic<std::uint64_t> truncations{0};
  std::atomic<std::uint64_t> stalls{0};
  std::atomic<std::uint64_t> flipped_bytes{0};
  std::atomic<std::uint64_t> statuses{0};
  std::atomic<std::uint64_t> etag_rewrites{0};
  std::atomic<std::uint64_t> resets{0};
  std::atomic<std::uint64_t> refused_periods{0};

  ProxyStats Snapshot() const;
};

struct ConnectionEnv {
  std::uint16_t upstream_port = 0;
  int stop_fd = -1;  // readable once the proxy stops
  Counters* counters = nullptr;
};

// Serves one accepted (non-blocking) client socket to the end under `plan`. Never throws; returns
// when either side is done, a fault ended the connection, or stop_fd became readable.
void ServeConnection(Fd client, ConnectionPlan plan, const ConnectionEnv& env);

}  // namespace uplift::faultlab
