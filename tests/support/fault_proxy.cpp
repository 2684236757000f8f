#include "fault_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

#include "fault_connection.hpp"
#include "loopback_socket.hpp"

namespace uplift::faultlab {
namespace {

using SteadyClock = std::chrono::steady_clock;

// While the port should listen again but cannot (someone else took it), retry this often.
constexpr std::chrono::milliseconds kRelistenRetry{10};

}  // namespace

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(std::uint16_t upstream_port,
                                                      std::uint16_t listen_port) {
  UPLIFT_ASSIGN(Fd listener, ListenLoopback(listen_port));
  UPLIFT_ASSIGN(const std::uint16_t port, LocalPort(listener.get()));
  auto proxy = std::make_unique<FaultProxy>(Token{}, upstream_port, port, std::move(listener));
  UPLIFT_TRY(proxy->Init());
  return proxy;
}

FaultProxy::FaultProxy(Token, std::uint16_t upstream_port, std::uint16_t port, Fd listener)
    : upstream_port_(upstream_port),
      port_(port),
      listener_(std::move(listener)),
      counters_(std::make_unique<Counters>()) {}

Status FaultProxy::Init() {
  UPLIFT_TRY(MakePipe(stop_read_, stop_write_));
  UPLIFT_TRY(MakePipe(wake_read_, wake_write_));
  SetNonBlocking(wake_read_.get());
  SetNonBlocking(wake_write_.get());
  try {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return Error(base::Errc::kIo,
                 std::string("fault proxy: starting the accept thread: ") + e.what());
  }
  return Ok();
}

FaultProxy::~FaultProxy() {
  if (stop_write_.valid()) {
    const char b = 's';
    [[maybe_unused]] const ssize_t n = ::write(stop_write_.get(), &b, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
}

void FaultProxy::Enqueue(ConnectionPlan plan) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(plan));
}

void FaultProxy::SetDefault(ConnectionPlan plan) {
  std::lock_guard lock(mu_);
  default_plan_ = std::move(plan);
}

void FaultProxy::RefuseFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  refuse_until_ = std::max(refuse_until_, SteadyClock::now() + d);
  const std::uint64_t request = ++refuse_requests_;
  const char b = 'r';
  [[maybe_unused]] const ssize_t n = ::write(wake_write_.get(), &b, 1);
  // The listening socket belongs to the accept thread; it closes it and says so.
  refused_cv_.wait(lock, [&] { return refuse_acks_ >= request; });
  ++counters_->refused_periods;
}

ProxyStats FaultProxy::stats() const { return counters_->Snapshot(); }

ConnectionPlan FaultProxy::NextPlan() {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return default_plan_;
  ConnectionPlan plan = std::move(queue_.front());
  queue_.pop_front();
  return plan;
}

void FaultProxy::AcceptLoop() {
  for (;;) {
    SteadyClock::time_point refuse_until;
    {
      std::lock_guard lock(mu_);
      if (refuse_acks_ != refuse_requests_) {
        listener_ = Fd();  // pending connections in the backlog get reset, new ones refused
        refuse_acks_ = refuse_requests_;
        refused_cv_.notify_all();
      }
      refuse_until = refuse_until_;
    }
    int timeout_ms = -1;
    if (!listener_.valid()) {
      const auto now = SteadyClock::now();
      if (now >= refuse_until) {
        auto relisten = ListenLoopback(port_);
        if (relisten.ok()) {
          listener_ = std::move(relisten).value();
        } else {
          timeout_ms = static_cast<int>(kRelistenRetry.count());
        }
      } else {
        timeout_ms = static_cast<int>(
            std::chrono::ceil<std::chrono::milliseconds>(refuse_until - now).count());
      }
    }
    ReapFinished(false);
    std::array<pollfd, 3> p{
        {{.fd = listener_.valid() ? listener_.get() : -1, .events = POLLIN, .revents = 0},
         {.fd = wake_read_.get(), .events = POLLIN, .revents = 0},
         {.fd = stop_read_.get(), .events = POLLIN, .revents = 0}}};
    if (::poll(p.data(), p.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (p[2].revents != 0) break;
    if (p[1].revents != 0) {
      char buf[64];
      while (::read(wake_read_.get(), buf, sizeof buf) > 0) {
      }
    }
    if (p[0].revents != 0) AcceptOne();
  }
  listener_ = Fd();
  ReapFinished(true);
}

void FaultProxy::AcceptOne() {
  for (;;) {
    Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client.valid()) return;  // EAGAIN, or a connection that died in the backlog
    ++counters_->connections;
    auto done = std::make_shared<std::atomic<bool>>(false);
    const ConnectionEnv env{
        .upstream_port = upstream_port_, .stop_fd = stop_read_.get(), .counters = counters_.get()};
    try {
      std::thread t([env, done, client = std::move(client), plan = NextPlan()]() mutable {
        ServeConnection(std::move(client), std::move(plan), env);
        done->store(true);
      });
      connections_.push_back(Connection{std::move(t), std::move(done)});
    } catch (const std::system_error&) {
      // Out of threads: the client sees its connection closed, as from an overloaded server.
    }
  }
}

void FaultProxy::ReapFinished(bool all) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (all || it->done->load()) {
      it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace uplift::faultlab
