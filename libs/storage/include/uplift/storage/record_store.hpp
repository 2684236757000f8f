// Atomic replacement of one small record (at most 64 KiB): what the agent's journal needs. After a
// power cut at any point of Store(), Load() returns either the record being stored or the one
// stored before it, never a mixture. Copy layout: docs/formats/record-store.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/format/record.hpp"
#include "uplift/storage/device.hpp"

namespace uplift::storage {

class RecordStore {
 public:
  virtual ~RecordStore();
  // The last stored record; nullopt if none was ever stored. storage::Errc::kRecordCorrupt if
  // data is present but no intact copy of it; device or I/O errors are passed through.
  virtual Result<std::optional<Bytes>> Load() = 0;
  // Durably replaces the record (done when it returns Ok). base::Errc::kTooLarge above
  // format::kMaxRecordPayload; device or I/O errors are passed through, after which Load()
  // returns the old or the new record.
  virtual Status Store(ByteView record) = 0;
};

// A record in a file of a file system, replaced by write-temporary, fsync, rename, fsync
// directory; the framing detects a file damaged by anything else.
class FileRecordStore final : public RecordStore {
 public:
  explicit FileRecordStore(std::string path) : path_(std::move(path)) {}
  Result<std::optional<Bytes>> Load() override;
  Status Store(ByteView record) override;

 private:
  std::string path_;
};

// A record on a raw partition (flash or block device) without a file system. The partition is
// split into two halves aligned to erase_size(), each holding one copy with a sequence number;
// Store() erases and programs the copy that does not hold the current record, then Sync()s, so
// the current copy is never touched. A partition that was never written (all 0xff or all 0x00)
// loads as nullopt. Borrows the device, which must outlive the store.
class FlashRecordStore final : public RecordStore {
 public:
  explicit FlashRecordStore(BlockDevice& partition) : dev_(partition) {}
  // Also kUnaligned / kOutOfBounds if the partition is too small for two copies of the header
  // (checked on every call, since the device is borrowed).
  Result<std::optional<Bytes>> Load() override;
  // Also kOutOfBounds if the record does not fit into half the partition, and
  // base::Errc::kInvalidArgument if the sequence number would wrap (after 2^64 - 1 stores).
  Status Store(ByteView record) override;

 private:
  struct Slot;
  Result<std::uint64_t> HalfSize() const;
  Result<Slot> ReadSlot(std::uint64_t offset, std::uint64_t half) const;
  BlockDevice& dev_;
};

}  // namespace uplift::storage
