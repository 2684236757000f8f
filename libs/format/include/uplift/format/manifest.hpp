// The signed bundle manifest: schema, parsing and canonical serialisation.
// Byte-exact specification: docs/formats/bundle.md §Manifest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/format/canonical_json.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/format/semver.hpp"

namespace uplift::format {

inline constexpr int kManifestFormat = 1;
inline constexpr std::uint32_t kMinChunkSize = 4 * 1024;
inline constexpr std::uint32_t kMaxChunkSize = 4 * 1024 * 1024;
inline constexpr std::uint32_t kDefaultChunkSize = 64 * 1024;
inline constexpr std::size_t kMaxPayloads = 16;
inline constexpr std::size_t kMaxCompatible = 64;
inline constexpr std::size_t kMaxMetadataEntries = 64;
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kMaxMetadataValueLength = 1024;
inline constexpr std::uint64_t kMaxPayloadSize = (1ULL << 53) - 1;

enum class Compression { kNone, kZstd };
std::string_view CompressionName(Compression c);

struct PayloadInfo {
  std::string name;               // unique in the bundle
  std::string target;             // the slot group or kind it installs into, e.g. "rootfs"
  std::uint64_t size = 0;         // stored bytes (after compression)
  crypto::Sha256Digest sha256{};  // of the stored bytes
  Compression compression = Compression::kNone;
  std::uint32_t chunk_size = kDefaultChunkSize;
  crypto::Sha256Digest chunks_root{};   // SHA-256 over the concatenated chunk hashes
  std::uint64_t image_size = 0;         // bytes written to the target after decoding
  crypto::Sha256Digest image_sha256{};  // of those bytes
  std::optional<crypto::Sha256Digest> delta_source_sha256;  // set: the payload is a delta

  std::uint64_t chunk_count() const { return (size + chunk_size - 1) / chunk_size; }
};

struct Manifest {
  std::string product;
  SemVer version;
  std::uint64_t security_counter = 0;
  std::vector<std::string> compatible;
  std::int64_t created = 0;  // Unix seconds, UTC
  std::int64_t expires = 0;  // Unix seconds, UTC; after this instant the bundle is refused
  std::map<std::string, std::string> metadata;
  std::vector<PayloadInfo> payloads;
  std::vector<std::string> critical;  // extension fields a reader must understand

  std::uint64_t total_chunks() const;
  std::uint64_t total_payload_size() const;
};

// Checks the schema and every bound; kMalformedManifest with the JSON path on failure,
// kUnknownCritical for a critical field this reader does not implement.
Result<Manifest> ManifestFromJson(const Json& json);
// Parses canonical bytes (ParseCanonicalJson) and then the schema.
Result<Manifest> ParseManifest(ByteView bytes);
// The canonical bytes of a manifest (what is signed). Fails with kMalformedManifest if the
// value would not pass ManifestFromJson (the writer never emits what a reader refuses).
Result<std::string> SerializeManifest(const Manifest& manifest);
Json ManifestToJson(const Manifest& manifest);

// Product, payload name and target: [a-z0-9][a-z0-9._-]{0,63} (safe as file names).
bool IsValidName(std::string_view name);
// Hardware ids and metadata keys: [A-Za-z0-9][A-Za-z0-9._:+-]{0,63}.
bool IsValidIdentifier(std::string_view id);

}  // namespace uplift::format
