// Artifacts on disk, content-addressed by SHA-256: <root>/<aa>/<sha256 hex>. Files are written
// once and never changed, so their ETag is their hash and any server instance (or nginx in front
// of a shared directory) can serve them. Whether a tenant may see an artifact is the catalog's
// business; this store only holds bytes.
#pragma once

#include <cstdint>
#include <string>

#include "uplift/base/result.hpp"

namespace uplift::server {

struct StoredArtifact {
  std::string sha256;  // lower-case hex
  std::uint64_t size = 0;
  std::string path;
};

class ArtifactStore {
 public:
  // Creates <root> and <root>/tmp if missing.
  static Result<ArtifactStore> Open(std::string root);

  // Where uploads are streamed before they are verified: same file system as the store, so
  // Adopt is a rename.
  const std::string& temp_dir() const { return temp_dir_; }

  // Hashes `temp_path`, fsyncs it and renames it to its content address (fsync of the directory
  // too). If the content exists already, the temporary file is removed instead. The temporary
  // file is gone afterwards in every case.
  Result<StoredArtifact> Adopt(const std::string& temp_path);
  // Same, when the caller has hashed the bytes already (while verifying them).
  Result<StoredArtifact> AdoptHashed(const std::string& temp_path, const std::string& sha256,
                                     std::uint64_t size);

  // The path of an artifact; base::Errc::kNotFound if absent; kInvalidArgument for a string that
  // is not 64 lower-case hex digits (so no caller can walk out of the root with "../").
  Result<StoredArtifact> Find(const std::string& sha256) const;

  const std::string& root() const { return root_; }

 private:
  ArtifactStore(std::string root, std::string temp_dir)
      : root_(std::move(root)), temp_dir_(std::move(temp_dir)) {}
  std::string PathOf(const std::string& sha256) const;
  std::string root_;
  std::string temp_dir_;
};

bool IsSha256Hex(std::string_view s);

}  // namespace uplift::server
