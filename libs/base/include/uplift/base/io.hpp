// Sequential byte streams and durable file writes.
//
// Parsers take a ByteSource, never a path, so they can be fed from files, sockets, memory or a
// fuzzer. Durable writes follow the one safe recipe: write a temporary file beside the target,
// fsync it, rename it over the target, fsync the directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/base/result.hpp"

namespace uplift {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to buf.size() bytes; returns 0 only at end of stream. Fails with base::Errc::kIo.
  virtual Result<std::size_t> Read(MutableByteView buf) = 0;
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all of data or fails (base::Errc::kIo, or the sink's own error).
  virtual Status Write(ByteView data) = 0;
};

// Fills buf completely; base::Errc::kUnexpectedEof if the stream ends first.
Status ReadExact(ByteSource& src, MutableByteView buf);
// Reads and discards n bytes; kUnexpectedEof if the stream ends first.
Status Skip(ByteSource& src, std::uint64_t n);
// Copies exactly n bytes from src to sink through a bounded buffer.
Status CopyN(ByteSource& src, ByteSink& sink, std::uint64_t n);

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(ByteView data) : data_(data) {}
  Result<std::size_t> Read(MutableByteView buf) override;

 private:
  ByteView data_;
  std::size_t pos_ = 0;
};

class MemorySink final : public ByteSink {
 public:
  Status Write(ByteView data) override;
  const Bytes& bytes() const { return bytes_; }
  Bytes Take() { return std::move(bytes_); }

 private:
  Bytes bytes_;
};

// Discards everything (for verify-only passes).
class NullSink final : public ByteSink {
 public:
  Status Write(ByteView) override { return Ok(); }
};

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

class FileSource final : public ByteSource {
 public:
  // kNotFound if the path does not exist, kIo otherwise.
  static Result<FileSource> Open(const std::string& path);
  // Reads from an fd the caller keeps open (stdin).
  static FileSource Borrow(int fd) { return FileSource(Fd(), fd); }
  Result<std::size_t> Read(MutableByteView buf) override;
  // File size from fstat; kIo for non-regular files.
  Result<std::uint64_t> Size() const;
  int fd() const { return fd_; }

 private:
  FileSource(Fd owned, int fd) : owned_(std::move(owned)), fd_(fd) {}
  Fd owned_;
  int fd_;
};

class FileSink final : public ByteSink {
 public:
  static FileSink Borrow(int fd) { return FileSink(Fd(), fd); }
  Status Write(ByteView data) override;

 private:
  FileSink(Fd owned, int fd) : owned_(std::move(owned)), fd_(fd) {}
  Fd owned_;
  int fd_;
};

// Streams into PATH.tmp.<pid> and on Commit() makes it PATH durably (fsync, rename, fsync dir).
// Destroyed without Commit(), it removes the temporary file: the target is never half-written.
class AtomicFileWriter final : public ByteSink {
 public:
  static Result<AtomicFileWriter> Create(const std::string& path, mode_t mode = 0644);
  AtomicFileWriter(AtomicFileWriter&&) noexcept = default;
  AtomicFileWriter& operator=(AtomicFileWriter&&) noexcept = default;
  ~AtomicFileWriter() override;
  Status Write(ByteView data) override;
  Status Commit();

 private:
  AtomicFileWriter(std::string path, std::string tmp, Fd fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  std::string path_;
  std::string tmp_;
  Fd fd_;
  bool committed_ = false;
};

// Reads a whole file that must not exceed max_size bytes (kTooLarge otherwise).
Result<Bytes> ReadFile(const std::string& path, std::uint64_t max_size);
// Durably replaces path with data (AtomicFileWriter).
Status WriteFileAtomic(const std::string& path, ByteView data, mode_t mode = 0644);

// "open(path): No such file or directory" with the right code for errno.
Error ErrnoError(std::string_view what, int err);

}  // namespace uplift
