// A simulated NOR-like flash for tests and the fleet simulator, with a power-cut injector.
//
// Geometry: size, erase block size, program page size (all powers of two). Erase sets a block to
// 0xff; Program clears bits only (old & data must equal data, else kNotErased). Every mutating
// unit of work is one numbered operation: erasing one block, programming one page, and (in
// write-back mode) one Sync(). A FaultPlan cuts power when operation number `cut_at` (1-based) is
// reached: that operation is either not applied or, with `tear`, half applied (the first half of
// the page programmed / of the block erased); from then on every call fails with
// storage::Errc::kPowerLost until PowerCycle(). In write-back mode, operations are applied to a
// volatile cache and only Sync() makes them durable; a power cut drops the cache. A torn Sync()
// makes the lower half (by address) of the cached erase blocks durable: a cache flush is not
// atomic either. Reads have no alignment; a refused call (bounds, alignment, kNotErased) changes
// nothing and counts no operation.
#pragma once

#include <cstdint>
#include <memory>

#include "uplift/storage/device.hpp"

namespace uplift::storage {

struct FlashGeometry {
  std::uint64_t size = 1 << 20;
  std::uint32_t erase_size = 4096;
  std::uint32_t page_size = 256;
};

struct FaultPlan {
  std::uint64_t cut_at = 0;  // 0 = never
  bool tear = false;
  bool write_back = false;
};

class SimFlash final : public BlockDevice {
 public:
  explicit SimFlash(FlashGeometry geometry, std::string name = "simflash");
  ~SimFlash() override;
  std::string name() const override;
  std::uint64_t size() const override;
  std::uint32_t erase_size() const override;
  std::uint32_t program_size() const override;
  bool needs_erase() const override { return true; }
  Status Read(std::uint64_t offset, MutableByteView out) override;
  Status Erase(std::uint64_t offset, std::uint64_t length) override;
  Status Program(std::uint64_t offset, ByteView data) override;
  Status Sync() override;

  // Resets nothing else; switching write-back off makes the cached data durable.
  void SetFaultPlan(FaultPlan plan);
  std::uint64_t operations() const;  // mutating operations counted since construction/reset
  void ResetOperationCount();
  bool power_lost() const;
  // Restores power: drops the volatile cache (write-back), clears the fault plan.
  void PowerCycle();
  // Test backdoor: raw durable contents (no operation counted), e.g. to load a factory image.
  ByteView durable() const;
  void LoadDurable(std::uint64_t offset, ByteView data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uplift::storage
