#include "uplift/base/range_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "uplift/base/errors.hpp"

namespace uplift {
namespace {

// pread-based stream over [pos, end) of a shared fd.
class FileRangeStream final : public ByteSource {
 public:
  FileRangeStream(int fd, std::uint64_t pos, std::uint64_t end) : fd_(fd), pos_(pos), end_(end) {}
  Result<std::size_t> Read(MutableByteView buf) override {
    if (pos_ >= end_ || buf.empty()) return std::size_t{0};
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end_ - pos_));
    for (;;) {
      const ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(pos_));
      if (n >= 0) {
        pos_ += static_cast<std::uint64_t>(n);
        if (n == 0) end_ = pos_;  // the file shrank: end of stream
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) return ErrnoError("pread", errno);
    }
  }

 private:
  int fd_;
  std::uint64_t pos_;
  std::uint64_t end_;
};

std::string FileValidator(const struct stat& st) {
  return std::to_string(st.st_ino) + "-" + std::to_string(st.st_size) + "-" +
         std::to_string(static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL +
                        st.st_mtim.tv_nsec);
}

}  // namespace

Result<std::unique_ptr<FileRangeSource>> FileRangeSource::Open(const std::string& path,
                                                               const std::string& expected) {
  const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) return ErrnoError("open " + path, errno);
  Fd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("fstat " + path, errno);
  if (!S_ISREG(st.st_mode)) return Error(base::Errc::kIo, path + ": not a regular file");
  std::string validator = FileValidator(st);
  if (!expected.empty() && expected != validator) {
    return Error(base::Errc::kSourceChanged, path + " changed since the download started (was " +
                                                 expected + ", now " + validator + ")");
  }
  return std::unique_ptr<FileRangeSource>(new FileRangeSource(
      path, std::move(fd), static_cast<std::uint64_t>(st.st_size), std::move(validator)));
}

Result<std::unique_ptr<ByteSource>> FileRangeSource::OpenRange(std::uint64_t begin,
                                                               std::uint64_t end) {
  end = std::min(end, size_);
  begin = std::min(begin, end);
  return std::unique_ptr<ByteSource>(std::make_unique<FileRangeStream>(fd_.get(), begin, end));
}

Status FileRangeSource::Reread(std::uint64_t offset, MutableByteView buf) {
  if (offset > size_ || buf.size() > size_ - offset) {
    return Error(base::Errc::kUnexpectedEof, path_ + ": re-read past the end of the file");
  }
  FileRangeStream s(fd_.get(), offset, offset + buf.size());
  return ReadExact(s, buf);
}

namespace {
class MemoryRangeStream final : public ByteSource {
 public:
  explicit MemoryRangeStream(ByteView data) : data_(data) {}
  Result<std::size_t> Read(MutableByteView buf) override {
    const std::size_t n = std::min(buf.size(), data_.size() - pos_);
    std::copy_n(data_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }

 private:
  ByteView data_;
  std::size_t pos_ = 0;
};
}  // namespace

Result<std::unique_ptr<ByteSource>> MemoryRangeSource::OpenRange(std::uint64_t begin,
                                                                 std::uint64_t end) {
  end = std::min<std::uint64_t>(end, data_.size());
  begin = std::min(begin, end);
  return std::unique_ptr<ByteSource>(std::make_unique<MemoryRangeStream>(
      data_.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin))));
}

Status MemoryRangeSource::Reread(std::uint64_t offset, MutableByteView buf) {
  if (offset > data_.size() || buf.size() > data_.size() - offset) {
    return Error(base::Errc::kUnexpectedEof, "re-read past the end of the artifact");
  }
  std::copy_n(data_.data() + offset, buf.size(), buf.data());
  return Ok();
}

}  // namespace uplift
