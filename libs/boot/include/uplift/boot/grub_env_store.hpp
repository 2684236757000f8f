// The GRUB environment block (grubenv) as an EnvStore: one file of 1024 bytes, compatible with
// grub-editenv and GRUB's load_env/save_env; layout: docs/formats/grub-env.md.
#pragma once

#include <string>

#include "uplift/boot/env_store.hpp"

namespace uplift::boot {

class GrubEnvStore final : public EnvStore {
 public:
  explicit GrubEnvStore(std::string path) : path_(std::move(path)) {}
  std::string name() const override { return "grub"; }
  // A missing file loads as no variables; a file that is not an environment block (or is larger
  // than format::kGrubEnvMaxSize) is kEnvCorrupt; read errors are base::Errc::kIo.
  Result<EnvVars> Load() override;
  // Writes a fresh 1024-byte block (variables sorted by name) to a temporary file beside the
  // target, fsyncs it and renames it over the target: the old block or the new one, never half.
  Status Save(const EnvVars& vars) override;

 private:
  std::string path_;
};

}  // namespace uplift::boot
