// Positional reads: what a delta applier needs to read an old image (copy sources jump around)
// and the regions of a patch (three streams read side by side) without holding either in memory.
#pragma once

#include <cstdint>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"

namespace uplift {

class RandomAccessSource {
 public:
  virtual ~RandomAccessSource() = default;
  // Total size in bytes; fixed for the lifetime of the source.
  virtual std::uint64_t size() const = 0;
  // Reads min(buf.size(), size() - offset) bytes at offset (0 at or past the end). Fills buf
  // completely unless the end is reached. Fails with base::Errc::kIo.
  virtual Result<std::size_t> ReadAt(std::uint64_t offset, MutableByteView buf) = 0;
};

// pread(2) on a file; the size is taken once at Open().
class RandomAccessFile final : public RandomAccessSource {
 public:
  // kNotFound if the path does not exist, kIo otherwise (including non-regular files).
  static Result<RandomAccessFile> Open(const std::string& path);
  std::uint64_t size() const override { return size_; }
  Result<std::size_t> ReadAt(std::uint64_t offset, MutableByteView buf) override;

 private:
  RandomAccessFile(Fd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}
  Fd fd_;
  std::uint64_t size_;
};

// Over bytes the caller keeps alive.
class MemoryRandomAccess final : public RandomAccessSource {
 public:
  explicit MemoryRandomAccess(ByteView data) : data_(data) {}
  std::uint64_t size() const override { return data_.size(); }
  Result<std::size_t> ReadAt(std::uint64_t offset, MutableByteView buf) override;

 private:
  ByteView data_;
};

}  // namespace uplift
