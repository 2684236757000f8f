// A bootloader environment as a whole: a set of name=value variables that is loaded and saved in
// one piece. Backends: U-Boot environment (uboot_env_store.hpp), GRUB environment block
// (grub_env_store.hpp). EnvBootControl and SimulatedBootloader speak to any of them.
#pragma once

#include <string>

#include "uplift/base/result.hpp"
#include "uplift/format/uboot_env.hpp"  // format::EnvVars

namespace uplift::boot {

using EnvVars = format::EnvVars;

class EnvStore {
 public:
  virtual ~EnvStore() = default;
  virtual std::string name() const = 0;
  // All variables. An environment that was never written (erased flash, a zero-filled file, a
  // missing GRUB block) loads as no variables. Fails with boot::Errc::kEnvCorrupt if no copy is
  // valid, or the device's error (storage::Errc, base::Errc::kIo).
  virtual Result<EnvVars> Load() = 0;
  // Replaces every variable, as atomically as the medium allows (redundant U-Boot copies and
  // the GRUB file's rename are atomic; a single U-Boot copy is not). Fails with
  // boot::Errc::kBadVariable or kEnvTooLarge before touching the medium, or the device's error.
  virtual Status Save(const EnvVars& vars) = 0;
};

}  // namespace uplift::boot
