// The network fault lab: an HTTP/1.1-aware TCP proxy on 127.0.0.1 that sits between a client (the
// resumable downloader) and a real origin (nginx on loopback) and injects the faults a device's
// link produces: resets and clean closes at exact body offsets, stalls, throttling, flipped bytes,
// error statuses with Retry-After, an ETag that changes mid-download, refused connections.
//
// Each accepted connection takes the next queued ConnectionPlan (or the default one), so a test
// scripts a download connection by connection. Requests travel upstream byte for byte unchanged;
// responses travel back unchanged except for the planned faults.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"

namespace uplift::faultlab {

// What happens to one proxied connection. Offsets count BODY bytes of the FIRST response on the
// connection as they appear on the wire after the blank line ending its headers (chunk framing
// included, if the origin chunks); later responses on a kept-alive connection pass through
// untouched, except for drop_every, flip_every and throttle, which apply to the whole connection.
struct ConnectionPlan {
  // After this many body bytes: close both sides with RST (SO_LINGER 0).
  std::optional<std::uint64_t> drop_at{};
  // After this many body bytes: clean close (FIN) of both sides.
  std::optional<std::uint64_t> truncate_at{};
  // After this many body bytes: forward nothing for stall_for, then carry on.
  std::optional<std::uint64_t> stall_at{};
  std::chrono::milliseconds stall_for{0};
  // XOR 0x01 into these body bytes (any order, duplicates ignored).
  std::vector<std::uint64_t> flip_at{};
  // 0: unlimited; else caps every byte the client receives on this connection, heads included.
  std::uint64_t throttle_bytes_per_s = 0;
  // >0: RST once the connection carried this many body bytes (counted over all its responses).
  std::uint64_t drop_every = 0;
  // >0: XOR 0x01 into connection body bytes flip_every-1, 2*flip_every-1, ...
  std::uint64_t flip_every = 0;
  // Non-zero: answer this status itself without contacting the origin: a small JSON body,
  // Content-Length, Connection: close.
  int status = 0;
  // With status: a Retry-After header (seconds).
  std::optional<int> retry_after_s{};
  // The new value of the first response's ETag, quotes included. A response without ETag is
  // left alone.
  std::optional<std::string> replace_etag{};
  // Accept, then RST at once without a byte.
  bool reset_immediately = false;
  // drop_at, truncate_at, stall_at and flip_at count the body bytes of ALL responses on the
  // connection instead of the first one's (for clients that keep one connection for several
  // requests).
  bool whole_connection = false;
};

// Counters since Start(). faults_applied is the sum of the per-fault counters below it.
struct ProxyStats {
  std::uint64_t connections = 0;           // accepted from clients
  std::uint64_t upstream_connections = 0;  // opened to the origin
  std::uint64_t upstream_failures = 0;     // origin refused or unreachable (client then reset)
  std::uint64_t body_bytes_to_client = 0;  // origin body bytes passed to clients, all responses
  std::uint64_t faults_applied = 0;
  std::uint64_t drops = 0;  // drop_at and drop_every resets
  std::uint64_t truncations = 0;
  std::uint64_t stalls = 0;
  std::uint64_t flipped_bytes = 0;
  std::uint64_t statuses = 0;  // answered by the proxy itself
  std::uint64_t etag_rewrites = 0;
  std::uint64_t resets = 0;           // reset_immediately
  std::uint64_t refused_periods = 0;  // RefuseFor calls
};

struct Counters;  // the live atomics behind ProxyStats (fault_connection.hpp)

class FaultProxy {
 public:
  // Listens on 127.0.0.1:listen_port (0: a free port) and proxies to 127.0.0.1:upstream_port.
  // Fails with base::Errc::kIo when the port cannot be bound or a thread cannot start.
  [[nodiscard]] static Result<std::unique_ptr<FaultProxy>> Start(std::uint16_t upstream_port,
                                                                 std::uint16_t listen_port = 0);
  // Stops accepting, wakes every connection (stalled, throttled or blocked on a silent peer),
  // closes them and joins all threads.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  // Plans for the next connections, first in first out, one per accepted connection.
  void Enqueue(ConnectionPlan plan);
  // The plan used when the queue is empty (initially: pass-through).
  void SetDefault(ConnectionPlan plan);
  // Closes the listening socket (clients get ECONNREFUSED) before returning, and listens again on
  // the same port once `d` has passed. Connections already accepted carry on. A second call while
  // refusing extends the period to the later end.
  void RefuseFor(std::chrono::milliseconds d);
  ProxyStats stats() const;

  struct Token {  // keeps construction to Start()
   private:
    Token() = default;
    friend class FaultProxy;
  };
  FaultProxy(Token, std::uint16_t upstream_port, std::uint16_t port, Fd listener);

 private:
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  Status Init();
  void AcceptLoop();
  void AcceptOne();
  void ReapFinished(bool all);
  ConnectionPlan NextPlan();

  const std::uint16_t upstream_port_;
  const std::uint16_t port_;
  Fd listener_;  // owned by the accept thread once it runs; invalid while refusing
  // Readable forever once the proxy stops: every blocking wait polls it.
  Fd stop_read_, stop_write_;
  // Wakes the accept thread for a RefuseFor request.
  Fd wake_read_, wake_write_;
  std::unique_ptr<Counters> counters_;

  mutable std::mutex mu_;
  std::condition_variable refused_cv_;
  std::deque<ConnectionPlan> queue_;
  ConnectionPlan default_plan_;
  std::chrono::steady_clock::time_point refuse_until_{};
  std::uint64_t refuse_requests_ = 0;  // RefuseFor calls so far
  std::uint64_t refuse_acks_ = 0;      // of those, how many the accept thread has carried out

  std::list<Connection> connections_;  // accept thread only
  std::thread acceptor_;
};

}  // namespace uplift::faultlab
