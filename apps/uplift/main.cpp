// uplift: the operator's CLI. Thin: parsing and output here, all logic in libs/.
#include <cstdio>
#include <string_view>

#include "cli.hpp"

#ifndef UPLIFT_VERSION
#define UPLIFT_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace uplift::cli;  // NOLINT(google-build-using-namespace)
  CLI::App app{
      "uplift: keys, trust stores, signed update bundles and binary deltas for device fleets.\n"
      "Exit codes are listed in docs/cli.md.",
      "uplift"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(UPLIFT_VERSION));
  Context ctx;
  RegisterKeyCommands(app, ctx);
  RegisterTrustCommands(app, ctx);
  RegisterBundleCommands(app, ctx);
  RegisterDeltaCommands(app, ctx);
  RegisterFetchCommand(app, ctx);
  RegisterServerCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "uplift: error: %s (see --help)\n", e.what());
    // Subcommand callbacks never ran, so look for --json on the command line itself.
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--json") {
        PrintJson({{"ok", false},
                   {"error",
                    {{"exit_code", kExitUsage},
                     {"domain", "usage"},
                     {"code", kExitUsage},
                     {"message", e.what()}}}});
        break;
      }
    }
    return kExitUsage;
  }
  if (!ctx.action) return kExitUsage;
  const uplift::Status st = ctx.action();
  if (st.ok()) return kExitOk;
  const int code = ExitCodeFor(st.error());
  std::fprintf(stderr, "uplift: error: %s\n", st.error().message().c_str());
  if (ctx.json) {
    PrintJson({{"ok", false},
               {"error",
                {{"exit_code", code},
                 {"domain", std::string(st.error().domain())},
                 {"code", st.error().code()},
                 {"message", st.error().message()}}}});
  }
  return code;
}
