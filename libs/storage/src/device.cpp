// The device-independent pieces: partitions, the sequential writer and the region reader.
#include "uplift/storage/device.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "uplift/base/errors.hpp"

namespace uplift::storage {
namespace {

bool FitsIn(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

std::string Range(std::uint64_t offset, std::uint64_t length) {
  return "[" + std::to_string(offset) + ", +" + std::to_string(length) + ")";
}

class Partition final : public BlockDevice {
 public:
  Partition(BlockDevice& parent, std::string name, std::uint64_t offset, std::uint64_t length)
      : parent_(parent), name_(std::move(name)), offset_(offset), length_(length) {}

  std::string name() const override { return name_; }
  std::uint64_t size() const override { return length_; }
  std::uint32_t erase_size() const override { return parent_.erase_size(); }
  std::uint32_t program_size() const override { return parent_.program_size(); }
  bool needs_erase() const override { return parent_.needs_erase(); }

  Status Read(std::uint64_t offset, MutableByteView out) override {
    UPLIFT_TRY(Check("read", offset, out.size(), 1));
    return parent_.Read(offset_ + offset, out);
  }
  Status Erase(std::uint64_t offset, std::uint64_t length) override {
    UPLIFT_TRY(Check("erase", offset, length, parent_.erase_size()));
    return parent_.Erase(offset_ + offset, length);
  }
  Status Program(std::uint64_t offset, ByteView data) override {
    UPLIFT_TRY(Check("program", offset, data.size(), parent_.program_size()));
    return parent_.Program(offset_ + offset, data);
  }
  Status Sync() override { return parent_.Sync(); }

 private:
  Status Check(const char* what, std::uint64_t offset, std::uint64_t length,
               std::uint32_t unit) const {
    if (!FitsIn(offset, length, length_)) {
      return Error(Errc::kOutOfBounds, std::string(what) + " " + name_ + ": " +
                                           Range(offset, length) + " beyond the partition size " +
                                           std::to_string(length_));
    }
    if (offset % unit != 0 || length % unit != 0) {
      return Error(Errc::kUnaligned, std::string(what) + " " + name_ + ": " +
                                         Range(offset, length) + " not aligned to " +
                                         std::to_string(unit) + " bytes");
    }
    return Ok();
  }

  BlockDevice& parent_;
  std::string name_;
  std::uint64_t offset_;
  std::uint64_t length_;
};

class DeviceReader final : public RandomAccessSource {
 public:
  DeviceReader(BlockDevice& dev, std::uint64_t offset, std::uint64_t length)
      : dev_(dev), offset_(offset), length_(length) {}
  std::uint64_t size() const override { return length_; }
  Result<std::size_t> ReadAt(std::uint64_t offset, MutableByteView buf) override {
    if (offset >= length_) return std::size_t{0};
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length_ - offset));
    UPLIFT_TRY(dev_.Read(offset_ + offset, buf.first(n)));
    return n;
  }

 private:
  BlockDevice& dev_;
  std::uint64_t offset_;
  std::uint64_t length_;
};

// Large enough that a file slot is written at disk speed, small enough for a device's RAM.
constexpr std::size_t kWriterChunk = 1024 * 1024;

std::uint64_t RoundUp(std::uint64_t v, std::uint64_t unit) { return (v + unit - 1) / unit * unit; }

}  // namespace

Status ValidatePartition(const BlockDevice& parent, std::uint64_t offset, std::uint64_t length) {
  if (length == 0 || !FitsIn(offset, length, parent.size())) {
    return Error(Errc::kOutOfBounds, "partition " + Range(offset, length) + " of " + parent.name() +
                                         " (" + std::to_string(parent.size()) +
                                         " bytes) is empty or does not fit");
  }
  const std::uint32_t unit = parent.erase_size();
  if (offset % unit != 0 || length % unit != 0) {
    return Error(Errc::kUnaligned, "partition " + Range(offset, length) + " of " + parent.name() +
                                       " is not aligned to its erase size " + std::to_string(unit));
  }
  return Ok();
}

std::unique_ptr<BlockDevice> MakePartition(BlockDevice& parent, std::string name,
                                           std::uint64_t offset, std::uint64_t length) {
  if (!ValidatePartition(parent, offset, length).ok()) std::abort();
  return std::make_unique<Partition>(parent, std::move(name), offset, length);
}

std::unique_ptr<RandomAccessSource> MakeDeviceReader(BlockDevice& dev, std::uint64_t offset,
                                                     std::uint64_t length) {
  return std::make_unique<DeviceReader>(dev, offset, length);
}

DeviceWriter::DeviceWriter(BlockDevice& dev, std::uint64_t offset, std::uint64_t limit)
    : dev_(dev),
      start_(offset),
      limit_(limit),
      erased_until_(offset),
      chunk_(std::max<std::size_t>(kWriterChunk / dev.program_size(), 1) * dev.program_size()) {}

Status DeviceWriter::CheckRegion() const {
  if (start_ > limit_ || limit_ > dev_.size()) {
    return Error(Errc::kOutOfBounds, "writer region [" + std::to_string(start_) + ", " +
                                         std::to_string(limit_) + ") does not fit " + dev_.name() +
                                         " (" + std::to_string(dev_.size()) + " bytes)");
  }
  if (start_ % dev_.erase_size() != 0) {
    return Error(Errc::kUnaligned, "writer start " + std::to_string(start_) + " on " + dev_.name() +
                                       " is not aligned to the erase size " +
                                       std::to_string(dev_.erase_size()));
  }
  return Ok();
}

Status DeviceWriter::Write(ByteView data) {
  if (finished_ || failed_) {
    return Error(base::Errc::kInvalidArgument, "write to " + dev_.name() + ": writer already " +
                                                   (finished_ ? "finished" : "failed"));
  }
  if (written_ == 0) UPLIFT_TRY(CheckRegion());
  // The padded end must fit too, or Finish() could not complete what Write() accepted.
  const std::uint64_t capacity = limit_ - start_;
  if (data.size() > capacity - written_ ||
      RoundUp(written_ + data.size(), dev_.program_size()) > capacity) {
    return Error(Errc::kOutOfBounds, "write to " + dev_.name() + ": " +
                                         std::to_string(written_ + data.size()) +
                                         " bytes exceed the region of " + std::to_string(capacity) +
                                         " bytes at " + std::to_string(start_));
  }
  while (!data.empty()) {
    if (buf_.empty() && data.size() >= chunk_) {
      // Big aligned pieces go to the device straight from the caller's buffer.
      const std::size_t n = data.size() / chunk_ * chunk_;
      UPLIFT_TRY(ProgramAt(start_ + written_, data.first(n)));
      written_ += n;
      data = data.subspan(n);
      continue;
    }
    const std::size_t take = std::min(chunk_ - buf_.size(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
    written_ += take;
    data = data.subspan(take);
    if (buf_.size() == chunk_) UPLIFT_TRY(Flush(false));
  }
  return Ok();
}

Status DeviceWriter::Finish() {
  if (finished_ || failed_) {
    return Error(base::Errc::kInvalidArgument, "finish " + dev_.name() + ": writer already " +
                                                   (finished_ ? "finished" : "failed"));
  }
  if (written_ == 0) UPLIFT_TRY(CheckRegion());
  UPLIFT_TRY(Flush(true));
  finished_ = true;
  const Status synced = dev_.Sync();
  if (!synced.ok()) failed_ = true;
  return synced;
}

Status DeviceWriter::Flush(bool final) {
  const std::size_t unit = dev_.program_size();
  const std::uint64_t at = start_ + written_ - buf_.size();
  if (final) buf_.resize(RoundUp(buf_.size(), unit), 0xff);
  const std::size_t n = buf_.size() / unit * unit;
  if (n == 0) return Ok();
  UPLIFT_TRY(ProgramAt(at, ByteView(buf_.data(), n)));
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  return Ok();
}

Status DeviceWriter::ProgramAt(std::uint64_t offset, ByteView data) {
  const Status st = [&]() -> Status {
    if (!dev_.needs_erase()) return dev_.Program(offset, data);
    // Erase each block just before the first program into it, so a cut leaves at most one
    // erased-but-unwritten block and the rest of the region untouched.
    const std::uint64_t block = dev_.erase_size();
    while (!data.empty()) {
      if (offset >= erased_until_) {
        if (erased_until_ + block > limit_) {
          return Error(Errc::kOutOfBounds, "write to " + dev_.name() + ": erase block at " +
                                               std::to_string(erased_until_) +
                                               " reaches past the region end " +
                                               std::to_string(limit_));
        }
        UPLIFT_TRY(dev_.Erase(erased_until_, block));
        erased_until_ += block;
      }
      const auto n =
          static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), erased_until_ - offset));
      UPLIFT_TRY(dev_.Program(offset, data.first(n)));
      offset += n;
      data = data.subspan(n);
    }
    return Ok();
  }();
  if (!st.ok()) failed_ = true;
  return st;
}

}  // namespace uplift::storage
