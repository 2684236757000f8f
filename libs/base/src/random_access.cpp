#include "uplift/base/random_access.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace uplift {

Result<RandomAccessFile> RandomAccessFile::Open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("fstat " + path, errno);
  // A pipe or device has no stable size, and positional reads on it mean nothing.
  if (!S_ISREG(st.st_mode)) return Error(base::Errc::kIo, path + ": not a regular file");
  return RandomAccessFile(std::move(fd), static_cast<std::uint64_t>(st.st_size));
}

Result<std::size_t> RandomAccessFile::ReadAt(std::uint64_t offset, MutableByteView buf) {
  if (offset >= size_) return std::size_t{0};
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size_ - offset));
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n =
        ::pread(fd_.get(), buf.data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("pread", errno);
    }
    if (n == 0) break;  // the file shrank under us: report what exists
    got += static_cast<std::size_t>(n);
  }
  return got;
}

Result<std::size_t> MemoryRandomAccess::ReadAt(std::uint64_t offset, MutableByteView buf) {
  if (offset >= data_.size()) return std::size_t{0};
  const auto n =
      static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), data_.size() - offset));
  std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset), n, buf.begin());
  return n;
}

}  // namespace uplift
