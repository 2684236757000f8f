#include "catalog_validate.hpp"

#include <set>

#include "uplift/format/canonical_json.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/manifest.hpp"
#include "uplift/format/semver.hpp"

namespace uplift::server::internal {
namespace {

Error Invalid(std::string message) { return Error(StoreErrc::kInvalid, std::move(message)); }

// Shown in messages: hostile values are cut and stripped of control characters.
std::string Quote(const std::string& v) {
  std::string out = "\"";
  for (std::size_t i = 0; i < v.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  return out + (v.size() > 80 ? "...\"" : "\"");
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsArtifactName(const std::string& s) {
  if (s.empty() || s.size() > kMaxArtifactNameLength) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsPrintable(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (c < 0x20 || c == 0x7f) return false;  // UTF-8 bytes (negative chars) pass
  }
  return true;
}

// Sizes and counters travel as JSON numbers in the API: at most 2^53-1, like the manifest's.
bool FitsJson(std::uint64_t v) { return v <= static_cast<std::uint64_t>(format::kMaxJsonInteger); }

}  // namespace

Status ValidateTenantName(const std::string& name) {
  if (!format::IsValidTenantName(name)) {
    return Invalid("tenant name " + Quote(name) + " is not [a-z0-9][a-z0-9-]{0,62}");
  }
  return Ok();
}

Status ValidateDeviceKey(const std::string& tenant, const std::string& device_id) {
  UPLIFT_TRY(ValidateTenantName(tenant));
  if (!format::IsValidDeviceId(device_id)) {
    return Invalid("device id " + Quote(device_id) +
                   " is not [A-Za-z0-9._:-]{1,128} (no leading .)");
  }
  return Ok();
}

Status ValidateSha256(const char* what, const std::string& hex) {
  bool ok = hex.size() == 64;
  for (std::size_t i = 0; ok && i < hex.size(); ++i) ok = IsLowerHex(hex[i]);
  if (!ok)
    return Invalid(std::string(what) + " " + Quote(hex) + " is not 64 lower-case hex digits");
  return Ok();
}

Status ValidateTenant(const TenantRecord& t) {
  UPLIFT_TRY(ValidateTenantName(t.name));
  if (t.trust_store_json.size() > kMaxTrustStoreBytes ||
      t.trust_store_json.find('\0') != std::string::npos) {
    return Invalid("tenant trust store is over 64 KiB or holds a NUL byte (" +
                   std::to_string(t.trust_store_json.size()) + " bytes)");
  }
  if (!t.enrollment_secret_sha256.empty()) {
    UPLIFT_TRY(ValidateSha256("enrollment secret sha256", t.enrollment_secret_sha256));
  }
  return Ok();
}

Status ValidateToken(const TokenRecord& t) {
  UPLIFT_TRY(ValidateSha256("token sha256", t.token_sha256));
  UPLIFT_TRY(ValidateTenantName(t.tenant));
  if (!IsPrintable(t.name, kMaxTokenNameLength)) {
    return Invalid("token name " + Quote(t.name) +
                   " must be 1-128 bytes without control characters");
  }
  return Ok();
}

Status ValidateDevice(const DeviceRecord& d) {
  UPLIFT_TRY(ValidateDeviceKey(d.tenant, d.device_id));
  if (!format::IsValidDeviceId(d.hardware)) {
    return Invalid("hardware " + Quote(d.hardware) + " is not [A-Za-z0-9._:-]{1,128}");
  }
  if (d.credential_generation < 1) {
    return Invalid("credential generation must be at least 1, got " +
                   std::to_string(d.credential_generation));
  }
  if (d.origin != "enrolled" && d.origin != "provisioned") {
    return Invalid("device origin " + Quote(d.origin) +
                   " is neither \"enrolled\" nor \"provisioned\"");
  }
  return Ok();
}

Status ValidateArtifact(const ArtifactRecord& a) {
  UPLIFT_TRY(ValidateTenantName(a.tenant));
  UPLIFT_TRY(ValidateSha256("artifact sha256", a.sha256));
  if (!FitsJson(a.size))
    return Invalid("artifact size " + std::to_string(a.size) + " is over 2^53-1");
  if (a.kind != "bundle" && a.kind != "foreign") {
    return Invalid("artifact kind " + Quote(a.kind) + " is neither \"bundle\" nor \"foreign\"");
  }
  if (!IsArtifactName(a.name)) {
    return Invalid("artifact name " + Quote(a.name) + " is not [A-Za-z0-9._-]{1,128}");
  }
  return Ok();
}

Status ValidateVariant(const ReleaseVariant& v) {
  UPLIFT_TRY(ValidateSha256("variant artifact sha256", v.artifact_sha256));
  if (!FitsJson(v.size))
    return Invalid("variant size " + std::to_string(v.size) + " is over 2^53-1");
  if (!v.delta_source_sha256.empty()) {
    UPLIFT_TRY(ValidateSha256("variant delta source sha256", v.delta_source_sha256));
  }
  return Ok();
}

Status ValidateProductVersion(const std::string& product, const std::string& version) {
  if (!format::IsValidIdentifier(product)) {
    return Invalid("product " + Quote(product) + " is not [A-Za-z0-9][A-Za-z0-9._:+-]{0,63}");
  }
  if (!format::SemVer::Parse(version)) {
    return Invalid("version " + Quote(version) + " is not SemVer 2.0.0 (at most 128 characters)");
  }
  return Ok();
}

Status ValidateRelease(const ReleaseRecord& r) {
  UPLIFT_TRY(ValidateTenantName(r.tenant));
  UPLIFT_TRY(ValidateProductVersion(r.product, r.version));
  if (!FitsJson(r.security_counter)) {
    return Invalid("security counter " + std::to_string(r.security_counter) + " is over 2^53-1");
  }
  if (r.compatible.size() > kMaxCompatible) {
    return Invalid("release lists " + std::to_string(r.compatible.size()) +
                   " compatible hardware ids, at most 64 allowed");
  }
  std::set<std::string> hardware;
  for (const auto& hw : r.compatible) {
    if (!format::IsValidIdentifier(hw)) {
      return Invalid("compatible hardware " + Quote(hw) +
                     " is not [A-Za-z0-9][A-Za-z0-9._:+-]{0,63}");
    }
    if (!hardware.insert(hw).second) return Invalid("compatible hardware " + Quote(hw) + " twice");
  }
  UPLIFT_TRY(ValidateSha256("image sha256", r.image_sha256));
  if (!FitsJson(r.image_size)) {
    return Invalid("image size " + std::to_string(r.image_size) + " is over 2^53-1");
  }
  if (r.variants.size() > kMaxVariants) {
    return Invalid("release has " + std::to_string(r.variants.size()) +
                   " variants, at most 256 allowed");
  }
  std::set<std::string> sources;
  for (const auto& v : r.variants) {
    UPLIFT_TRY(ValidateVariant(v));
    if (!sources.insert(v.delta_source_sha256).second) {
      return Invalid(v.delta_source_sha256.empty()
                         ? std::string("release has two full variants")
                         : "release has two variants from delta source " + v.delta_source_sha256);
    }
  }
  return Ok();
}

Status ValidateNonce(const std::string& tenant, const std::string& device_id,
                     const std::string& nonce) {
  UPLIFT_TRY(ValidateDeviceKey(tenant, device_id));
  if (!format::IsValidNonce(nonce)) {
    return Invalid("nonce " + Quote(nonce) + " is not 16-64 characters of [A-Za-z0-9_-]");
  }
  return Ok();
}

}  // namespace uplift::server::internal
