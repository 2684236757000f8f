#include "uplift/boot/simulated_bootloader.hpp"

#include <cstdlib>

namespace uplift::boot {
namespace {

// U-Boot reads these with simple_strtoul: leading digits, anything else ends the number.
std::uint64_t LenientNumber(const EnvVars& vars, const std::string& name, std::uint64_t absent) {
  const auto it = vars.find(name);
  if (it == vars.end()) return absent;
  std::uint64_t v = 0;
  for (const char c : it->second) {
    if (c < '0' || c > '9' || v > UINT32_MAX) break;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

SimulatedBootloader::SimulatedBootloader(EnvStore& store, std::function<bool(Slot)> slot_boots,
                                         SimulatedBootloaderOptions options)
    : store_(store), slot_boots_(std::move(slot_boots)), options_(std::move(options)) {}

Result<Slot> SimulatedBootloader::Boot() {
  const BootVariables& n = options_.names;
  for (std::uint32_t failed = 0;; ++failed) {
    if (failed > options_.max_resets) {
      return Error(Errc::kBricked, "simulated bootloader: no kernel started in " +
                                       std::to_string(failed) + " boots in a row");
    }
    auto loaded = store_.Load();
    if (!loaded.ok() && !loaded.error().Is(Errc::kEnvCorrupt)) return std::move(loaded).error();
    EnvVars env =
        loaded.ok() && !loaded->empty() ? std::move(loaded).value() : options_.default_env;

    const bool upgrade = LenientNumber(env, n.upgrade_available, 0) != 0;
    std::uint64_t bootcount = 0;
    if (upgrade) {
      bootcount = LenientNumber(env, n.bootcount, 0) + 1;
      env[n.bootcount] = std::to_string(bootcount);
      UPLIFT_TRY(store_.Save(env));
      ++env_writes_;
    }
    const std::uint64_t bootlimit = LenientNumber(env, n.bootlimit, n.default_bootlimit);
    const auto part = env.find(n.boot_part);
    Slot slot = Slot::kA;
    if (part != env.end()) {
      if (part->second == n.slot_values[0]) {
        slot = Slot::kA;
      } else if (part->second == n.slot_values[1]) {
        slot = Slot::kB;
      } else {
        return Error(Errc::kBadState, "simulated bootloader: " + n.boot_part + "='" +
                                          part->second.substr(0, 32) + "' names no slot");
      }
    }
    if (upgrade && bootlimit != 0 && bootcount > bootlimit) {
      // altbootcmd
      slot = Other(slot);
      env[n.boot_part] = SlotValue(slot, n);
      env[n.upgrade_available] = "0";
      UPLIFT_TRY(store_.Save(env));
      ++env_writes_;
      ++fallbacks_;
    }
    if (slot_boots_(slot)) return slot;
    ++resets_;
  }
}

}  // namespace uplift::boot
