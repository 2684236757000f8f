// Error codes of the format module. The numbers are also the exit codes of `uplift` for these
// errors (docs/cli.md) and appear in server error bodies: never renumber, only append.
#pragma once

#include "uplift/base/result.hpp"

namespace uplift::format {

enum class Errc : int {
  kBadMagic = 10,              // not a bundle: the first 8 bytes are not the magic
  kUnsupportedVersion = 11,    // a format version or feature flag this reader does not know
  kTruncated = 12,             // the data ends before a length said it would
  kOversize = 13,              // a length exceeds the format's bound
  kHeaderCorrupt = 14,         // header checksum or fixed field wrong
  kMalformedManifest = 15,     // not JSON, or not the manifest schema
  kNonCanonical = 16,          // valid JSON, but not the canonical encoding of its value
  kUnknownCritical = 17,       // a field marked critical that this reader does not implement
  kMalformedSignatures = 18,   // the signature block is not well formed
  kBadSignature = 19,          // a signature by a trusted key does not verify
  kBelowThreshold = 20,        // too few valid signatures by trusted keys of the role
  kRevokedKey = 21,            // threshold not met and a revoked key signed
  kExpired = 22,               // the manifest's expiry time has passed
  kIncompatibleHardware = 23,  // the device's hardware is not in the compatibility list
  kHashMismatch = 24,          // payload, chunk or chunk-index bytes differ from the manifest
  kTrailingData = 25,          // bytes after the end the header and manifest describe
  kLengthMismatch = 26,        // header lengths disagree with the signed manifest
  kBadTrustStore = 27,         // a trust store file is malformed or inconsistent
  kDecompress = 28,            // a compressed payload is corrupt or expands past its size
  kDowngrade = 29,             // security counter lower than the minimum allowed
  // Bootloader environments (uboot_env.hpp, grub_env.hpp; docs/formats/uboot-env.md, grub-env.md).
  kEnvCorrupt = 30,      // bad CRC or header, or variable data that does not parse
  kEnvTooLarge = 31,     // the variables do not fit the environment's size
  kEnvBadVariable = 32,  // a name or value an environment cannot hold ('=', NUL)
  // Device API bodies (device_protocol.hpp; docs/api/device-api.md).
  kMalformedMessage = 33,  // not JSON, or a field missing, mistyped or out of bounds
};

}  // namespace uplift::format

UPLIFT_ERROR_DOMAIN(uplift::format::Errc, "format")
