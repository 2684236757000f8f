// The hardware boundary for bytes at rest: a BlockDevice is a medium the agent reads and writes by
// offset — a regular file, a raw block device/partition, or a simulated NOR-like flash that can
// lose power at any mutating operation. Slots, the raw-flash journal and the U-Boot environment
// all sit on a BlockDevice (usually a Partition of one), so a power-cut sweep sees every write.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/random_access.hpp"
#include "uplift/base/result.hpp"

namespace uplift::storage {

// Error codes of the storage module; numbers are `uplift-agent` exit codes (docs/cli.md).
enum class Errc : int {
  kPowerLost = 50,      // the simulated device lost power; every call fails until PowerCycle()
  kNotErased = 51,      // flash program onto bytes that are not erased (would need 0 -> 1 bits)
  kUnaligned = 52,      // offset/length not a multiple of the device's erase or program unit
  kOutOfBounds = 53,    // offset + length beyond the device or partition
  kReadOnly = 54,       // a write to a device opened read-only
  kRecordCorrupt = 55,  // a record store holds data but no intact copy of a record
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;
  virtual std::string name() const = 0;
  virtual std::uint64_t size() const = 0;
  // Erase unit in bytes: 1 for media that overwrite in place (files, block devices), where
  // Erase() fills with 0xff only if the caller asks (it is never needed before Program()).
  virtual std::uint32_t erase_size() const = 0;
  // Program (write) unit in bytes; Program() offsets and lengths are multiples of it.
  virtual std::uint32_t program_size() const = 0;
  // True if Program() requires erased bytes (flash). False: Program() overwrites.
  virtual bool needs_erase() const = 0;

  virtual Status Read(std::uint64_t offset, MutableByteView out) = 0;
  // [offset, offset+length) aligned to erase_size(); afterwards the range reads 0xff.
  virtual Status Erase(std::uint64_t offset, std::uint64_t length) = 0;
  // Aligned to program_size(). On flash, every byte must be erased-compatible (old & new == new).
  virtual Status Program(std::uint64_t offset, ByteView data) = 0;
  // Makes everything programmed/erased so far durable (fsync, BLKFLSBUF, cache flush).
  virtual Status Sync() = 0;
};

// Checks a partition window against its parent: kUnaligned if offset or length is not a multiple
// of the parent's erase_size(), kOutOfBounds if it does not fit (or is empty).
Status ValidatePartition(const BlockDevice& parent, std::uint64_t offset, std::uint64_t length);

// A window [offset, offset+length) of a parent device; offset and length aligned to the parent's
// erase_size(). Borrows the parent, which must outlive it. A window that fails
// ValidatePartition() is a broken invariant (abort): validate configured windows first.
std::unique_ptr<BlockDevice> MakePartition(BlockDevice& parent, std::string name,
                                           std::uint64_t offset, std::uint64_t length);

// A regular file or a block device opened read-write (O_RDWR | O_CLOEXEC). For block devices the
// size comes from BLKGETSIZE64 and Sync() adds BLKFLSBUF. kNotFound / base::Errc::kIo.
Result<std::unique_ptr<BlockDevice>> OpenFileDevice(const std::string& path,
                                                    bool read_only = false);
// Creates (or truncates) a regular file of the given size filled with fill_byte.
Result<std::unique_ptr<BlockDevice>> CreateFileDevice(const std::string& path, std::uint64_t size,
                                                      std::uint8_t fill_byte = 0);

// Sequential writer onto a device region starting at `offset` (aligned to erase_size()): erases
// each erase block just before it first programs into it (flash), buffers to program_size(),
// pads the final partial unit with 0xff on Finish(). Never writes outside [offset, limit).
class DeviceWriter final : public ByteSink {
 public:
  DeviceWriter(BlockDevice& dev, std::uint64_t offset, std::uint64_t limit);
  Status Write(ByteView data) override;
  // Flushes the buffered tail (padded) and Sync()s the device.
  Status Finish();
  // Bytes accepted so far (offset of the next byte, relative to the start offset).
  std::uint64_t written() const { return written_; }

 private:
  Status Flush(bool final);
  Status ProgramAt(std::uint64_t offset, ByteView data);
  Status CheckRegion() const;
  BlockDevice& dev_;
  std::uint64_t start_;
  std::uint64_t limit_;
  std::uint64_t written_ = 0;
  std::uint64_t erased_until_;  // absolute: device bytes below this are erased for this write
  Bytes buf_;
  std::size_t chunk_;  // bytes programmed per call: ~1 MiB, a multiple of program_size()
  bool finished_ = false;
  bool failed_ = false;  // after an error the device state is unknown: refuse to continue
};

// A RandomAccessSource view of [offset, offset+length) of a device (to hash a slot, or to read an
// old image as a delta source).
std::unique_ptr<RandomAccessSource> MakeDeviceReader(BlockDevice& dev, std::uint64_t offset,
                                                     std::uint64_t length);

}  // namespace uplift::storage

UPLIFT_ERROR_DOMAIN(uplift::storage::Errc, "storage")
