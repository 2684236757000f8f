// The device side of uplift-server's device API (docs/api/device-api.md) on libcurl: enrollment,
// signed check-ins and reports. One client keeps one connection alive between requests. It
// never sleeps and never retries on its own (the caller schedules; see agent::Updater), except
// for one re-signed request after `stale_timestamp`, whose server_time it keeps as a clock offset
// (devices without a real-time clock).
//
// Errors, the same for every call (the contract agent::UpdateService documents):
//   base::Errc::kUnavailable       network failure, timeout, 5xx (but 501/505), 408, 429: retry
//   later base::Errc::kInvalidArgument   400 bad_request, 413: the request's content was refused
//   transport::Errc::kRefused      401/403/404/409 and other 4xx: the device was refused
//   transport::Errc::kTls          certificate not trusted, pin mismatch, bad CA file
//   transport::Errc::kBadUrl       server_url is not http(s)://host[:port][/prefix]
//   format::Errc::kMalformedMessage  a 2xx body that is not the documented JSON
// The messages carry the method, the path, the status and the server's error code.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/clock.hpp"
#include "uplift/base/result.hpp"
#include "uplift/format/device_protocol.hpp"
#include "uplift/transport/retry.hpp"

namespace uplift::transport {

inline constexpr std::string_view kEnrollPath = "/api/device/v1/enroll";
inline constexpr std::string_view kCheckinPath = "/api/device/v1/checkin";
inline constexpr std::string_view kReportsPath = "/api/device/v1/reports";

struct DeviceApiOptions {
  // "https://updates.example.com" or with a path prefix ("https://host/uplift"): the API paths
  // are appended to it, and the signed request-target is prefix + path.
  std::string server_url;
  std::string ca_file;            // PEM bundle of trusted CAs; empty: the system's
  std::string pinned_public_key;  // "sha256//BASE64[;sha256//...]": also require this key
  std::string proxy;              // empty: libcurl's *_proxy environment variables
  Millis connect_timeout{15'000};
  Millis request_timeout{60'000};  // a whole request, connection included
  std::string user_agent = "uplift-agent";
};

struct DeviceCredentials {
  std::string tenant;
  std::string device_id;
  Bytes credential;  // format::kCredentialBytes
};

// 16 random bytes as hex per call (crypto::RandomBytes); injectable for tests.
using NonceSource = std::function<Result<std::string>()>;
NonceSource RandomNonces();

// The five Uplift-* request header lines ("Uplift-Tenant: acme", ...) of a signed request.
std::vector<std::string> SignedHeaderLines(const DeviceCredentials& credentials,
                                           std::string_view method, std::string_view target,
                                           ByteView body, std::int64_t timestamp,
                                           std::string_view nonce);

// The error for a non-2xx response (mapping above); `what` names the request ("POST /api/...").
// The body's error code and message are quoted when it is the documented error JSON.
Error ResponseError(std::string_view what, int status, ByteView body);

// The path prefix of a server URL ("" or "/uplift"), or kBadUrl.
Result<std::string> ServerPathPrefix(std::string_view server_url);

class DeviceApiClient {
 public:
  // Unsigned, one request on its own connection. 200 and 201 both succeed (a repeated
  // enrollment returns the same credential); the response must name the requested device.
  static Result<format::EnrollResponse> Enroll(const DeviceApiOptions& options,
                                               const format::EnrollRequest& request);

  // Checks the URL and the credentials (tenant, device id, credential length): kBadUrl,
  // base::Errc::kInvalidArgument. `clock` must outlive the client.
  static Result<std::unique_ptr<DeviceApiClient>> Create(DeviceApiOptions options,
                                                         DeviceCredentials credentials,
                                                         const Clock& clock,
                                                         NonceSource nonces = RandomNonces());
  ~DeviceApiClient();
  DeviceApiClient(const DeviceApiClient&) = delete;
  DeviceApiClient& operator=(const DeviceApiClient&) = delete;

  Result<format::CheckinResponse> Checkin(const format::Inventory& inventory);
  // 1..format::kMaxReportsPerRequest reports; the ids the server accepted.
  Result<std::vector<std::string>> SendReports(const std::vector<format::Report>& reports);

  // Seconds added to the clock when signing: learned from stale_timestamp answers (and from
  // check-ins' server_time when the two differ by more than kResyncSeconds).
  std::int64_t clock_offset() const { return clock_offset_; }
  void set_clock_offset(std::int64_t seconds) { clock_offset_ = seconds; }
  static constexpr std::int64_t kResyncSeconds = 60;

  struct Handle;

 private:
  DeviceApiClient(DeviceApiOptions options, std::string prefix, DeviceCredentials credentials,
                  const Clock& clock, NonceSource nonces);
  Result<Bytes> PostSigned(std::string_view path, const std::string& body);

  DeviceApiOptions options_;
  std::string prefix_;
  DeviceCredentials credentials_;
  const Clock& clock_;
  NonceSource nonces_;
  std::int64_t clock_offset_ = 0;
  std::unique_ptr<Handle> handle_;  // one libcurl easy handle: its connection stays open
};

}  // namespace uplift::transport
