// The bodies of the device API (docs/api/device-api.md) as values, with their JSON codecs. Both
// sides use them: the agent encodes check-ins and reports and decodes offers; the server decodes
// check-ins and reports and encodes offers. Decoders take untrusted bytes: every field is bounded
// and checked, errors are format::Errc::kMalformedMessage naming the JSON path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"

namespace uplift::format {

inline constexpr std::size_t kMaxApiBodyBytes = 64 * 1024;
inline constexpr std::size_t kMaxReportsPerRequest = 64;
inline constexpr std::size_t kMaxAttributes = 64;
inline constexpr std::size_t kMaxShortText = 128;  // versions, ids, hardware, attribute keys
inline constexpr std::size_t kMaxAttributeValue = 256;
inline constexpr std::size_t kMaxReportReason = 4096;
inline constexpr std::size_t kMaxReportIdLength = 64;
inline constexpr std::size_t kMaxUrlLength = 2048;

struct EnrollRequest {
  std::string tenant;
  std::string device_id;
  std::string hardware;
  std::string enrollment_secret;
  friend bool operator==(const EnrollRequest&, const EnrollRequest&) = default;
};

struct EnrollResponse {
  std::string tenant;
  std::string device_id;
  Bytes credential;  // kCredentialBytes
  friend bool operator==(const EnrollResponse&, const EnrollResponse&) = default;
};

struct Inventory {
  std::string product;                 // optional
  std::string version;                 // required, SemVer text
  std::string image_sha256;            // required, 64 lower-case hex
  std::string hardware;                // optional
  std::string booted_slot;             // "a", "b" or ""
  std::string slot_state;              // the agent's state name, or ""
  std::optional<int> battery_percent;  // 0..100
  std::optional<bool> charging;
  std::string network_type;  // "wifi", "ethernet", "cellular", ... or ""
  std::optional<bool> metered;
  std::map<std::string, std::string> attributes;  // ≤ kMaxAttributes
  friend bool operator==(const Inventory&, const Inventory&) = default;
};

struct UpdateOffer {
  std::int64_t release_id = 0;
  std::string product;
  std::string version;
  std::string kind;  // "full" or "delta"
  std::string url;   // absolute http(s) URL, ≤ kMaxUrlLength
  std::string sha256;
  std::uint64_t size = 0;
  std::string image_sha256;
  friend bool operator==(const UpdateOffer&, const UpdateOffer&) = default;
};

struct CheckinResponse {
  std::int64_t server_time = 0;
  std::uint32_t poll_seconds = 300;  // 1..86400
  std::optional<UpdateOffer> update;
  friend bool operator==(const CheckinResponse&, const CheckinResponse&) = default;
};

struct Report {
  std::string id;  // 1..kMaxReportIdLength of [A-Za-z0-9_-]
  std::int64_t time = 0;
  std::int64_t release_id = 0;
  std::string phase;   // downloading, installing, installed, committed, rolled_back, failed
  int progress = 0;    // 0..100
  std::string result;  // "", "success", "failure"
  std::string reason;  // ≤ kMaxReportReason
  friend bool operator==(const Report&, const Report&) = default;
};

bool IsValidReportPhase(std::string_view phase);

std::string EncodeEnrollRequest(const EnrollRequest& r);
Result<EnrollRequest> DecodeEnrollRequest(ByteView json);
std::string EncodeEnrollResponse(const EnrollResponse& r);
Result<EnrollResponse> DecodeEnrollResponse(ByteView json);
// {"inventory": {...}}
std::string EncodeCheckin(const Inventory& inventory);
Result<Inventory> DecodeCheckin(ByteView json);
std::string EncodeCheckinResponse(const CheckinResponse& r);
Result<CheckinResponse> DecodeCheckinResponse(ByteView json);
// {"reports": [...]}, 1..kMaxReportsPerRequest
std::string EncodeReports(const std::vector<Report>& reports);
Result<std::vector<Report>> DecodeReports(ByteView json);
// {"accepted": [ids]}
std::string EncodeAccepted(const std::vector<std::string>& ids);
Result<std::vector<std::string>> DecodeAccepted(ByteView json);

// The body of every error response: {"error": {"code", "message"[, "server_time"]}}.
// server_time accompanies stale_timestamp (it may also sit next to "error", at the top level:
// both places are read). code: 1..kMaxShortText of [a-z0-9_]; message ≤ kMaxReportReason.
struct ApiError {
  std::string code;
  std::string message;
  std::optional<std::int64_t> server_time;
  friend bool operator==(const ApiError&, const ApiError&) = default;
};
std::string EncodeApiError(const ApiError& e);
Result<ApiError> DecodeApiError(ByteView json);

}  // namespace uplift::format
