// Plain POSIX TCP on 127.0.0.1 for the fault lab. Every wait also polls a "stop" descriptor (the
// read end of a pipe that becomes readable once when the owner shuts down), so no peer, however
// silent, can keep a thread from ending.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"

namespace uplift::faultlab {

// A non-blocking listening socket on 127.0.0.1:port (0: a free port), SO_REUSEADDR set so the
// same port can be bound again while accepted connections on it live on. kIo on failure.
[[nodiscard]] Result<Fd> ListenLoopback(std::uint16_t port);
// The port a bound socket got. kIo on failure.
[[nodiscard]] Result<std::uint16_t> LocalPort(int fd);
// A blocking connect to 127.0.0.1:port; the socket is returned non-blocking. kIo (message with
// strerror, e.g. "Connection refused") on failure.
[[nodiscard]] Result<Fd> ConnectLoopback(std::uint16_t port);
// A pipe whose ends are close-on-exec; kIo on failure.
[[nodiscard]] Status MakePipe(Fd& read_end, Fd& write_end);

void SetNonBlocking(int fd);
// The next close() sends RST instead of FIN and discards unsent data.
void SetLingerZero(int fd);
// Closes with RST.
void ResetAndClose(Fd& fd);

enum class WaitResult { kReady, kTimeout, kStopped };
// Sleeps up to `d` unless stop_fd becomes readable.
WaitResult WaitForStop(int stop_fd, std::chrono::milliseconds d);

// Writes all of data to a non-blocking socket (MSG_NOSIGNAL), waiting for POLLOUT as needed.
// False if the peer went away or stop_fd became readable.
bool SendAll(int fd, std::string_view data, int stop_fd);
// Waits until the kernel has handed every byte written to fd to the peer (SIOCOUTQ reaches 0), so
// that a following RST does not discard bytes a fault promises to deliver. False on stop, error,
// or after `limit` (a peer that stopped reading).
bool WaitUntilDelivered(int fd, int stop_fd, std::chrono::milliseconds limit);
// After shutdown(SHUT_WR): reads and discards until the peer closes, `limit` passes or stop_fd
// fires. Closing with unread input would send RST and could destroy the data just sent.
void DrainUntilClosed(int fd, int stop_fd, std::chrono::milliseconds limit);

}  // namespace uplift::faultlab
