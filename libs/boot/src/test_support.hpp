// Test double shared by the boot unit tests: an EnvStore in memory that counts saves and can be
// made to report a corrupt environment or fail the next saves.
#pragma once

#include "uplift/boot/boot_control.hpp"
#include "uplift/boot/env_store.hpp"

namespace uplift::boot::test_support {

class MemoryEnvStore final : public EnvStore {
 public:
  std::string name() const override { return "memory"; }
  Result<EnvVars> Load() override {
    if (corrupt) return Error(Errc::kEnvCorrupt, "memory: corrupt");
    return vars;
  }
  Status Save(const EnvVars& v) override {
    if (fail_saves > 0) {
      --fail_saves;
      return Error(Errc::kEnvTooLarge, "memory: save refused by the test");
    }
    ++saves;
    vars = v;
    corrupt = false;
    return Ok();
  }
  EnvVars vars;
  bool corrupt = false;
  int fail_saves = 0;
  int saves = 0;
};

}  // namespace uplift::boot::test_support
