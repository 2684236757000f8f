// uplift trust init | add | revoke | show
#include <algorithm>
#include <cctype>
#include <memory>

#include "cli.hpp"

namespace uplift::cli {
namespace {

struct TrustArgs {
  std::string file;
  std::vector<std::string> keys;  // public key files (add) or key ids / files (revoke)
  std::string role = std::string(format::kReleaseRole);
  std::uint32_t threshold = 0;  // 0: leave as is
  bool force = false;
  bool json = false;
};

nlohmann::json Describe(const format::TrustStore& ts) {
  nlohmann::json roles = nlohmann::json::object();
  for (const auto& [role, threshold] : ts.thresholds()) {
    std::size_t n = 0;
    for (const auto& k : ts.keys()) n += k.role == role && !ts.IsRevoked(k.key.id());
    roles[role] = {{"threshold", threshold}, {"keys", n}};
  }
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : ts.keys()) {
    keys.push_back({{"id", k.key.id()},
                    {"role", k.role},
                    {"algorithm", crypto::AlgorithmName(k.key.algorithm())},
                    {"revoked", ts.IsRevoked(k.key.id())}});
  }
  return {{"ok", true}, {"roles", roles}, {"keys", keys}, {"revoked", ts.revoked()}};
}

void Report(const TrustArgs& a, const format::TrustStore& ts, const std::string& what) {
  if (a.json) {
    PrintJson(Describe(ts));
  } else {
    std::fprintf(stderr, "%s: %s\n", a.file.c_str(), what.c_str());
  }
  // Legal while a store is being built up, but worth saying: nothing can meet it yet.
  for (const auto& [role, threshold] : ts.thresholds()) {
    std::size_t n = 0;
    for (const auto& k : ts.keys()) n += k.role == role && !ts.IsRevoked(k.key.id());
    if (n < threshold) {
      std::fprintf(stderr,
                   "uplift: warning: role %s needs %u signature(s) but has %zu usable key(s)\n",
                   role.c_str(), threshold, n);
    }
  }
}

Status Init(const TrustArgs& a) {
  UPLIFT_TRY(RefuseOverwrite(a.file, a.force));
  format::TrustStore ts;
  UPLIFT_TRY(ts.SetThreshold(a.role, a.threshold ? a.threshold : 1));
  for (const auto& path : a.keys) {
    UPLIFT_ASSIGN(const crypto::PublicKey key, LoadPublicKey(path));
    UPLIFT_TRY(ts.AddKey(key, a.role));
  }
  UPLIFT_TRY(SaveTrustStore(a.file, ts));
  Report(
      a, ts,
      "created with role " + a.role + " (threshold " + std::to_string(ts.Threshold(a.role)) + ")");
  return Ok();
}

Status Add(const TrustArgs& a) {
  UPLIFT_ASSIGN(format::TrustStore ts, LoadTrustStore(a.file));
  for (const auto& path : a.keys) {
    UPLIFT_ASSIGN(const crypto::PublicKey key, LoadPublicKey(path));
    if (ts.IsRevoked(key.id())) {
      return Error(format::Errc::kBadTrustStore, "key " + key.id() + " is revoked");
    }
    UPLIFT_TRY(ts.AddKey(key, a.role));
  }
  if (a.threshold) UPLIFT_TRY(ts.SetThreshold(a.role, a.threshold));
  UPLIFT_TRY(SaveTrustStore(a.file, ts));
  Report(a, ts, "role " + a.role + " now has threshold " + std::to_string(ts.Threshold(a.role)));
  return Ok();
}

Status Revoke(const TrustArgs& a) {
  UPLIFT_ASSIGN(format::TrustStore ts, LoadTrustStore(a.file));
  for (const auto& k : a.keys) {
    std::string id = k;
    std::transform(id.begin(), id.end(), id.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!FromHex(k) || k.size() != 64) {  // not a key id: a key file
      UPLIFT_ASSIGN(const crypto::PublicKey key, LoadPublicKey(k));
      id = key.id();
    }
    UPLIFT_TRY(ts.Revoke(id));
  }
  UPLIFT_TRY(SaveTrustStore(a.file, ts));
  Report(a, ts, "revoked " + std::to_string(a.keys.size()) + " key(s)");
  return Ok();
}

Status Show(const TrustArgs& a) {
  UPLIFT_ASSIGN(const format::TrustStore ts, LoadTrustStore(a.file));
  const auto d = Describe(ts);
  if (a.json) {
    PrintJson(d);
    return Ok();
  }
  for (const auto& [role, r] : d["roles"].items()) {
    std::printf("role %s: threshold %d of %d key(s)\n", role.c_str(), r["threshold"].get<int>(),
                r["keys"].get<int>());
  }
  for (const auto& k : d["keys"]) {
    std::printf("  %s %-10s %-8s%s\n", k["id"].get<std::string>().c_str(),
                k["algorithm"].get<std::string>().c_str(), k["role"].get<std::string>().c_str(),
                k["revoked"].get<bool>() ? " REVOKED" : "");
  }
  return Ok();
}

}  // namespace

void RegisterTrustCommands(CLI::App& app, Context& ctx) {
  auto* trust =
      app.add_subcommand("trust", "Build a trust store: keys, roles, thresholds, revocations");
  trust->require_subcommand(1);
  struct Spec {
    const char* name;
    const char* help;
    Status (*run)(const TrustArgs&);
  };
  for (const Spec& s : {Spec{"init", "Create a trust store (optionally with keys)", Init},
                        Spec{"add", "Add public keys to a role", Add},
                        Spec{"revoke", "Revoke keys (by id or key file); permanent", Revoke},
                        Spec{"show", "List roles, keys and revocations", Show}}) {
    auto args = std::make_shared<TrustArgs>();
    auto* sub = trust->add_subcommand(s.name, s.help);
    sub->add_option("FILE", args->file, "Trust store file")->required();
    const std::string name = s.name;
    if (name == "add" || name == "revoke") {
      sub->add_option("KEYS", args->keys,
                      name == "add" ? "Public key files" : "Key ids or key files")
          ->required();
    } else if (name == "init") {
      sub->add_option("--key", args->keys, "Public key files to add");
      sub->add_flag("--force", args->force, "Overwrite an existing file");
    }
    if (name != "revoke" && name != "show") {
      sub->add_option("--role", args->role, "Role of the keys")->capture_default_str();
      sub->add_option("--threshold", args->threshold, "Signatures required for the role (k of n)")
          ->check(CLI::Range(1, 256));
    }
    sub->add_flag("--json", args->json, "Machine-readable output");
    auto run = s.run;
    OnParsed(sub, ctx, args, [run](const TrustArgs& a) { return run(a); });
  }
}

}  // namespace uplift::cli
