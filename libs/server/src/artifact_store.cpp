#include "uplift/server/artifact_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "uplift/base/io.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::server {
namespace {

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    return ErrnoError("mkdir " + path, errno);
  return Ok();
}

Status FsyncPath(const std::string& path, int flags) {
  Fd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open " + path, errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("fsync " + path, errno);
  return Ok();
}

}  // namespace

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<ArtifactStore> ArtifactStore::Open(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  UPLIFT_TRY(MakeDir(root));
  UPLIFT_TRY(MakeDir(root + "/tmp"));
  return ArtifactStore(root, root + "/tmp");
}

std::string ArtifactStore::PathOf(const std::string& sha256) const {
  return root_ + "/" + sha256.substr(0, 2) + "/" + sha256;
}

Result<StoredArtifact> ArtifactStore::Adopt(const std::string& temp_path) {
  crypto::Sha256 h;
  std::uint64_t size = 0;
  {
    auto src = FileSource::Open(temp_path);
    if (!src.ok()) {
      ::unlink(temp_path.c_str());
      return src.error();
    }
    std::vector<std::uint8_t> buf(1 << 20);
    for (;;) {
      auto n = src->Read(buf);
      if (!n.ok()) {
        ::unlink(temp_path.c_str());
        return n.error();
      }
      if (*n == 0) break;
      h.Update(ByteView(buf.data(), *n));
      size += *n;
    }
  }
  return AdoptHashed(temp_path, ToHex(h.Finish()), size);
}

Result<StoredArtifact> ArtifactStore::AdoptHashed(const std::string& temp_path,
                                                  const std::string& sha256, std::uint64_t size) {
  auto fail = [&](Error e) -> Result<StoredArtifact> {
    ::unlink(temp_path.c_str());
    return e;
  };
  if (!IsSha256Hex(sha256)) return fail(Error(base::Errc::kInvalidArgument, "bad sha256"));
  const std::string dir = root_ + "/" + sha256.substr(0, 2);
  if (Status st = MakeDir(dir); !st.ok()) return fail(st.error());
  const std::string path = PathOf(sha256);
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) {
    // Same content already stored (content addressing): the upload is a duplicate.
    ::unlink(temp_path.c_str());
    return StoredArtifact{sha256, static_cast<std::uint64_t>(existing.st_size), path};
  }
  if (Status st = FsyncPath(temp_path, O_RDONLY); !st.ok()) return fail(st.error());
  ::chmod(temp_path.c_str(), 0644);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    return fail(ErrnoError("rename " + temp_path + " -> " + path, errno));
  }
  UPLIFT_TRY(FsyncPath(dir, O_RDONLY | O_DIRECTORY));
  UPLIFT_TRY(FsyncPath(root_, O_RDONLY | O_DIRECTORY));
  return StoredArtifact{sha256, size, path};
}

Result<StoredArtifact> ArtifactStore::Find(const std::string& sha256) const {
  if (!IsSha256Hex(sha256)) {
    return Error(base::Errc::kInvalidArgument, "artifact id is not 64 lower-case hex digits");
  }
  const std::string path = PathOf(sha256);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("artifact " + sha256, errno);
  return StoredArtifact{sha256, static_cast<std::uint64_t>(st.st_size), path};
}

}  // namespace uplift::server
