// The boot module reports environment codec errors under its own codes (the agent's exit codes).
#pragma once

#include "uplift/base/result.hpp"
#include "uplift/boot/boot_control.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::boot {

inline Error ToBootError(Error&& e) {
  if (e.Is(format::Errc::kEnvCorrupt)) return Error(Errc::kEnvCorrupt, e.message());
  if (e.Is(format::Errc::kEnvTooLarge)) return Error(Errc::kEnvTooLarge, e.message());
  if (e.Is(format::Errc::kEnvBadVariable)) return Error(Errc::kBadVariable, e.message());
  return std::move(e);
}

}  // namespace uplift::boot
