// uplift key gen | id
#include <memory>

#include "cli.hpp"

namespace uplift::cli {
namespace {

struct KeyGenArgs {
  std::string algo = "ed25519";
  std::string out;
  std::string passphrase_file;
  bool force = false;
  bool json = false;
};

Status KeyGen(const KeyGenArgs& a) {
  const auto algo = crypto::ParseAlgorithmName(a.algo);
  if (!algo) return Error(base::Errc::kInvalidArgument, "unknown algorithm " + a.algo);
  const std::string key_path = a.out + ".key";
  const std::string pub_path = a.out + ".pub";
  UPLIFT_TRY(RefuseOverwrite(key_path, a.force));
  UPLIFT_TRY(RefuseOverwrite(pub_path, a.force));
  UPLIFT_ASSIGN(const auto passphrase, Passphrase(a.passphrase_file));
  UPLIFT_ASSIGN(const crypto::PrivateKey key, crypto::PrivateKey::Generate(*algo));
  UPLIFT_ASSIGN(const std::string pem, key.ToPem(passphrase));
  UPLIFT_TRY(WriteFileAtomic(key_path, AsBytes(pem), 0600));
  const crypto::PublicKey pub = key.Public();
  UPLIFT_TRY(WriteFileAtomic(pub_path, AsBytes(pub.ToPem()), 0644));
  if (a.json) {
    PrintJson({{"ok", true},
               {"key_id", pub.id()},
               {"algorithm", crypto::AlgorithmName(*algo)},
               {"private_key", key_path},
               {"public_key", pub_path},
               {"encrypted", passphrase.has_value()}});
  } else {
    std::printf("%s\n", pub.id().c_str());
    std::fprintf(stderr, "wrote %s (private, mode 0600%s) and %s\n", key_path.c_str(),
                 passphrase ? ", encrypted" : "", pub_path.c_str());
  }
  return Ok();
}

}  // namespace

void RegisterKeyCommands(CLI::App& app, Context& ctx) {
  auto* key = app.add_subcommand("key", "Generate signing keys and show key ids");
  key->require_subcommand(1);

  auto gen_args = std::make_shared<KeyGenArgs>();
  auto* gen =
      key->add_subcommand("gen", "Generate a key pair: NAME.key (PKCS#8, 0600) and NAME.pub");
  gen->add_option("--algo", gen_args->algo, "ed25519 | ecdsa-p256 | ecdsa-p384")
      ->check(CLI::IsMember({"ed25519", "ecdsa-p256", "ecdsa-p384"}))
      ->capture_default_str();
  gen->add_option("--out", gen_args->out, "Output name (without extension)")->required();
  gen->add_option("--passphrase-file", gen_args->passphrase_file,
                  "Encrypt the private key with the first line of this file "
                  "(or set UPLIFT_KEY_PASSPHRASE)");
  gen->add_flag("--force", gen_args->force, "Overwrite existing files");
  gen->add_flag("--json", gen_args->json, "Machine-readable output");
  OnParsed(gen, ctx, gen_args, [](const auto& args) { return KeyGen(args); });

  auto id_path = std::make_shared<std::string>();
  auto id_json = std::make_shared<bool>(false);
  auto* id = key->add_subcommand("id", "Print the key id (SHA-256 of the SPKI) of a key file");
  id->add_option("KEY", *id_path, "Public (or private) key PEM")->required();
  id->add_flag("--json", *id_json, "Machine-readable output");
  id->callback([&ctx, id_path, id_json] {
    ctx.json = *id_json;
    ctx.action = [id_path, id_json]() -> Status {
      UPLIFT_ASSIGN(const crypto::PublicKey pub, LoadPublicKey(*id_path));
      if (*id_json) {
        PrintJson({{"ok", true},
                   {"key_id", pub.id()},
                   {"algorithm", crypto::AlgorithmName(pub.algorithm())}});
      } else {
        std::printf("%s\n", pub.id().c_str());
      }
      return Ok();
    };
  });
}

}  // namespace uplift::cli
