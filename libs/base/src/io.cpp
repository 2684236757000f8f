#include "uplift/base/io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace uplift {

Error ErrnoError(std::string_view what, int err) {
  const auto code = err == ENOENT ? base::Errc::kNotFound : base::Errc::kIo;
  return Error(code, std::string(what) + ": " + std::strerror(err));
}

Status ReadExact(ByteSource& src, MutableByteView buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    UPLIFT_ASSIGN(const std::size_t n, src.Read(buf.subspan(got)));
    if (n == 0) {
      return Error(base::Errc::kUnexpectedEof, "unexpected end of data after " +
                                                   std::to_string(got) + " of " +
                                                   std::to_string(buf.size()) + " bytes");
    }
    got += n;
  }
  return Ok();
}

Status Skip(ByteSource& src, std::uint64_t n) {
  NullSink sink;
  return CopyN(src, sink, n);
}

Status CopyN(ByteSource& src, ByteSink& sink, std::uint64_t n) {
  std::array<std::uint8_t, 64 * 1024> buf;
  while (n > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
    UPLIFT_TRY(ReadExact(src, MutableByteView(buf.data(), want)));
    UPLIFT_TRY(sink.Write(ByteView(buf.data(), want)));
    n -= want;
  }
  return Ok();
}

Result<std::size_t> MemorySource::Read(MutableByteView buf) {
  const std::size_t n = std::min(buf.size(), data_.size() - pos_);
  std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(pos_), n, buf.begin());
  pos_ += n;
  return n;
}

Status MemorySink::Write(ByteView data) {
  bytes_.insert(bytes_.end(), data.begin(), data.end());
  return Ok();
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FileSource> FileSource::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path, errno);
  return FileSource(Fd(fd), fd);
}

Result<std::size_t> FileSource::Read(MutableByteView buf) {
  for (;;) {
    const ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return ErrnoError("read", errno);
  }
}

Result<std::uint64_t> FileSource::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ErrnoError("fstat", errno);
  if (!S_ISREG(st.st_mode)) return Error(base::Errc::kIo, "not a regular file");
  return static_cast<std::uint64_t>(st.st_size);
}

namespace {
Status WriteAll(int fd, ByteView data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", errno);
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return Ok();
}

std::string DirName(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

Status FileSink::Write(ByteView data) { return WriteAll(fd_, data); }

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  // The umask may have narrowed the mode; key files must end up exactly as asked.
  if (::fchmod(fd, mode) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError("chmod " + tmp, err);
  }
  return AtomicFileWriter(path, std::move(tmp), Fd(fd));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_ && fd_.valid()) ::unlink(tmp_.c_str());
}

Status AtomicFileWriter::Write(ByteView data) { return WriteAll(fd_.get(), data); }

Status AtomicFileWriter::Commit() {
  if (::fsync(fd_.get()) != 0) return ErrnoError("fsync " + tmp_, errno);
  if (::close(fd_.release()) != 0) return ErrnoError("close " + tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    return ErrnoError("rename to " + path_, err);
  }
  committed_ = true;
  const std::string dir = DirName(path_);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) return ErrnoError("open dir " + dir, errno);
  if (::fsync(dfd.get()) != 0) return ErrnoError("fsync dir " + dir, errno);
  return Ok();
}

Result<Bytes> ReadFile(const std::string& path, std::uint64_t max_size) {
  UPLIFT_ASSIGN(FileSource src, FileSource::Open(path));
  Bytes out;
  std::array<std::uint8_t, 64 * 1024> buf;
  for (;;) {
    UPLIFT_ASSIGN(const std::size_t n, src.Read(buf));
    if (n == 0) break;
    if (out.size() + n > max_size) {
      return Error(base::Errc::kTooLarge,
                   path + ": larger than " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

Status WriteFileAtomic(const std::string& path, ByteView data, mode_t mode) {
  UPLIFT_ASSIGN(AtomicFileWriter w, AtomicFileWriter::Create(path, mode));
  UPLIFT_TRY(w.Write(data));
  return w.Commit();
}

}  // namespace uplift
