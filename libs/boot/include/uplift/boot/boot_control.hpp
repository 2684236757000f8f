// Boot control: how the agent tells the bootloader which A/B slot to boot and whether that boot
// is a trial. One interface, several backends: the U-Boot environment (fw_printenv-compatible,
// single or redundant copies), the GRUB environment block (grub-editenv-compatible), and later
// the MCUboot image trailer. The variable convention follows U-Boot's bootcount feature as
// Mender uses it:
//   boot_part          slot the bootloader boots ("A" or "B"; names configurable)
//   upgrade_available  "1" while boot_part is on trial: U-Boot increments bootcount on every
//                      boot and, once bootcount > bootlimit, runs altbootcmd (switch boot_part to
//                      the other slot, upgrade_available=0): the automatic rollback
//   bootcount, bootlimit
// Which slot actually booted is not the environment's business (a trial may have been abandoned
// by the bootloader): the agent learns it from the kernel command line or the simulator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "uplift/base/result.hpp"

namespace uplift::boot {

enum class Slot : std::uint8_t { kA = 0, kB = 1 };
constexpr Slot Other(Slot s) { return s == Slot::kA ? Slot::kB : Slot::kA; }
constexpr char SlotLetter(Slot s) { return s == Slot::kA ? 'A' : 'B'; }
// "A"/"a"/"0" -> kA, "B"/"b"/"1" -> kB; anything else base::Errc::kInvalidArgument.
Result<Slot> ParseSlot(std::string_view text);

// Error codes of the boot module; numbers are `uplift-agent` exit codes (docs/cli.md).
enum class Errc : int {
  kEnvCorrupt = 60,   // no valid environment copy (bad CRC, bad header, unparsable)
  kEnvTooLarge = 61,  // the variables do not fit the environment size
  kBadVariable = 62,  // a name or value the environment cannot hold ('=' in a name, NUL, ...)
  kBricked = 63,      // simulated bootloader: no slot is bootable
  kBadState = 64,     // boot variables hold values outside the convention (boot_part=C)
};

struct BootState {
  Slot boot_part = Slot::kA;
  bool upgrade_available = false;  // trial pending/in progress on boot_part
  std::uint32_t bootcount = 0;
  std::uint32_t bootlimit = 0;
};

class BootControl {
 public:
  virtual ~BootControl() = default;
  virtual std::string name() const = 0;  // "uboot", "grub", ...
  // Reads the variables. A missing environment or missing variables read as the defaults of a
  // factory device (boot_part=A, no trial); a corrupt one is kEnvCorrupt.
  virtual Result<BootState> Read() = 0;
  // Next boot(s) go to `slot` on trial: boot_part=slot, upgrade_available=1, bootcount=0, in one
  // atomic environment write (redundant copies make it atomic on raw flash).
  virtual Status ArmTrial(Slot slot) = 0;
  // `slot` is the good one from now on: boot_part=slot, upgrade_available=0, bootcount=0. Used
  // to commit, to roll back (with the old slot), and on every healthy boot. Skips the write if
  // the environment already says exactly that (no flash wear on every boot).
  virtual Status MarkGood(Slot slot) = 0;
};

}  // namespace uplift::boot

UPLIFT_ERROR_DOMAIN(uplift::boot::Errc, "boot")
