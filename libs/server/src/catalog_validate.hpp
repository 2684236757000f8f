// The catalog's bounds (internal), checked before any database work so both backends refuse
// the same values with the same StoreErrc::kInvalid message.
#pragma once

#include <cstddef>
#include <string>

#include "uplift/server/catalog.hpp"

namespace uplift::server::internal {

inline constexpr std::size_t kMaxTrustStoreBytes = 64 * 1024;
inline constexpr std::size_t kMaxTokenNameLength = 128;
inline constexpr std::size_t kMaxArtifactNameLength = 128;
inline constexpr std::size_t kMaxCompatible = 64;  // as format::kMaxCompatible
inline constexpr std::size_t kMaxVariants = 256;
// ListDevices returns at most this many rows, whatever the caller asks for.
inline constexpr std::size_t kMaxListDevices = 10'000;

Status ValidateTenantName(const std::string& name);
Status ValidateDeviceKey(const std::string& tenant, const std::string& device_id);
// `what` names the field in the message ("artifact sha256").
Status ValidateSha256(const char* what, const std::string& hex);
Status ValidateTenant(const TenantRecord& t);
Status ValidateToken(const TokenRecord& t);
Status ValidateDevice(const DeviceRecord& d);
Status ValidateArtifact(const ArtifactRecord& a);
Status ValidateVariant(const ReleaseVariant& v);
Status ValidateRelease(const ReleaseRecord& r);
Status ValidateProductVersion(const std::string& product, const std::string& version);
Status ValidateNonce(const std::string& tenant, const std::string& device_id,
                     const std::string& nonce);

}  // namespace uplift::server::internal
