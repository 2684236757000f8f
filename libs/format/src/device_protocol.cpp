#include "uplift/format/device_protocol.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "uplift/format/device_auth.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/format/manifest.hpp"
#include "uplift/format/semver.hpp"

namespace uplift::format {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Enrollment secrets are opaque to the protocol; the bound only keeps a hostile body small.
constexpr std::size_t kMaxEnrollmentSecret = 256;
constexpr std::int64_t kMaxPollSeconds = 86400;

Error Bad(const std::string& path, const std::string& what) {
  return Error(Errc::kMalformedMessage, "device api " + path + ": " + what);
}

const char* TypeName(const Json& v) { return v.type_name(); }

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Text that ends up in logs and operator UIs: no control characters.
bool IsPrintable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool IsValidReportId(std::string_view id) {
  if (id.empty() || id.size() > kMaxReportIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// The doc gives hardware the device-id alphabet; manifests name hardware with
// IsValidIdentifier (which also allows '+'). Accept both so every compatible entry can match.
bool IsValidHardware(std::string_view hw) { return IsValidDeviceId(hw) || IsValidIdentifier(hw); }

bool IsValidSemVer(std::string_view v) { return SemVer::Parse(v).has_value(); }

bool IsValidUrl(std::string_view url) {
  const bool scheme = url.starts_with("https://") || url.starts_with("http://");
  if (!scheme || url.size() > kMaxUrlLength) return false;
  const std::size_t host = url.find("://") + 3;
  if (host >= url.size() || url[host] == '/') return false;
  return std::all_of(url.begin(), url.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

// A typed view of one JSON object that knows its path, for error messages.
class Fields {
 public:
  Fields(const Json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  std::string Path(const char* key) const { return path_ + "." + key; }

  // nullptr when absent or null (null means absent for every optional field).
  Result<const Json*> Get(const char* key, bool required) const {
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) return Bad(path_, std::string("missing field \"") + key + "\"");
      return static_cast<const Json*>(nullptr);
    }
    return &*it;
  }

  // `valid` is checked on non-empty strings only when the field is optional.
  Result<std::string> String(const char* key, bool required, std::size_t max_len,
                             bool (*valid)(std::string_view), const char* rule) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, required));
    if (!v) return std::string();
    if (!v->is_string())
      return Bad(Path(key), std::string("expected a string, found ") + TypeName(*v));
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_len) {
      return Bad(Path(key), "longer than " + std::to_string(max_len) + " bytes (" +
                                std::to_string(s.size()) + ")");
    }
    if (s.empty() && !required) return s;
    if (valid && !valid(s)) return Bad(Path(key), std::string("must be ") + rule);
    return s;
  }

  Result<std::optional<std::int64_t>> Integer(const char* key, bool required, std::int64_t min,
                                              std::int64_t max) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, required));
    if (!v) return std::optional<std::int64_t>();
    if (!v->is_number_integer()) {
      return Bad(Path(key), std::string("expected an integer, found ") + TypeName(*v));
    }
    const bool too_big = v->is_number_unsigned() &&
                         v->get<std::uint64_t>() >
                             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    const std::int64_t n =
        too_big ? std::numeric_limits<std::int64_t>::max() : v->get<std::int64_t>();
    if (too_big || n < min || n > max) {
      return Bad(Path(key),
                 "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return std::optional<std::int64_t>(n);
  }

  Result<std::optional<bool>> Bool(const char* key) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, false));
    if (!v) return std::optional<bool>();
    if (!v->is_boolean())
      return Bad(Path(key), std::string("expected a boolean, found ") + TypeName(*v));
    return std::optional<bool>(v->get<bool>());
  }

  // An optional nested object; nullptr when absent or null.
  Result<const Json*> Object(const char* key, bool required) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, required));
    if (v && !v->is_object()) {
      return Bad(Path(key), std::string("expected an object, found ") + TypeName(*v));
    }
    return v;
  }

  Result<const Json*> Array(const char* key, std::size_t max_items) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, true));
    if (!v->is_array())
      return Bad(Path(key), std::string("expected an array, found ") + TypeName(*v));
    if (v->size() > max_items) {
      return Bad(Path(key), "more than " + std::to_string(max_items) + " items (" +
                                std::to_string(v->size()) + ")");
    }
    return v;
  }

 private:
  const Json& obj_;
  std::string path_;
};

Result<Json> ParseBody(ByteView bytes) {
  if (bytes.size() > kMaxApiBodyBytes) {
    return Bad("body", "larger than " + std::to_string(kMaxApiBodyBytes) + " bytes (" +
                           std::to_string(bytes.size()) + ")");
  }
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("body", "not valid JSON");
  if (!j.is_object()) return Bad("body", std::string("expected an object, found ") + TypeName(j));
  return j;
}

// Strings handed to the encoders come from the caller (error messages, attributes): invalid
// UTF-8 is replaced rather than thrown on.
std::string Dump(const OrderedJson& j) {
  return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

const char* const kHexRule = "64 lower-case hex digits";
const char* const kDeviceIdRule = "[A-Za-z0-9._:-]{1,128} not starting with '.'";

Result<UpdateOffer> DecodeOffer(const Json& obj, const std::string& path) {
  const Fields f(obj, path);
  UpdateOffer o;
  UPLIFT_ASSIGN(const auto release,
                f.Integer("release_id", true, 1, std::numeric_limits<std::int64_t>::max()));
  o.release_id = *release;
  UPLIFT_ASSIGN(o.product,
                f.String("product", false, kMaxShortText, IsValidName, "[a-z0-9][a-z0-9._-]*"));
  UPLIFT_ASSIGN(o.version,
                f.String("version", true, kMaxShortText, IsValidSemVer, "a SemVer 2.0.0 version"));
  UPLIFT_ASSIGN(o.kind, f.String("kind", true, 8, nullptr, ""));
  if (o.kind != "full" && o.kind != "delta")
    return Bad(f.Path("kind"), "must be \"full\" or \"delta\"");
  UPLIFT_ASSIGN(o.url, f.String("url", true, kMaxUrlLength, IsValidUrl, "an absolute http(s) URL"));
  UPLIFT_ASSIGN(o.sha256, f.String("sha256", true, 64, IsLowerHex64, kHexRule));
  UPLIFT_ASSIGN(const auto size,
                f.Integer("size", true, 1, std::numeric_limits<std::int64_t>::max()));
  o.size = static_cast<std::uint64_t>(*size);
  UPLIFT_ASSIGN(o.image_sha256, f.String("image_sha256", true, 64, IsLowerHex64, kHexRule));
  return o;
}

Result<Report> DecodeReport(const Json& obj, const std::string& path) {
  if (!obj.is_object()) return Bad(path, std::string("expected an object, found ") + TypeName(obj));
  const Fields f(obj, path);
  Report r;
  UPLIFT_ASSIGN(r.id,
                f.String("id", true, kMaxReportIdLength, IsValidReportId, "1-64 of [A-Za-z0-9_-]"));
  UPLIFT_ASSIGN(const auto time,
                f.Integer("time", true, 0, std::numeric_limits<std::int64_t>::max()));
  r.time = *time;
  UPLIFT_ASSIGN(const auto release,
                f.Integer("release_id", true, 1, std::numeric_limits<std::int64_t>::max()));
  r.release_id = *release;
  UPLIFT_ASSIGN(r.phase,
                f.String("phase", true, kMaxShortText, IsValidReportPhase,
                         "downloading, installing, installed, committed, rolled_back or failed"));
  UPLIFT_ASSIGN(const auto progress, f.Integer("progress", false, 0, 100));
  r.progress = static_cast<int>(progress.value_or(0));
  UPLIFT_ASSIGN(r.result, f.String("result", false, 16, nullptr, ""));
  const char* expected = r.phase == "committed"                              ? "success"
                         : (r.phase == "rolled_back" || r.phase == "failed") ? "failure"
                                                                             : "";
  if (r.result != expected) {
    return Bad(f.Path("result"), "must be \"" + std::string(expected) + "\" in phase " + r.phase);
  }
  UPLIFT_ASSIGN(r.reason, f.String("reason", false, kMaxReportReason, nullptr, ""));
  return r;
}

bool IsValidErrorCode(std::string_view code) {
  return !code.empty() && code.size() <= kMaxShortText &&
         std::all_of(code.begin(), code.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

}  // namespace

bool IsValidReportPhase(std::string_view phase) {
  return phase == "downloading" || phase == "installing" || phase == "installed" ||
         phase == "committed" || phase == "rolled_back" || phase == "failed";
}

std::string EncodeEnrollRequest(const EnrollRequest& r) {
  OrderedJson j;
  j["tenant"] = r.tenant;
  j["device_id"] = r.device_id;
  if (!r.hardware.empty()) j["hardware"] = r.hardware;
  j["enrollment_secret"] = r.enrollment_secret;
  return Dump(j);
}

Result<EnrollRequest> DecodeEnrollRequest(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  const Fields f(j, "enroll");
  EnrollRequest r;
  UPLIFT_ASSIGN(r.tenant, f.String("tenant", true, kMaxTenantLength, IsValidTenantName,
                                   "[a-z0-9][a-z0-9-]{0,62}"));
  UPLIFT_ASSIGN(r.device_id,
                f.String("device_id", true, kMaxDeviceIdLength, IsValidDeviceId, kDeviceIdRule));
  UPLIFT_ASSIGN(r.hardware,
                f.String("hardware", false, kMaxShortText, IsValidHardware, kDeviceIdRule));
  UPLIFT_ASSIGN(r.enrollment_secret, f.String("enrollment_secret", true, kMaxEnrollmentSecret,
                                              IsPrintable, "printable text"));
  if (r.enrollment_secret.empty()) return Bad(f.Path("enrollment_secret"), "must not be empty");
  return r;
}

std::string EncodeEnrollResponse(const EnrollResponse& r) {
  OrderedJson j;
  j["tenant"] = r.tenant;
  j["device_id"] = r.device_id;
  j["credential"] = ToHex(r.credential);
  return Dump(j);
}

Result<EnrollResponse> DecodeEnrollResponse(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  const Fields f(j, "enrollment");
  EnrollResponse r;
  UPLIFT_ASSIGN(r.tenant, f.String("tenant", true, kMaxTenantLength, IsValidTenantName,
                                   "[a-z0-9][a-z0-9-]{0,62}"));
  UPLIFT_ASSIGN(r.device_id,
                f.String("device_id", true, kMaxDeviceIdLength, IsValidDeviceId, kDeviceIdRule));
  UPLIFT_ASSIGN(const std::string hex,
                f.String("credential", true, 2 * kCredentialBytes, IsLowerHex64, kHexRule));
  r.credential = *FromHex(hex);
  return r;
}

std::string EncodeCheckin(const Inventory& inv) {
  OrderedJson i;
  if (!inv.product.empty()) i["product"] = inv.product;
  i["version"] = inv.version;
  i["image_sha256"] = inv.image_sha256;
  if (!inv.hardware.empty()) i["hardware"] = inv.hardware;
  if (!inv.booted_slot.empty() || !inv.slot_state.empty()) {
    OrderedJson slot = OrderedJson::object();
    if (!inv.booted_slot.empty()) slot["booted"] = inv.booted_slot;
    if (!inv.slot_state.empty()) slot["state"] = inv.slot_state;
    i["slot"] = slot;
  }
  if (inv.battery_percent || inv.charging) {
    OrderedJson battery = OrderedJson::object();
    if (inv.battery_percent) battery["percent"] = *inv.battery_percent;
    if (inv.charging) battery["charging"] = *inv.charging;
    i["battery"] = battery;
  }
  if (!inv.network_type.empty() || inv.metered) {
    OrderedJson network = OrderedJson::object();
    if (!inv.network_type.empty()) network["type"] = inv.network_type;
    if (inv.metered) network["metered"] = *inv.metered;
    i["network"] = network;
  }
  if (!inv.attributes.empty()) {
    OrderedJson attributes = OrderedJson::object();
    for (const auto& [k, v] : inv.attributes) attributes[k] = v;
    i["attributes"] = attributes;
  }
  OrderedJson j;
  j["inventory"] = i;
  return Dump(j);
}

Result<Inventory> DecodeCheckin(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  UPLIFT_ASSIGN(const Json* obj, Fields(j, "checkin").Object("inventory", true));
  const Fields f(*obj, "checkin.inventory");
  Inventory inv;
  UPLIFT_ASSIGN(inv.product,
                f.String("product", false, kMaxShortText, IsValidName, "[a-z0-9][a-z0-9._-]*"));
  UPLIFT_ASSIGN(inv.version,
                f.String("version", true, kMaxShortText, IsValidSemVer, "a SemVer 2.0.0 version"));
  UPLIFT_ASSIGN(inv.image_sha256, f.String("image_sha256", true, 64, IsLowerHex64, kHexRule));
  UPLIFT_ASSIGN(inv.hardware,
                f.String("hardware", false, kMaxShortText, IsValidHardware, kDeviceIdRule));
  UPLIFT_ASSIGN(const Json* slot, f.Object("slot", false));
  if (slot) {
    const Fields s(*slot, f.Path("slot"));
    UPLIFT_ASSIGN(inv.booted_slot, s.String("booted", false, 1, nullptr, ""));
    if (!inv.booted_slot.empty() && inv.booted_slot != "a" && inv.booted_slot != "b") {
      return Bad(s.Path("booted"), "must be \"a\" or \"b\"");
    }
    UPLIFT_ASSIGN(inv.slot_state,
                  s.String("state", false, kMaxShortText, IsValidName, "[a-z0-9][a-z0-9._-]*"));
  }
  UPLIFT_ASSIGN(const Json* battery, f.Object("battery", false));
  if (battery) {
    const Fields b(*battery, f.Path("battery"));
    UPLIFT_ASSIGN(const auto percent, b.Integer("percent", false, 0, 100));
    if (percent) inv.battery_percent = static_cast<int>(*percent);
    UPLIFT_ASSIGN(inv.charging, b.Bool("charging"));
  }
  UPLIFT_ASSIGN(const Json* network, f.Object("network", false));
  if (network) {
    const Fields n(*network, f.Path("network"));
    UPLIFT_ASSIGN(inv.network_type,
                  n.String("type", false, kMaxShortText, IsValidName, "[a-z0-9][a-z0-9._-]*"));
    UPLIFT_ASSIGN(inv.metered, n.Bool("metered"));
  }
  UPLIFT_ASSIGN(const Json* attributes, f.Object("attributes", false));
  if (attributes) {
    const std::string path = f.Path("attributes");
    if (attributes->size() > kMaxAttributes) {
      return Bad(path, "more than " + std::to_string(kMaxAttributes) + " pairs (" +
                           std::to_string(attributes->size()) + ")");
    }
    for (const auto& [key, value] : attributes->items()) {
      const std::string where = path + "." + key.substr(0, kMaxShortText);
      if (key.empty() || key.size() > kMaxShortText || !IsPrintable(key)) {
        return Bad(where, "key must be 1-" + std::to_string(kMaxShortText) + " printable bytes");
      }
      if (!value.is_string())
        return Bad(where, std::string("expected a string, found ") + TypeName(value));
      const auto& s = value.get_ref<const std::string&>();
      if (s.size() > kMaxAttributeValue || !IsPrintable(s)) {
        return Bad(where, "value must be at most " + std::to_string(kMaxAttributeValue) +
                              " printable bytes");
      }
      inv.attributes.emplace(key, s);
    }
  }
  return inv;
}

std::string EncodeCheckinResponse(const CheckinResponse& r) {
  OrderedJson j;
  j["server_time"] = r.server_time;
  j["poll_seconds"] = r.poll_seconds;
  if (r.update) {
    const UpdateOffer& o = *r.update;
    OrderedJson u;
    u["release_id"] = o.release_id;
    if (!o.product.empty()) u["product"] = o.product;
    u["version"] = o.version;
    u["kind"] = o.kind;
    u["url"] = o.url;
    u["sha256"] = o.sha256;
    u["size"] = o.size;
    u["image_sha256"] = o.image_sha256;
    j["update"] = u;
  } else {
    j["update"] = nullptr;
  }
  return Dump(j);
}

Result<CheckinResponse> DecodeCheckinResponse(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  const Fields f(j, "checkin_response");
  CheckinResponse r;
  UPLIFT_ASSIGN(const auto server_time,
                f.Integer("server_time", true, 0, std::numeric_limits<std::int64_t>::max()));
  r.server_time = *server_time;
  UPLIFT_ASSIGN(const auto poll, f.Integer("poll_seconds", true, 1, kMaxPollSeconds));
  r.poll_seconds = static_cast<std::uint32_t>(*poll);
  UPLIFT_ASSIGN(const Json* update, f.Object("update", false));
  if (update) {
    UPLIFT_ASSIGN(r.update, DecodeOffer(*update, f.Path("update")));
  }
  return r;
}

std::string EncodeReports(const std::vector<Report>& reports) {
  OrderedJson list = OrderedJson::array();
  for (const Report& r : reports) {
    OrderedJson o;
    o["id"] = r.id;
    o["time"] = r.time;
    o["release_id"] = r.release_id;
    o["phase"] = r.phase;
    o["progress"] = r.progress;
    o["result"] = r.result;
    o["reason"] = r.reason;
    list.push_back(std::move(o));
  }
  OrderedJson j;
  j["reports"] = std::move(list);
  return Dump(j);
}

Result<std::vector<Report>> DecodeReports(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  const Fields f(j, "reports");
  UPLIFT_ASSIGN(const Json* list, f.Array("reports", kMaxReportsPerRequest));
  if (list->empty()) return Bad(f.Path("reports"), "must hold at least one report");
  std::vector<Report> out;
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    UPLIFT_ASSIGN(Report r,
                  DecodeReport((*list)[i], f.Path("reports") + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(r));
  }
  return out;
}

std::string EncodeAccepted(const std::vector<std::string>& ids) {
  OrderedJson j;
  j["accepted"] = ids;
  return Dump(j);
}

Result<std::vector<std::string>> DecodeAccepted(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  const Fields f(j, "accepted");
  UPLIFT_ASSIGN(const Json* list, f.Array("accepted", kMaxReportsPerRequest));
  std::vector<std::string> out;
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string where = f.Path("accepted") + "[" + std::to_string(i) + "]";
    const Json& v = (*list)[i];
    if (!v.is_string()) return Bad(where, std::string("expected a string, found ") + TypeName(v));
    const auto& id = v.get_ref<const std::string&>();
    if (!IsValidReportId(id)) return Bad(where, "must be 1-64 of [A-Za-z0-9_-]");
    out.push_back(id);
  }
  return out;
}

std::string EncodeApiError(const ApiError& e) {
  OrderedJson err;
  err["code"] = e.code;
  err["message"] = e.message;
  if (e.server_time) err["server_time"] = *e.server_time;
  OrderedJson j;
  j["error"] = err;
  return Dump(j);
}

Result<ApiError> DecodeApiError(ByteView json) {
  UPLIFT_ASSIGN(const Json j, ParseBody(json));
  UPLIFT_ASSIGN(const Json* obj, Fields(j, "error_body").Object("error", true));
  const Fields f(*obj, "error_body.error");
  ApiError e;
  UPLIFT_ASSIGN(e.code, f.String("code", true, kMaxShortText, IsValidErrorCode, "[a-z0-9_]+"));
  UPLIFT_ASSIGN(e.message, f.String("message", false, kMaxReportReason, nullptr, ""));
  UPLIFT_ASSIGN(e.server_time,
                f.Integer("server_time", false, 0, std::numeric_limits<std::int64_t>::max()));
  if (!e.server_time) {
    UPLIFT_ASSIGN(e.server_time,
                  Fields(j, "error_body")
                      .Integer("server_time", false, 0, std::numeric_limits<std::int64_t>::max()));
  }
  return e;
}

}  // namespace uplift::format
