// Bundle format v1: the fixed header and the signature block.
// Byte-exact specification and test vectors: docs/formats/bundle.md.
//
//   header (48) | manifest (M) | signature block (S) | chunk index (C) | payload data (P)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {

inline constexpr std::array<std::uint8_t, 8> kBundleMagic = {0x89, 'U',  'P',  'L',
                                                             '\r', '\n', 0x1a, '\n'};
inline constexpr std::uint16_t kBundleVersion = 1;
inline constexpr std::size_t kHeaderSize = 48;
inline constexpr std::uint32_t kMaxManifestSize = 1024 * 1024;
inline constexpr std::uint32_t kMaxSignatureBlockSize = 64 * 1024;
inline constexpr std::uint64_t kMaxChunkIndexSize = 8 * 1024 * 1024;
inline constexpr std::uint16_t kMaxSignatures = 64;
inline constexpr std::uint16_t kMaxSignatureLength = 1024;
// Signatures are over this context string, a zero byte, then the manifest bytes.
inline constexpr std::string_view kSignatureContext = "UPLIFT-BUNDLE-MANIFEST-V1";

struct BundleHeader {
  std::uint32_t manifest_size = 0;
  std::uint32_t signatures_size = 0;
  std::uint64_t chunk_index_size = 0;
  std::uint64_t payload_size = 0;

  std::array<std::uint8_t, kHeaderSize> Encode() const;
  // Checks, in this order: magic (kBadMagic), version (kUnsupportedVersion), header size and
  // checksum (kHeaderCorrupt), flags (kUnsupportedVersion), bounds (kOversize / kHeaderCorrupt).
  static Result<BundleHeader> Decode(ByteView bytes);
  std::uint64_t total_size() const {
    return kHeaderSize + manifest_size + signatures_size + chunk_index_size + payload_size;
  }
};

struct SignatureEntry {
  std::uint8_t algorithm_id = 0;  // crypto::SignatureAlgorithm value; unknown ids are kept
  std::array<std::uint8_t, 32> key_id{};
  Bytes signature;

  std::string key_id_hex() const { return ToHex(key_id); }
};

// kMalformedSignatures for any deviation from the layout (count, reserved byte, lengths, a
// length that disagrees with a known algorithm, a key id listed twice, leftover bytes).
Result<std::vector<SignatureEntry>> DecodeSignatureBlock(ByteView bytes);
Bytes EncodeSignatureBlock(const std::vector<SignatureEntry>& entries);

// The exact message a key signs for a manifest.
Bytes SignedMessage(ByteView manifest);

}  // namespace uplift::format
