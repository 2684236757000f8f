// uplift-faultproxy: the fault lab's proxy as a process, for benchmarks that measure the
// downloader over a bad link. Prints the listening port as the first line of stdout, then runs
// the same plan on every connection until SIGTERM or SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "fault_proxy.hpp"

namespace {

// "127.0.0.1:PORT" or "PORT": the origin must be on loopback.
bool ParseUpstream(const std::string& s, std::uint16_t* port) {
  std::string p = s;
  if (const auto colon = s.rfind(':'); colon != std::string::npos) {
    if (s.substr(0, colon) != "127.0.0.1" && s.substr(0, colon) != "localhost") return false;
    p = s.substr(colon + 1);
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const unsigned long v = std::stoul(p);
  if (v == 0 || v > 65535) return false;
  *port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "uplift-faultproxy: a fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of a loopback "
      "origin. Prints the listening port on the first line of stdout; stops on SIGTERM.",
      "uplift-faultproxy"};
  std::string upstream;
  std::uint16_t listen_port = 0;
  uplift::faultlab::ConnectionPlan plan;
  app.add_option("--upstream", upstream, "origin as 127.0.0.1:PORT")->required();
  app.add_option("--listen-port", listen_port, "port to listen on (default: a free one)");
  app.add_option("--drop-every", plan.drop_every,
                 "reset each connection after this many response body bytes");
  app.add_option("--throttle", plan.throttle_bytes_per_s, "bytes per second per connection");
  app.add_option("--flip-every", plan.flip_every,
                 "XOR 0x01 into every N-th response body byte of a connection");
  CLI11_PARSE(app, argc, argv);

  std::uint16_t upstream_port = 0;
  if (!ParseUpstream(upstream, &upstream_port)) {
    std::fprintf(stderr, "uplift-faultproxy: --upstream must be 127.0.0.1:PORT, got '%s'\n",
                 upstream.c_str());
    return 2;
  }

  // Block the stop signals before any thread starts, so only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto proxy = uplift::faultlab::FaultProxy::Start(upstream_port, listen_port);
  if (!proxy.ok()) {
    std::fprintf(stderr, "uplift-faultproxy: %s\n", proxy.error().message().c_str());
    return 1;
  }
  (*proxy)->SetDefault(plan);
  std::printf("%u\n", static_cast<unsigned>((*proxy)->port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  const auto s = (*proxy)->stats();
  std::fprintf(
      stderr, "uplift-faultproxy: %llu connections, %llu body bytes, %llu drops, %llu flipped\n",
      static_cast<unsigned long long>(s.connections),
      static_cast<unsigned long long>(s.body_bytes_to_client),
      static_cast<unsigned long long>(s.drops), static_cast<unsigned long long>(s.flipped_bytes));
  return 0;
}
