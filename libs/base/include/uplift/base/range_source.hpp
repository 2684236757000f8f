// Ranged access to a stored artifact (a bundle), wherever it lives: a file, or an HTTP server
// (libs/transport). The agent opens it again at the restart point after every interruption, and
// re-reads a single chunk that failed verification instead of the whole artifact.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"

namespace uplift {

inline constexpr std::uint64_t kToEnd = std::numeric_limits<std::uint64_t>::max();

class RangeSource {
 public:
  virtual ~RangeSource() = default;
  // A stream of bytes [begin, end) (end = kToEnd: to the end of the artifact). The stream ends
  // early (Read returns 0) only at the artifact's end. base::Errc::kSourceChanged if the artifact
  // is no longer the one validator() names.
  virtual Result<std::unique_ptr<ByteSource>> OpenRange(std::uint64_t begin, std::uint64_t end) = 0;
  // Reads exactly buf.size() bytes at offset from the origin again, bypassing any buffered copy
  // (kUnexpectedEof past the end, kSourceChanged as above).
  virtual Status Reread(std::uint64_t offset, MutableByteView buf) = 0;
  // Names the version of the artifact (an HTTP entity tag, a file's identity); empty until known.
  // A resumed reader is created with the validator recorded before the interruption and fails
  // with kSourceChanged instead of splicing two versions.
  virtual std::string validator() const = 0;
  // Bytes fetched from the origin so far, every attempt and re-read included, counted from the
  // figure the source was created with (a download's data-cap count survives restarts). Local
  // sources fetch nothing.
  virtual std::uint64_t fetched_bytes() const { return 0; }
};

// A local file. Its validator is "<inode>-<size>-<mtime ns>": replacing or rewriting the file
// changes it.
class FileRangeSource final : public RangeSource {
 public:
  // expected_validator non-empty: kSourceChanged if the file is not that version any more.
  static Result<std::unique_ptr<FileRangeSource>> Open(const std::string& path,
                                                       const std::string& expected_validator = {});
  Result<std::unique_ptr<ByteSource>> OpenRange(std::uint64_t begin, std::uint64_t end) override;
  Status Reread(std::uint64_t offset, MutableByteView buf) override;
  std::string validator() const override { return validator_; }

 private:
  FileRangeSource(std::string path, Fd fd, std::uint64_t size, std::string validator)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size), validator_(std::move(validator)) {}
  std::string path_;
  Fd fd_;
  std::uint64_t size_;
  std::string validator_;
};

// Over bytes the caller keeps alive (tests, simulators).
class MemoryRangeSource final : public RangeSource {
 public:
  explicit MemoryRangeSource(ByteView data, std::string validator = "mem")
      : data_(data), validator_(std::move(validator)) {}
  Result<std::unique_ptr<ByteSource>> OpenRange(std::uint64_t begin, std::uint64_t end) override;
  Status Reread(std::uint64_t offset, MutableByteView buf) override;
  std::string validator() const override { return validator_; }

 private:
  ByteView data_;
  std::string validator_;
};

}  // namespace uplift
