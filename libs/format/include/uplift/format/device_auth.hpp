// Device request authentication (docs/api/device-api.md §Signed requests): every device request
// carries its tenant, device id, a timestamp and a nonce, and an HMAC-SHA256 over a canonical
// string of those and the request, keyed with the device's credential. The canonical string is a
// byte layout shared by the agent (signing) and the server (verifying), so it lives here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"

namespace uplift::format {

inline constexpr std::string_view kAuthScheme = "UPLIFT-HMAC-SHA256";
inline constexpr std::size_t kCredentialBytes = 32;
inline constexpr std::size_t kMinNonceLength = 16;
inline constexpr std::size_t kMaxNonceLength = 64;
inline constexpr std::size_t kMaxDeviceIdLength = 128;
inline constexpr std::size_t kMaxTenantLength = 63;

// Header names (lower case, as the server's request headers are).
inline constexpr std::string_view kHeaderTenant = "uplift-tenant";
inline constexpr std::string_view kHeaderDevice = "uplift-device";
inline constexpr std::string_view kHeaderTimestamp = "uplift-timestamp";
inline constexpr std::string_view kHeaderNonce = "uplift-nonce";
inline constexpr std::string_view kHeaderSignature = "uplift-signature";

struct SignedRequest {
  std::string_view method;  // "POST"
  std::string_view target;  // path and query exactly as sent, e.g. "/api/device/v1/checkin"
  std::string_view tenant;
  std::string_view device_id;
  std::int64_t timestamp = 0;  // Unix seconds
  std::string_view nonce;      // kMinNonceLength..kMaxNonceLength of [A-Za-z0-9_-]
  ByteView body;
};

// [a-z0-9][a-z0-9-]{0,62}
bool IsValidTenantName(std::string_view name);
// [A-Za-z0-9._:-]{1,128}, not starting with '.'
bool IsValidDeviceId(std::string_view id);
bool IsValidNonce(std::string_view nonce);

// kAuthScheme "\n" method "\n" target "\n" tenant "\n" device_id "\n" timestamp (decimal) "\n"
// nonce "\n" hex(SHA-256(body)).
std::string CanonicalRequest(const SignedRequest& request);
// Lower-case hex of HMAC-SHA256(credential, CanonicalRequest(request)).
std::string SignRequest(ByteView credential, const SignedRequest& request);
// Constant-time comparison of `signature_hex` with the expected signature.
bool VerifyRequestSignature(ByteView credential, const SignedRequest& request,
                            std::string_view signature_hex);

}  // namespace uplift::format
