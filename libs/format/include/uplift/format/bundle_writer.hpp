// Creating and co-signing bundles. The writer runs the reader's own checks on what it produces
// (SerializeManifest), so it cannot emit a bundle that a device would refuse as malformed.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uplift/base/io.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/manifest.hpp"
#include "uplift/format/payload_codec.hpp"

namespace uplift::format {

struct PayloadInput {
  std::string name;
  std::string target;
  Compression compression = Compression::kNone;
  int zstd_level = kDefaultZstdLevel;
  // Image bytes per zstd frame (0: one frame). Frame ends are where a device resumes decoding
  // after an interruption; smaller frames resume closer but compress a little worse.
  std::uint64_t zstd_frame_bytes = kDefaultZstdFrameBytes;
  std::uint32_t chunk_size = kDefaultChunkSize;
  // Set for a delta payload: the source image hash, and the size and hash of the patched result
  // (the input bytes are then the patch, stored as given).
  std::optional<crypto::Sha256Digest> delta_source_sha256;
  std::optional<std::uint64_t> delta_image_size;
  std::optional<crypto::Sha256Digest> delta_image_sha256;
  // Opens the input from the start; called twice (hash pass, then copy pass) for uncompressed
  // payloads. If the bytes differ between the calls the write fails (kHashMismatch).
  std::function<Result<std::unique_ptr<ByteSource>>()> open;
  std::uint64_t size_hint = 0;  // input size if known, for progress only
};

struct BundleSpec {
  std::string product;
  SemVer version;
  std::uint64_t security_counter = 0;
  std::vector<std::string> compatible;
  std::int64_t created = 0;
  std::int64_t expires = 0;
  std::map<std::string, std::string> metadata;
  std::vector<PayloadInput> payloads;
};

struct WriteOptions {
  // Directory for the compressed copy of zstd payloads (an unlinked temporary file).
  std::string spill_dir = "/tmp";
  int threads = 1;
  // Called with bytes of input processed so far and the total (for progress bars).
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// Writes a complete bundle signed by every key in keys (at least one) to out.
Status WriteBundle(const BundleSpec& spec, const std::vector<const crypto::PrivateKey*>& keys,
                   ByteSink& out, const WriteOptions& options = {});

// Copies the bundle in to out with signatures by keys added (a key that already signed is
// re-signed in place). The manifest bytes are unchanged; every payload chunk is verified while
// copying, so a co-signer never signs a corrupt bundle.
Status CoSignBundle(ByteSource& in, const std::vector<const crypto::PrivateKey*>& keys,
                    ByteSink& out);

// A PayloadInput::open for a file path.
std::function<Result<std::unique_ptr<ByteSource>>()> OpenFileFn(const std::string& path);

}  // namespace uplift::format
