// Fuzzes the GRUB environment block codec. Whatever parses must serialise (into a block large
// enough for the warning line grub-editenv adds) and parse back to the same variables.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/errors.hpp"
#include "uplift/format/grub_env.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace f = uplift::format;
  const uplift::ByteView block(data, size);
  const auto vars = f::ParseGrubEnv(block);
  if (!vars.ok()) return 0;
  const std::size_t out_size =
      std::min(f::kGrubEnvMaxSize, std::max(f::kGrubEnvSize, size + f::kGrubEnvWarning.size()));
  const auto again = f::SerializeGrubEnv(*vars, out_size);
  if (!again.ok()) {
    // Only a block already near the bound can outgrow it by the warning line.
    if (again.error().Is(f::Errc::kEnvTooLarge) && out_size == f::kGrubEnvMaxSize) return 0;
    std::abort();
  }
  if (again->size() != out_size) std::abort();
  const auto reparsed = f::ParseGrubEnv(*again);
  if (!reparsed.ok() || *reparsed != *vars) std::abort();
  return 0;
}
