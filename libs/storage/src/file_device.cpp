// BlockDevice over a regular file or a Linux block device (a partition of eMMC, SD, NVMe, a loop
// device). Both overwrite in place, so the erase and program units are one byte.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "uplift/base/errors.hpp"
#include "uplift/storage/device.hpp"

namespace uplift::storage {
namespace {

constexpr std::size_t kFillChunk = 1024 * 1024;

class FileDevice final : public BlockDevice {
 public:
  FileDevice(std::string path, Fd fd, std::uint64_t size, bool is_block, bool read_only)
      : path_(std::move(path)),
        fd_(std::move(fd)),
        size_(size),
        is_block_(is_block),
        read_only_(read_only) {}

  std::string name() const override { return path_; }
  std::uint64_t size() const override { return size_; }
  std::uint32_t erase_size() const override { return 1; }
  std::uint32_t program_size() const override { return 1; }
  bool needs_erase() const override { return false; }

  Status Read(std::uint64_t offset, MutableByteView out) override {
    UPLIFT_TRY(CheckBounds("read", offset, out.size()));
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("pread " + path_ + " at " + std::to_string(offset + done), errno);
      }
      if (n == 0) {
        return Error(base::Errc::kUnexpectedEof,
                     path_ + ": ends at " + std::to_string(offset + done) + ", expected " +
                         std::to_string(size_) + " bytes (shrunk while open)");
      }
      done += static_cast<std::size_t>(n);
    }
    return Ok();
  }

  Status Erase(std::uint64_t offset, std::uint64_t length) override {
    UPLIFT_TRY(CheckWritable("erase", offset, length));
    const Bytes ones(static_cast<std::size_t>(std::min<std::uint64_t>(length, kFillChunk)), 0xff);
    while (length > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(length, ones.size()));
      UPLIFT_TRY(WriteAt(offset, ByteView(ones.data(), n)));
      offset += n;
      length -= n;
    }
    return Ok();
  }

  Status Program(std::uint64_t offset, ByteView data) override {
    UPLIFT_TRY(CheckWritable("program", offset, data.size()));
    return WriteAt(offset, data);
  }

  Status Sync() override {
    if (read_only_) return Ok();
    // A block device's data lives in the page cache of the device node; fsync writes it out.
    // BLKFLSBUF then drops that cache so a later read really comes from the medium.
    const int rc = is_block_ ? ::fsync(fd_.get()) : ::fdatasync(fd_.get());
    if (rc != 0) return ErrnoError("sync " + path_, errno);
    if (is_block_ && ::ioctl(fd_.get(), BLKFLSBUF, 0) != 0) {
      return ErrnoError("ioctl BLKFLSBUF " + path_, errno);
    }
    return Ok();
  }

 private:
  Status CheckBounds(const char* what, std::uint64_t offset, std::uint64_t length) const {
    if (offset > size_ || length > size_ - offset) {
      return Error(Errc::kOutOfBounds, std::string(what) + " " + path_ + ": [" +
                                           std::to_string(offset) + ", +" + std::to_string(length) +
                                           ") beyond the size " + std::to_string(size_));
    }
    return Ok();
  }

  Status CheckWritable(const char* what, std::uint64_t offset, std::uint64_t length) const {
    if (read_only_) {
      return Error(Errc::kReadOnly, std::string(what) + " " + path_ + ": opened read-only");
    }
    return CheckBounds(what, offset, length);
  }

  Status WriteAt(std::uint64_t offset, ByteView data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                                 static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("pwrite " + path_ + " at " + std::to_string(offset + done), errno);
      }
      if (n == 0) {
        return Error(base::Errc::kIo,
                     "pwrite " + path_ + " at " + std::to_string(offset + done) + ": no progress");
      }
      done += static_cast<std::size_t>(n);
    }
    return Ok();
  }

  std::string path_;
  Fd fd_;
  std::uint64_t size_;
  bool is_block_;
  bool read_only_;
};

}  // namespace

Result<std::unique_ptr<BlockDevice>> OpenFileDevice(const std::string& path, bool read_only) {
  Fd fd(::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("fstat " + path, errno);
  std::uint64_t size = 0;
  const bool is_block = S_ISBLK(st.st_mode);
  if (is_block) {
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      return ErrnoError("ioctl BLKGETSIZE64 " + path, errno);
    }
  } else if (S_ISREG(st.st_mode)) {
    size = static_cast<std::uint64_t>(st.st_size);
  } else {
    return Error(base::Errc::kIo, path + ": not a regular file or block device");
  }
  return std::unique_ptr<BlockDevice>(
      std::make_unique<FileDevice>(path, std::move(fd), size, is_block, read_only));
}

Result<std::unique_ptr<BlockDevice>> CreateFileDevice(const std::string& path, std::uint64_t size,
                                                      std::uint8_t fill_byte) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("create " + path, errno);
  // Zero fill is a sparse file; any other fill byte must be written out.
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoError("ftruncate " + path, errno);
  }
  auto dev = std::make_unique<FileDevice>(path, std::move(fd), size, false, false);
  if (fill_byte != 0) {
    const Bytes fill(static_cast<std::size_t>(std::min<std::uint64_t>(size, kFillChunk)),
                     fill_byte);
    for (std::uint64_t off = 0; off < size;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size - off, fill.size()));
      UPLIFT_TRY(dev->Program(off, ByteView(fill.data(), n)));
      off += n;
    }
  }
  return std::unique_ptr<BlockDevice>(std::move(dev));
}

}  // namespace uplift::storage
