#include "uplift/boot/grub_env_store.hpp"

#include "env_errors.hpp"
#include "uplift/base/io.hpp"
#include "uplift/format/grub_env.hpp"

namespace uplift::boot {

Result<EnvVars> GrubEnvStore::Load() {
  auto bytes = ReadFile(path_, format::kGrubEnvMaxSize);
  if (!bytes.ok()) {
    if (bytes.error().Is(base::Errc::kNotFound)) return EnvVars{};
    if (bytes.error().Is(base::Errc::kTooLarge)) {
      return Error(Errc::kEnvCorrupt, path_ + ": " + bytes.error().message());
    }
    return std::move(bytes).error();
  }
  auto vars = format::ParseGrubEnv(*bytes);
  if (!vars.ok()) return ToBootError(std::move(vars).error().Context(path_));
  return std::move(vars).value();
}

Status GrubEnvStore::Save(const EnvVars& vars) {
  auto block = format::SerializeGrubEnv(vars);
  if (!block.ok()) return ToBootError(std::move(block).error().Context(path_));
  return WriteFileAtomic(path_, *block);
}

}  // namespace uplift::boot
