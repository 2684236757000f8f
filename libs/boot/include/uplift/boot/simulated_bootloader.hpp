// A bootloader that follows U-Boot's bootcount rules (CONFIG_BOOTCOUNT_LIMIT with the counter in
// the environment) over any EnvStore, so trial boots, automatic rollback and power cuts while
// the bootloader saves its environment can be tested on a host. One call to Boot() is one
// power-on, and runs until a kernel starts:
//
//   1. load the environment; no valid copy (or no variables): use options.default_env, as U-Boot
//      uses its built-in environment
//   2. if upgrade_available=1: bootcount += 1, saveenv
//   3. if upgrade_available=1 and bootlimit != 0 and bootcount > bootlimit: altbootcmd:
//      boot_part = the other slot, upgrade_available=0, saveenv. bootcount keeps its value, as
//      U-Boot leaves it (the agent's MarkGood resets it); it no longer counts once
//      upgrade_available=0. A missing bootlimit is names.default_bootlimit (real U-Boot: none).
//   4. bootcmd: if slot_boots(boot_part), that kernel runs: return the slot. Otherwise the kernel
//      fails, the watchdog resets the board (resets() += 1) and the flow restarts at 1.
//
// More than options.max_resets resets in one Boot() is boot::Errc::kBricked (a real board would
// loop forever). A failed saveenv (storage::Errc::kPowerLost in a power-cut sweep) is returned as
// is: the board lost power inside the bootloader. A boot_part that is neither slot value is
// boot::Errc::kBadState (the real bootcmd would find no kernel).
#pragma once

#include <cstdint>
#include <functional>

#include "uplift/boot/boot_control.hpp"
#include "uplift/boot/env_boot_control.hpp"
#include "uplift/boot/env_store.hpp"

namespace uplift::boot {

struct SimulatedBootloaderOptions {
  BootVariables names;
  EnvVars default_env;
  std::uint32_t max_resets = 64;
};

class SimulatedBootloader {
 public:
  // Borrows `store`. `slot_boots` says whether a slot holds a kernel that starts (the test
  // decides, e.g. by the hash of the slot's image).
  SimulatedBootloader(EnvStore& store, std::function<bool(Slot)> slot_boots,
                      SimulatedBootloaderOptions options = {});

  // One power-on; the slot whose kernel started. Errors as described above.
  Result<Slot> Boot();

  std::uint64_t resets() const { return resets_; }        // watchdog resets, all Boot() calls
  std::uint64_t fallbacks() const { return fallbacks_; }  // altbootcmd runs
  std::uint64_t env_writes() const { return env_writes_; }

 private:
  EnvStore& store_;
  std::function<bool(Slot)> slot_boots_;
  SimulatedBootloaderOptions options_;
  std::uint64_t resets_ = 0;
  std::uint64_t fallbacks_ = 0;
  std::uint64_t env_writes_ = 0;
};

}  // namespace uplift::boot
