// What the update client needs from uplift-server (docs/api/device-api.md): check in, send
// reports. transport::DeviceApiClient is the real one (the uplift-agent program adapts it); the
// fleet simulator and the tests use in-process ones.
#pragma once

#include <string>
#include <vector>

#include "uplift/base/result.hpp"
#include "uplift/format/device_protocol.hpp"

namespace uplift::agent {

// Errors, which the Updater acts on:
//   base::Errc::kUnavailable      the server could not be reached or asked to retry (network,
//                                 5xx, 429): back off and try again, keep every report.
//   base::Errc::kInvalidArgument  the server refused this request's content (400, 413): sending
//                                 the same again never succeeds (a report batch is split, and a
//                                 report refused on its own is dropped).
//   anything else                 the server refused the device (credential revoked, unknown
//                                 device, bad response): try again much later.
class UpdateService {
 public:
  virtual ~UpdateService() = default;
  virtual Result<format::CheckinResponse> Checkin(const format::Inventory& inventory) = 0;
  // 1..format::kMaxReportsPerRequest reports; returns the ids the server stored (now or
  // before: a resent id is accepted again).
  virtual Result<std::vector<std::string>> SendReports(
      const std::vector<format::Report>& reports) = 0;
};

}  // namespace uplift::agent
