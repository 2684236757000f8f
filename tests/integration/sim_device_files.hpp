// The files of a simulated device for tests of the real uplift-agent binary: a trust store,
// two file slots, a redundant U-Boot environment in two files, a reboot command that only counts
// reboots (in `reboots`), and agent.toml naming them all.
#pragma once

#include <sys/stat.h>

#include <string>

#include "process.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift::testing {

struct SimDeviceFiles {
  std::string dir;
  const format::TrustStore* trust = nullptr;
  std::string slot_a_image;  // written at the start of slot A, zero-padded to slot_size
  std::size_t slot_size = 0;
  std::string boot_extra;  // more lines for the [boot] section
  std::string extra_toml;  // more sections, inserted before [reboot]

  std::string P(const std::string& name) const { return dir + "/" + name; }

  void Write() const {
    WriteAll(P("trust.json"), trust->Serialize());
    std::string slot_a = slot_a_image;
    slot_a.resize(slot_size, '\0');
    WriteAll(P("slot-a.img"), slot_a);
    WriteAll(P("slot-b.img"), std::string(slot_size, '\0'));
    WriteAll(P("env0.bin"), std::string(0x4000, '\0'));
    WriteAll(P("env1.bin"), std::string(0x4000, '\0'));
    WriteAll(P("fw_env.config"), P("env0.bin") + " 0x0 0x4000\n" + P("env1.bin") + " 0x0 0x4000\n");
    WriteAll(P("reboot.sh"), "#!/bin/sh\necho reboot >> " + P("reboots") + "\n");
    ::chmod(P("reboot.sh").c_str(), 0755);
    WriteAll(P("agent.toml"),
             "device_type = \"sim-board\"\n"
             "data_dir = \"" +
                 P("data") +
                 "\"\n"
                 "trust_store = \"" +
                 P("trust.json") +
                 "\"\n"
                 "checkpoint_mib = 1\n"
                 "[slots]\n"
                 "a = { path = \"" +
                 P("slot-a.img") +
                 "\" }\n"
                 "b = { path = \"" +
                 P("slot-b.img") +
                 "\" }\n"
                 "[boot]\n"
                 "backend = \"uboot\"\n"
                 "fw_env_config = \"" +
                 P("fw_env.config") + "\"\n" + boot_extra + extra_toml +
                 "[reboot]\n"
                 "command = [\"" +
                 P("reboot.sh") + "\"]\n");
  }
};

}  // namespace uplift::testing
