// BootControl over any bootloader environment (EnvStore): the U-Boot bootcount convention of
// boot_control.hpp, with configurable variable names and slot values (Mender's U-Boot
// integration, for instance, uses mender_boot_part with partition numbers "2"/"3").
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "uplift/boot/boot_control.hpp"
#include "uplift/boot/env_store.hpp"

namespace uplift::boot {

struct BootVariables {
  std::string boot_part = "boot_part";
  std::string upgrade_available = "upgrade_available";
  std::string bootcount = "bootcount";
  std::string bootlimit = "bootlimit";
  std::array<std::string, 2> slot_values = {"A", "B"};  // boot_part values of Slot::kA, kB
  std::uint32_t default_bootlimit = 3;                  // when the environment has no bootlimit
};

const std::string& SlotValue(Slot slot, const BootVariables& names);

// The BootState the variables describe. Missing variables read as a factory device's: boot_part
// slot A, no trial, bootcount 0, bootlimit names.default_bootlimit. boot::Errc::kBadState for a
// boot_part that is neither slot value, upgrade_available other than "0"/"1"/"", or a bootcount
// or bootlimit that is not a decimal number below 2^32.
Result<BootState> ParseBootState(const EnvVars& vars, const BootVariables& names);

class EnvBootControl final : public BootControl {
 public:
  // Borrows `store`, which must outlive this object. `factory_env` is the environment to start
  // from when the store holds no variables yet (U-Boot's default environment: bootcmd & co.);
  // without it the first write saves only the boot variables.
  explicit EnvBootControl(EnvStore& store, BootVariables names = {}, EnvVars factory_env = {});

  std::string name() const override { return store_.name(); }
  // Errors: the store's (kEnvCorrupt, device errors) and ParseBootState's kBadState.
  Result<BootState> Read() override;
  // Also writes bootlimit = names.default_bootlimit if the environment has none, so a real
  // U-Boot (where a missing bootlimit means no limit) falls back too. A corrupt environment is
  // kEnvCorrupt and is not overwritten (that would lose the bootloader's own variables).
  Status ArmTrial(Slot slot) override;
  // Skips the write when boot_part, upgrade_available and bootcount already read exactly
  // SlotValue(slot), "0", "0". kEnvCorrupt as for ArmTrial.
  Status MarkGood(Slot slot) override;

  // Environment writes this object made (tests check that a healthy boot does not write).
  std::uint64_t writes() const { return writes_; }

 private:
  Result<EnvVars> LoadForUpdate();
  EnvStore& store_;
  BootVariables names_;
  EnvVars factory_env_;
  std::uint64_t writes_ = 0;
};

}  // namespace uplift::boot
