// A reconnect storm: N devices connect at once, each on a new connection, each sending one
// pre-signed check-in (from checkin_requests.py's file); prints the distribution of the time
// from connect() to the complete answer. One thread, epoll: the client is not the bottleneck.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::string req;
  std::size_t sent = 0;
  std::string in;
  Clock::time_point start;
  double ms = -1;
  bool failed = false;
};

// True once `in` holds a whole response (headers + Content-Length body).
bool Complete(const std::string& in, int* status) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  *status = std::atoi(in.c_str() + 9);
  std::size_t len = 0;
  const auto cl = in.find("Content-Length: ");
  if (cl != std::string::npos && cl < end) len = std::strtoull(in.c_str() + cl + 16, nullptr, 10);
  return in.size() >= end + 4 + len;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: storm PORT REQUESTS_FILE N\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::size_t n = std::strtoull(argv[3], nullptr, 10);
  std::ifstream f(argv[2], std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> reqs;
  for (std::size_t p = 0; p < data.size();) {
    const auto z = data.find('\0', p);
    reqs.push_back(data.substr(p, z - p));
    p = z == std::string::npos ? data.size() : z + 1;
  }
  if (reqs.size() < n) {
    std::fprintf(stderr, "storm: %zu requests in the file, %zu needed\n", reqs.size(), n);
    return 2;
  }
  rlimit rl{n + 1024, n + 1024};
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    std::perror("setrlimit");
    return 1;
  }
  const int ep = ::epoll_create1(0);
  std::vector<Conn> conns(n);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    Conn& c = conns[i];
    c.req = reqs[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.start = Clock::now();
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
      c.failed = true;
      ::close(c.fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  std::size_t open = 0;
  for (auto& c : conns) open += c.failed ? 0 : 1;
  std::vector<epoll_event> events(4096);
  std::size_t bad_status = 0;
  char buf[16384];
  const auto deadline = t0 + std::chrono::seconds(60);
  while (open > 0 && Clock::now() < deadline) {
    const int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    for (int e = 0; e < k; ++e) {
      Conn& c = conns[events[static_cast<std::size_t>(e)].data.u64];
      if (c.fd < 0) continue;
      bool done = false;
      if (events[static_cast<std::size_t>(e)].events & (EPOLLERR | EPOLLHUP)) {
        if (!(events[static_cast<std::size_t>(e)].events & EPOLLIN)) c.failed = done = true;
      }
      if (!done && c.sent < c.req.size() &&
          (events[static_cast<std::size_t>(e)].events & EPOLLOUT)) {
        const ssize_t w = ::send(c.fd, c.req.data() + c.sent, c.req.size() - c.sent, MSG_NOSIGNAL);
        if (w > 0) c.sent += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) c.failed = done = true;
        if (c.sent == c.req.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = events[static_cast<std::size_t>(e)].data.u64;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (!done && (events[static_cast<std::size_t>(e)].events & EPOLLIN)) {
        for (;;) {
          const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<std::size_t>(r));
            continue;
          }
          if (r == 0) c.failed = done = true;
          break;
        }
        int status = 0;
        if (Complete(c.in, &status)) {
          c.ms = std::chrono::duration<double, std::milli>(Clock::now() - c.start).count();
          if (status != 200) ++bad_status;
          c.failed = false;
          done = true;
        }
      }
      if (done) {
        ::close(c.fd);
        c.fd = -1;
        --open;
      }
    }
  }
  std::vector<double> ms;
  std::size_t failed = 0;
  for (auto& c : conns) {
    if (c.ms >= 0) {
      ms.push_back(c.ms);
    } else {
      ++failed;
    }
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms.empty() ? 0.0
                      : ms[std::min(ms.size() - 1,
                                    static_cast<std::size_t>(p * static_cast<double>(ms.size())))];
  };
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "devices %zu answered %zu failed %zu non200 %zu wall_s %.2f p50_ms %.1f p99_ms %.1f max_ms "
      "%.1f\n",
      n, ms.size(), failed, bad_status, wall, pct(0.5), pct(0.99), ms.empty() ? 0.0 : ms.back());
  return failed == 0 && bad_status == 0 ? 0 : 1;
}
