#include "loopback_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace uplift::faultlab {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in LoopbackAddress(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

int PollTimeout(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

}  // namespace

Result<Fd> ListenLoopback(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return ErrnoError("socket", errno);
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in addr = LoopbackAddress(port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return ErrnoError("bind 127.0.0.1:" + std::to_string(port), errno);
  }
  if (::listen(fd.get(), 128) != 0) return ErrnoError("listen", errno);
  return fd;
}

Result<std::uint16_t> LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoError("getsockname", errno);
  }
  return ntohs(addr.sin_port);
}

Result<Fd> ConnectLoopback(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError("socket", errno);
  const sockaddr_in addr = LoopbackAddress(port);
  int rc = 0;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return ErrnoError("connect 127.0.0.1:" + std::to_string(port), errno);
  SetNonBlocking(fd.get());
  return fd;
}

Status MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
  return Ok();
}

void SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void SetLingerZero(int fd) {
  const linger lg{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

void ResetAndClose(Fd& fd) {
  if (!fd.valid()) return;
  SetLingerZero(fd.get());
  fd = Fd();
}

WaitResult WaitForStop(int stop_fd, std::chrono::milliseconds d) {
  const auto deadline = Clock::now() + d;
  for (;;) {
    pollfd p{.fd = stop_fd, .events = POLLIN, .revents = 0};
    const int rc = ::poll(&p, 1, PollTimeout(deadline));
    if (rc > 0) return WaitResult::kStopped;
    if (rc == 0 && Clock::now() >= deadline) return WaitResult::kTimeout;
  }
}

bool SendAll(int fd, std::string_view data, int stop_fd) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    pollfd p[2] = {{.fd = fd, .events = POLLOUT, .revents = 0},
                   {.fd = stop_fd, .events = POLLIN, .revents = 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return false;
    if (p[1].revents != 0) return false;
    if ((p[0].revents & (POLLERR | POLLNVAL)) != 0) return false;
  }
  return true;
}

bool WaitUntilDelivered(int fd, int stop_fd, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    int queued = 0;
    if (::ioctl(fd, SIOCOUTQ, &queued) != 0) return false;
    if (queued == 0) return true;
    if (Clock::now() >= deadline) return false;
    // The kernel offers no wake-up for "send queue empty"; on loopback it empties within
    // microseconds unless the client stopped reading, so a short poll interval is cheap.
    if (WaitForStop(stop_fd, std::chrono::milliseconds(1)) == WaitResult::kStopped) return false;
  }
}

void DrainUntilClosed(int fd, int stop_fd, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
    if (n > 0) continue;
    if (Clock::now() >= deadline) return;
    pollfd p[2] = {{.fd = fd, .events = POLLIN, .revents = 0},
                   {.fd = stop_fd, .events = POLLIN, .revents = 0}};
    if (::poll(p, 2, PollTimeout(deadline)) > 0 && p[1].revents != 0) return;
  }
}

}  // namespace uplift::faultlab
