// The U-Boot environment as an EnvStore, on one copy (single layout) or two copies (redundant
// layout, which makes every Save atomic), on any storage::BlockDevice or on the files/devices an
// fw_env.config names. Compatible with U-Boot's saveenv and libubootenv's fw_printenv/fw_setenv;
// layout: docs/formats/uboot-env.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "uplift/boot/env_store.hpp"
#include "uplift/storage/device.hpp"

namespace uplift::boot {

// One environment copy: `size` bytes at `offset` of a borrowed device. On flash (needs_erase)
// the copy owns the erase blocks it touches: offset aligned to the erase size, and nothing else
// may live in [offset, offset + size rounded up to the erase size).
struct UbootEnvRegion {
  storage::BlockDevice* device = nullptr;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

class UbootEnvStore final : public EnvStore {
 public:
  // One region: single copy; two regions: redundant copies (equal sizes, no shared erase block).
  // base::Errc::kInvalidArgument for a region outside its device, misaligned for it, or sizes
  // outside [header + 1, format::kUbootEnvMaxSize]; the devices must outlive the store.
  static Result<std::unique_ptr<UbootEnvStore>> Create(std::vector<UbootEnvRegion> regions);
  // Same, and the store keeps `owned` (the devices the regions point into) alive.
  static Result<std::unique_ptr<UbootEnvStore>> Create(
      std::vector<UbootEnvRegion> regions,
      std::vector<std::unique_ptr<storage::BlockDevice>> owned);

  std::string name() const override { return "uboot"; }
  // Single: the copy; kEnvCorrupt on a bad CRC unless the copy is blank (all 0xff or all 0x00),
  // which loads as no variables. Redundant: the copy U-Boot would use (format::SelectUbootEnvCopy);
  // no variables if both copies are blank, kEnvCorrupt if neither is valid otherwise.
  Result<EnvVars> Load() override;
  // Single: erase (flash) + program + sync the one copy; a power cut in between loses the
  // environment. Redundant: writes the copy not in use with flags = in-use flags + 1 (mod 256),
  // so the old copy stays valid until the new one is complete. Padding is 0x00, as U-Boot's
  // saveenv writes it.
  Status Save(const EnvVars& vars) override;

  bool redundant() const { return regions_.size() == 2; }
  std::uint64_t env_size() const { return regions_.front().size; }

 private:
  UbootEnvStore(std::vector<UbootEnvRegion> regions,
                std::vector<std::unique_ptr<storage::BlockDevice>> owned)
      : regions_(std::move(regions)), owned_(std::move(owned)) {}
  Result<Bytes> ReadCopy(std::size_t index) const;
  Status WriteCopy(std::size_t index, ByteView image);

  std::vector<UbootEnvRegion> regions_;
  std::vector<std::unique_ptr<storage::BlockDevice>> owned_;
};

// One line of an fw_env.config: `<device or file> <offset> <env size> [<sector size> ...]`.
struct FwEnvConfigEntry {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t sector_size = 0;  // 0 if absent
};

// Parses fw_env.config text the way libubootenv does: '#' comment lines and blank lines are
// skipped; the offset is a C integer (0x hex, leading-0 octal, or decimal) while the sizes are
// always hexadecimal with an optional 0x ("4000" means 0x4000). One or two entries with equal
// sizes. base::Errc::kInvalidArgument (with the line number) for anything else; further fields
// after the sector size are ignored.
Result<std::vector<FwEnvConfigEntry>> ParseFwEnvConfig(std::string_view text);

// Opens the files or block devices the entries name (they must exist; one file at two offsets is
// opened once) and returns a store that owns them. Errors of storage::OpenFileDevice and Create.
Result<std::unique_ptr<UbootEnvStore>> OpenUbootEnvStore(
    const std::vector<FwEnvConfigEntry>& entries);

}  // namespace uplift::boot
