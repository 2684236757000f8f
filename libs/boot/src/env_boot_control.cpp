#include "uplift/boot/env_boot_control.hpp"

#include <optional>

namespace uplift::boot {
namespace {

std::optional<std::uint32_t> ParseU32(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

const std::string* Find(const EnvVars& vars, const std::string& name) {
  const auto it = vars.find(name);
  return it == vars.end() ? nullptr : &it->second;
}

Error BadState(const std::string& name, const std::string& value, std::string_view expected) {
  return Error(Errc::kBadState, "boot variable " + name + "='" + value.substr(0, 32) +
                                    "': expected " + std::string(expected));
}

}  // namespace

const std::string& SlotValue(Slot slot, const BootVariables& names) {
  return names.slot_values[slot == Slot::kA ? 0 : 1];
}

Result<BootState> ParseBootState(const EnvVars& vars, const BootVariables& names) {
  BootState state;
  state.bootlimit = names.default_bootlimit;
  if (const auto* part = Find(vars, names.boot_part)) {
    if (*part == names.slot_values[0]) {
      state.boot_part = Slot::kA;
    } else if (*part == names.slot_values[1]) {
      state.boot_part = Slot::kB;
    } else {
      return BadState(names.boot_part, *part,
                      "'" + names.slot_values[0] + "' or '" + names.slot_values[1] + "'");
    }
  }
  if (const auto* trial = Find(vars, names.upgrade_available)) {
    if (*trial == "1") {
      state.upgrade_available = true;
    } else if (!trial->empty() && *trial != "0") {
      return BadState(names.upgrade_available, *trial, "0 or 1");
    }
  }
  if (const auto* count = Find(vars, names.bootcount)) {
    const auto v = ParseU32(*count);
    if (!v) return BadState(names.bootcount, *count, "a decimal number");
    state.bootcount = *v;
  }
  if (const auto* limit = Find(vars, names.bootlimit)) {
    const auto v = ParseU32(*limit);
    if (!v) return BadState(names.bootlimit, *limit, "a decimal number");
    state.bootlimit = *v;
  }
  return state;
}

EnvBootControl::EnvBootControl(EnvStore& store, BootVariables names, EnvVars factory_env)
    : store_(store), names_(std::move(names)), factory_env_(std::move(factory_env)) {}

Result<BootState> EnvBootControl::Read() {
  UPLIFT_ASSIGN(const EnvVars vars, store_.Load());
  return ParseBootState(vars, names_);
}

Result<EnvVars> EnvBootControl::LoadForUpdate() {
  UPLIFT_ASSIGN(EnvVars vars, store_.Load());
  if (vars.empty()) return factory_env_;
  return vars;
}

Status EnvBootControl::ArmTrial(Slot slot) {
  UPLIFT_ASSIGN(EnvVars vars, LoadForUpdate());
  vars[names_.boot_part] = SlotValue(slot, names_);
  vars[names_.upgrade_available] = "1";
  vars[names_.bootcount] = "0";
  if (!vars.contains(names_.bootlimit)) {
    vars[names_.bootlimit] = std::to_string(names_.default_bootlimit);
  }
  UPLIFT_TRY(store_.Save(vars));
  ++writes_;
  return Ok();
}

Status EnvBootControl::MarkGood(Slot slot) {
  UPLIFT_ASSIGN(EnvVars vars, LoadForUpdate());
  const auto is = [&](const std::string& name, const std::string& value) {
    const auto* v = Find(vars, name);
    return v != nullptr && *v == value;
  };
  if (is(names_.boot_part, SlotValue(slot, names_)) && is(names_.upgrade_available, "0") &&
      is(names_.bootcount, "0")) {
    return Ok();
  }
  vars[names_.boot_part] = SlotValue(slot, names_);
  vars[names_.upgrade_available] = "0";
  vars[names_.bootcount] = "0";
  UPLIFT_TRY(store_.Save(vars));
  ++writes_;
  return Ok();
}

}  // namespace uplift::boot
