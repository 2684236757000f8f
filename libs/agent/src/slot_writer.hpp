// Writing an image into a slot with durable restart points (internal to the agent).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "uplift/base/io.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/storage/device.hpp"

namespace uplift::agent::internal {

// A DeviceWriter from `start` to the end of the slot that can be made durable at aligned
// positions: Checkpoint() flushes and syncs everything up to pos() and continues with a fresh
// writer. With `every` > 0 it checkpoints by itself at each multiple of `every` and then calls
// on_checkpoint(pos) (which journals the progress).
class SlotWriter final : public ByteSink {
 public:
  SlotWriter(storage::BlockDevice& dev, std::uint64_t start, std::uint64_t every = 0,
             std::function<Status(std::uint64_t)> on_checkpoint = {});
  Status Write(ByteView data) override;
  // False (nothing done) if pos() is not aligned to the device's erase and program units.
  Result<bool> Checkpoint();
  Status Finish();
  std::uint64_t pos() const { return pos_; }

 private:
  storage::BlockDevice& dev_;
  std::uint64_t pos_;
  std::uint64_t every_;
  std::function<Status(std::uint64_t)> on_checkpoint_;
  std::unique_ptr<storage::DeviceWriter> writer_;
};

// Drops the first `skip` bytes (already durable from before a power cut), forwards the rest.
class SkipSink final : public ByteSink {
 public:
  SkipSink(std::uint64_t skip, ByteSink& next) : skip_(skip), next_(next) {}
  Status Write(ByteView data) override;

 private:
  std::uint64_t skip_;
  ByteSink& next_;
};

// SHA-256 of the first `size` bytes of a device (the read-back check).
Result<crypto::Sha256Digest> HashDevice(storage::BlockDevice& dev, std::uint64_t size);

}  // namespace uplift::agent::internal
