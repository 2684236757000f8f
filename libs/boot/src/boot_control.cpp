#include "uplift/boot/boot_control.hpp"

#include "uplift/base/errors.hpp"

namespace uplift::boot {

Result<Slot> ParseSlot(std::string_view text) {
  if (text == "A" || text == "a" || text == "0") return Slot::kA;
  if (text == "B" || text == "b" || text == "1") return Slot::kB;
  return Error(base::Errc::kInvalidArgument,
               "slot '" + std::string(text.substr(0, 32)) + "': expected A or B");
}

}  // namespace uplift::boot
