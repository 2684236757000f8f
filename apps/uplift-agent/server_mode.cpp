#include "server_mode.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "uplift/agent/errors.hpp"
#include "uplift/agent/report_queue.hpp"
#include "uplift/base/io.hpp"
#include "uplift/format/device_auth.hpp"

namespace uplift::agent_app {
namespace {

std::string Trimmed(ByteView bytes) {
  std::string s(AsChars(bytes));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

transport::DeviceApiOptions ApiOptions(const Config& config) {
  transport::DeviceApiOptions o;
  o.server_url = config.server.url;
  o.ca_file = config.transport.ca_file;
  o.pinned_public_key = config.transport.pinned_public_key;
  o.proxy = config.transport.proxy;
  o.connect_timeout = transport::Millis(config.transport.connect_timeout_seconds * 1000LL);
  return o;
}

// agent::UpdateService over the HTTP client.
class HttpUpdateService final : public agent::UpdateService {
 public:
  explicit HttpUpdateService(transport::DeviceApiClient& client) : client_(client) {}
  Result<format::CheckinResponse> Checkin(const format::Inventory& inventory) override {
    return client_.Checkin(inventory);
  }
  Result<std::vector<std::string>> SendReports(
      const std::vector<format::Report>& reports) override {
    return client_.SendReports(reports);
  }

 private:
  transport::DeviceApiClient& client_;
};

}  // namespace

Result<std::string> DeviceIdOf(const Config& config) {
  std::string id = config.server.device_id;
  if (id.empty()) {
    UPLIFT_ASSIGN(const Bytes m, ReadFile("/etc/machine-id", 256));
    id = Trimmed(m);
  }
  if (!format::IsValidDeviceId(id)) {
    return Error(agent::Errc::kConfig,
                 "server.device_id: '" + id + "' is not [A-Za-z0-9._:-]{1,128}");
  }
  return id;
}

Result<transport::DeviceCredentials> EnsureEnrolled(const Config& config) {
  transport::DeviceCredentials creds;
  creds.tenant = config.server.tenant;
  UPLIFT_ASSIGN(creds.device_id, DeviceIdOf(config));
  auto stored = ReadFile(config.server.credential_file, 256);
  if (stored.ok()) {
    auto bytes = FromHex(Trimmed(*stored));
    if (!bytes || bytes->size() != format::kCredentialBytes) {
      return Error(agent::Errc::kConfig,
                   config.server.credential_file + ": expected 64 hex digits (32 bytes)");
    }
    creds.credential = std::move(*bytes);
    return creds;
  }
  if (!stored.error().Is(base::Errc::kNotFound)) return stored.error();
  if (config.server.enrollment_secret_file.empty()) {
    return Error(agent::Errc::kConfig, "no credential at " + config.server.credential_file +
                                           " and no server.enrollment_secret_file to enroll with");
  }
  UPLIFT_ASSIGN(const Bytes secret, ReadFile(config.server.enrollment_secret_file, 4096));
  format::EnrollRequest req{creds.tenant, creds.device_id, config.device_type, Trimmed(secret)};
  UPLIFT_ASSIGN(const format::EnrollResponse resp,
                transport::DeviceApiClient::Enroll(ApiOptions(config), req));
  creds.credential = resp.credential;
  UPLIFT_TRY(
      WriteFileAtomic(config.server.credential_file, AsBytes(ToHex(resp.credential) + "\n"), 0600));
  return creds;
}

Status RunServerDaemon(
    const Config& config,
    const std::function<Result<agent::Agent>(
        std::function<void(agent::AgentState, agent::Event, agent::AgentState)>)>& make_agent,
    storage::RecordStore& report_store, const Clock& clock, bool once, bool json) {
  UPLIFT_ASSIGN(const transport::DeviceCredentials creds, EnsureEnrolled(config));
  UPLIFT_ASSIGN(auto client, transport::DeviceApiClient::Create(ApiOptions(config), creds, clock));
  HttpUpdateService service(*client);
  UPLIFT_ASSIGN(agent::ReportQueue queue,
                agent::ReportQueue::Open(report_store, agent::SecureRandomBits()));
  if (!queue.discarded().empty()) {
    std::fprintf(stderr, "uplift-agent: report queue was unreadable, started empty: %s\n",
                 queue.discarded().c_str());
  }
  agent::UpdaterOptions opts;
  opts.product = config.server.product;
  opts.hardware = config.device_type;
  opts.attributes = config.server.attributes;
  opts.factory_version = config.server.factory_version;
  opts.factory_image_sha256 = config.server.factory_image_sha256;
  for (;;) {
    agent::TransitionRelay relay;
    UPLIFT_ASSIGN(agent::Agent a, make_agent(relay.Callback()));
    agent::Updater updater(a, service, queue, clock, agent::SecureRandomBits(), opts);
    relay.Attach(&updater);
    for (;;) {
      UPLIFT_ASSIGN(const agent::Step step, updater.RunOnce());
      const std::string outcome(agent::OutcomeName(step.outcome));
      if (json) {
        nlohmann::json j = {{"outcome", outcome},
                            {"next_run_ms", step.next_run.count()},
                            {"reports_sent", step.reports_sent},
                            {"reports_pending", step.reports_pending},
                            {"detail", step.detail}};
        if (step.offer) {
          j["offer"] = {{"release_id", step.offer->release_id},
                        {"version", step.offer->version},
                        {"kind", step.offer->kind}};
        }
        std::printf("%s\n", j.dump().c_str());
        std::fflush(stdout);
      } else {
        const std::string offer =
            step.offer ? " [offer: release " + std::to_string(step.offer->release_id) + ", " +
                             step.offer->version + ", " + step.offer->kind + ", " +
                             std::to_string(step.offer->size) + " bytes]"
                       : "";
        std::fprintf(
            stderr,
            "uplift-agent: %s%s%s%s (reports sent %zu, pending %zu; next check-in in %lld s)\n",
            outcome.c_str(), offer.c_str(), step.detail.empty() ? "" : ": ", step.detail.c_str(),
            step.reports_sent, step.reports_pending,
            static_cast<long long>(step.next_run.count() / 1000));
      }
      if (once) return Ok();
      if (step.outcome == agent::Step::Outcome::kInstalled) break;  // rebooting
      std::this_thread::sleep_for(step.next_run);
    }
    // The reboot was requested; if this process is still alive (a reboot command that returns,
    // the simulator), start over as a fresh boot would.
    std::this_thread::sleep_for(std::chrono::seconds(5));
  }
}

}  // namespace uplift::agent_app
