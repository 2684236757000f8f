// Integration tests of the `uplift` CLI: the real binary runs as a child process in a fresh
// temporary directory. Interop checks run the stock `openssl` CLI, and the bundle bytes are
// parsed here by hand from the layout in libs/format/include/uplift/format/bundle.hpp, so these
// tests prove a third party can verify what `uplift` signs without our code.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "process.hpp"
#include "uplift/base/bytes.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/format/errors.hpp"

namespace uplift {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::Args;
using testing::Env;
using testing::ReadAll;
using testing::RunResult;
using testing::Slurp;
using testing::Spawn;
using testing::WriteAll;

Args operator+(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// CLI exit codes below the format range (apps/uplift/cli.hpp).
constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;
constexpr int kExitKey = 4;
constexpr int kExitExists = 6;

using format::Errc;
constexpr int Code(Errc e) { return static_cast<int>(e); }

RunResult Uplift(Args args, const Env& env = {}) {
  args.insert(args.begin(), UPLIFT_BIN);
  return Spawn(args, env);
}

RunResult Sh(const std::string& command) { return Spawn({"/bin/sh", "-c", command}); }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Json ParseJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) ADD_FAILURE() << "not JSON: " << text;
  return j;
}

// A failure: the documented exit code and exactly one newline-terminated line on stderr.
void ExpectFailure(const RunResult& r, int code) {
  EXPECT_EQ(r.exit_code, code) << "stderr: " << r.err;
  EXPECT_TRUE(r.err.starts_with("uplift: error: ")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.err.ends_with("\n")) << r.err;
}

// The same with --json: stdout is a JSON error body naming the exit code.
void ExpectJsonFailure(const RunResult& r, int code) {
  ExpectFailure(r, code);
  const Json j = ParseJson(r.out);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.out;
  EXPECT_EQ(j.value("ok", true), false);
  EXPECT_EQ(j["error"].value("exit_code", -1), code) << r.out;
}

void ExpectOk(const RunResult& r) { EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err; }

// The stdout of a command that must succeed.
std::string Out(const RunResult& r) {
  ExpectOk(r);
  return r.out;
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string Sha256Hex(const std::string& data) { return ToHex(crypto::Sha256::Of(AsBytes(data))); }

// Half pseudo-random, half repetitive: zstd has something to do, and each seed differs.
std::string Image(std::size_t size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    s[i] = i < size / 2 ? static_cast<char>(rng() & 0xff) : static_cast<char>('a' + i % 7);
  }
  return s;
}

// The bundle layout, decoded independently of libs/format: header (48 bytes; manifest length
// is the little-endian u32 at offset 16), manifest, then the signature block: u16 count, and per
// entry u8 algorithm, u8 reserved, u16 length, 32-byte key id, signature.
struct RawSignature {
  int algorithm = 0;
  std::string key_id;  // hex
  std::string signature;
};

std::size_t LoadLe(const std::string& b, std::size_t off, std::size_t n) {
  std::size_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b.at(off + i));
  return v;
}

std::pair<std::string, std::vector<RawSignature>> DecodeBundle(const std::string& b) {
  const std::size_t manifest_size = LoadLe(b, 16, 4);
  std::string manifest = b.substr(48, manifest_size);
  std::size_t pos = 48 + manifest_size;
  const std::size_t count = LoadLe(b, pos, 2);
  pos += 2;
  std::vector<RawSignature> sigs;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t len = LoadLe(b, pos + 2, 2);
    sigs.push_back({static_cast<unsigned char>(b.at(pos)), ToHex(AsBytes(b.substr(pos + 4, 32))),
                    b.substr(pos + 36, len)});
    pos += 36 + len;
  }
  return {manifest, sigs};
}

std::string SignedMessage(const std::string& manifest) {
  std::string m = "UPLIFT-BUNDLE-MANIFEST-V1";
  m.push_back('\0');
  return m + manifest;
}

// IEEE P1363 r||s to the DER that OpenSSL wants: SEQUENCE { INTEGER r, INTEGER s }.
std::string DerInteger(std::string v) {
  const std::size_t nz = std::min(v.find_first_not_of('\0'), v.size() - 1);
  v.erase(0, nz);
  if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(v.begin(), '\0');
  return std::string{'\x02', static_cast<char>(v.size())} + v;
}

std::string RawToDer(const std::string& raw) {
  const std::size_t half = raw.size() / 2;
  const std::string body = DerInteger(raw.substr(0, half)) + DerInteger(raw.substr(half));
  return std::string{'\x30', static_cast<char>(body.size())} + body;  // < 128 bytes for P-384
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplift-cli-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    old_cwd_ = fs::current_path();
    fs::current_path(dir_);
    old_umask_ = ::umask(022);
    WriteAll("rootfs.img", Image(200'000, 1));
  }

  void TearDown() override {
    ::umask(old_umask_);
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
  }

  // NAME.key / NAME.pub; returns the key id printed on stdout.
  static std::string GenKey(const std::string& name, const std::string& algo = "ed25519") {
    const RunResult r = Uplift({"key", "gen", "--algo", algo, "--out", name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Trim(r.out);
  }

  // A bundle of rootfs.img (version 1.2.3, board-a, counter 5) signed by NAME.key for each key.
  static RunResult Create(const std::string& out, const Args& keys, const Args& extra = {},
                          const Env& env = {}) {
    Args args = {"bundle", "create",   "--image", "rootfs=rootfs.img",  "--version",
                 "1.2.3",  "--compat", "board-a", "--security-counter", "5",
                 "--out",  out};
    for (const auto& k : keys) args.insert(args.end(), {"--key", k + ".key"});
    return Uplift(args + extra, env);
  }

  static void InitTrust(const std::string& file, const Args& keys, int threshold) {
    Args args = {"trust", "init", file, "--threshold", std::to_string(threshold)};
    for (const auto& k : keys) args.insert(args.end(), {"--key", k + ".pub"});
    ExpectOk(Uplift(args));
  }

  static RunResult Verify(const std::string& bundle, const std::string& trust,
                          const Args& extra = {}) {
    return Uplift(Args{"bundle", "verify", bundle, "--trust", trust} + extra);
  }

  std::string dir_;
  fs::path old_cwd_;
  mode_t old_umask_ = 022;
};

// ---------------------------------------------------------------------------------- keys

TEST_F(CliTest, KeyGenWritesPrivateAndPublicKeysWithOpensslCompatibleId) {
  ::umask(0);  // the modes must come from uplift, not from a restrictive umask
  for (const std::string algo : {"ed25519", "ecdsa-p256", "ecdsa-p384"}) {
    SCOPED_TRACE(algo);
    const std::string gen = Out(Uplift({"key", "gen", "--algo", algo, "--out", algo}));
    const std::string id = Trim(gen);
    EXPECT_EQ(gen, id + "\n");
    EXPECT_EQ(id.size(), 64u);
    EXPECT_EQ(Mode(algo + ".key"), 0600u);
    EXPECT_EQ(Mode(algo + ".pub"), 0644u);
    EXPECT_TRUE(ReadAll(algo + ".key").starts_with("-----BEGIN PRIVATE KEY-----\n"));
    EXPECT_TRUE(ReadAll(algo + ".pub").starts_with("-----BEGIN PUBLIC KEY-----\n"));

    EXPECT_EQ(Out(Uplift({"key", "id", algo + ".pub"})), id + "\n");
    const RunResult ossl =
        Sh("openssl pkey -pubin -in " + algo + ".pub -outform DER | sha256sum | cut -d' ' -f1");
    ASSERT_EQ(ossl.exit_code, 0) << ossl.err;
    EXPECT_EQ(Trim(ossl.out), id);
  }
}

TEST_F(CliTest, KeyGenRefusesToOverwriteWithoutForce) {
  const std::string id = GenKey("k");
  const std::string key = ReadAll("k.key");
  ExpectFailure(Uplift({"key", "gen", "--out", "k"}), kExitExists);
  EXPECT_EQ(ReadAll("k.key"), key);
  const std::string forced = Out(Uplift({"key", "gen", "--out", "k", "--force"}));
  EXPECT_NE(Trim(forced), id);
  EXPECT_NE(ReadAll("k.key"), key);
}

TEST_F(CliTest, EncryptedKeyNeedsTheRightPassphrase) {
  WriteAll("pass.txt", "correct horse\n");
  WriteAll("wrong.txt", "wrong horse\n");
  ExpectOk(Uplift({"key", "gen", "--out", "enc", "--passphrase-file", "pass.txt"}));
  const std::string pem = ReadAll("enc.key");
  EXPECT_TRUE(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")) << pem;
  EXPECT_EQ(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  // Stock OpenSSL decrypts it with the same passphrase (first line of the file).
  const RunResult ossl = Sh("openssl pkey -in enc.key -passin pass:'correct horse' -pubout");
  ASSERT_EQ(ossl.exit_code, 0) << ossl.err;
  EXPECT_EQ(ossl.out, ReadAll("enc.pub"));

  ExpectFailure(Create("none.bundle", {"enc"}), kExitKey);
  ExpectFailure(Create("bad.bundle", {"enc"}, {"--passphrase-file", "wrong.txt"}), kExitKey);
  ExpectFailure(Create("bad.bundle", {"enc"}, {}, {{"UPLIFT_KEY_PASSPHRASE", "wrong horse"}}),
                kExitKey);
  EXPECT_FALSE(fs::exists("none.bundle") || fs::exists("bad.bundle"));

  ExpectOk(Create("file.bundle", {"enc"}, {"--passphrase-file", "pass.txt"}));
  ExpectOk(Create("env.bundle", {"enc"}, {}, {{"UPLIFT_KEY_PASSPHRASE", "correct horse"}}));
  InitTrust("trust.json", {"enc"}, 1);
  ExpectOk(Verify("file.bundle", "trust.json"));
  ExpectOk(Verify("env.bundle", "trust.json"));
}

// ------------------------------------------------------------------- interop with OpenSSL

// Ed25519 signs the message itself; ECDSA's raw r||s must become DER for OpenSSL. The tampered
// message shows that the openssl command can fail.
TEST_F(CliTest, SignaturesVerifyWithStockOpenssl) {
  using Case = std::tuple<std::string, int, std::size_t, std::string, std::string>;
  for (const auto& [algo, alg_id, size, verify, verified] :
       {Case{"ed25519", 1, 64,
             "openssl pkeyutl -verify -pubin -inkey ed25519.pub -rawin -sigfile "
             "sig.raw -in ",
             "Signature Verified Successfully"},
        Case{"ecdsa-p256", 2, 64, "openssl dgst -sha256 -verify ecdsa-p256.pub -signature sig.der ",
             "Verified OK"},
        Case{"ecdsa-p384", 3, 96, "openssl dgst -sha384 -verify ecdsa-p384.pub -signature sig.der ",
             "Verified OK"}}) {
    SCOPED_TRACE(algo);
    const std::string id = GenKey(algo, algo);
    ExpectOk(Create("b.bundle", {algo}, {"--force"}));
    const auto [manifest, sigs] = DecodeBundle(ReadAll("b.bundle"));
    EXPECT_TRUE(manifest.starts_with("{")) << manifest;
    ASSERT_EQ(sigs.size(), 1u);
    EXPECT_EQ(sigs[0].algorithm, alg_id);
    EXPECT_EQ(sigs[0].key_id, id);
    ASSERT_EQ(sigs[0].signature.size(), size);
    WriteAll("msg.bin", SignedMessage(manifest));
    WriteAll("tampered.bin", SignedMessage(manifest + " "));
    WriteAll("sig.raw", sigs[0].signature);
    WriteAll("sig.der", RawToDer(sigs[0].signature));
    const RunResult ok = Sh(verify + "msg.bin");
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find(verified), std::string::npos) << ok.out;
    EXPECT_NE(Sh(verify + "tampered.bin").exit_code, 0);
  }
}

// ------------------------------------------------------------------------- trust stores

TEST_F(CliTest, TrustShowReportsThresholdsKeysAndRevocations) {
  const std::string a = GenKey("a");
  const std::string b = GenKey("b", "ecdsa-p256");
  InitTrust("trust.json", {"a"}, 1);
  ExpectFailure(Uplift({"trust", "init", "trust.json"}), kExitExists);
  ExpectOk(Uplift({"trust", "add", "trust.json", "b.pub", "--threshold", "2"}));
  const std::string text = Out(Uplift({"trust", "show", "trust.json"}));
  EXPECT_NE(text.find("role release: threshold 2 of 2 key(s)"), std::string::npos) << text;
  EXPECT_NE(text.find(b + " ecdsa-p256"), std::string::npos) << text;

  ExpectOk(Uplift({"trust", "revoke", "trust.json", a}));
  const Json j = ParseJson(Out(Uplift({"trust", "show", "trust.json", "--json"})));
  EXPECT_EQ(j["roles"]["release"]["threshold"], 2);
  EXPECT_EQ(j["roles"]["release"]["keys"], 1);  // revoked keys do not count
  ASSERT_EQ(j["keys"].size(), 2u);
  for (const auto& k : j["keys"]) EXPECT_EQ(k["revoked"], k["id"] == a) << k;
  EXPECT_EQ(j["revoked"], Json::array({a}));
  // A revoked key cannot come back.
  ExpectFailure(Uplift({"trust", "add", "trust.json", "a.pub"}), Code(Errc::kBadTrustStore));
}

TEST_F(CliTest, TwoOfTwoStoreNeedsBothSignatures) {
  const std::string a = GenKey("a");
  const std::string b = GenKey("b", "ecdsa-p384");
  InitTrust("two.json", {"a", "b"}, 2);
  ExpectOk(Create("b.bundle", {"a"}));
  ExpectJsonFailure(Verify("b.bundle", "two.json", {"--json"}), Code(Errc::kBelowThreshold));
  ExpectOk(Uplift({"bundle", "sign", "b.bundle", "--key", "b.key"}));
  const Json j = ParseJson(Out(Verify("b.bundle", "two.json", {"--json"})));
  ASSERT_EQ(j["signatures"].size(), 2u);
  std::set<std::string> valid;
  for (const auto& s : j["signatures"]) {
    if (s["status"] == "valid") valid.insert(s["key_id"].get<std::string>());
  }
  EXPECT_EQ(valid, (std::set<std::string>{a, b}));
}

TEST_F(CliTest, RevokedSignersAreRefusedByIdAndByKeyFile) {
  const std::string a = GenKey("a");
  GenKey("b");
  InitTrust("trust.json", {"a", "b"}, 1);
  ExpectOk(Create("a.bundle", {"a"}));
  ExpectOk(Create("b.bundle", {"b"}));
  ExpectOk(Verify("a.bundle", "trust.json"));
  ExpectOk(Verify("b.bundle", "trust.json"));

  ExpectOk(Uplift({"trust", "revoke", "trust.json", a}));
  ExpectJsonFailure(Verify("a.bundle", "trust.json", {"--json"}), Code(Errc::kRevokedKey));
  ExpectOk(Verify("b.bundle", "trust.json"));
  ExpectOk(Uplift({"trust", "revoke", "trust.json", "b.pub"}));
  ExpectFailure(Verify("b.bundle", "trust.json"), Code(Errc::kRevokedKey));
}

TEST_F(CliTest, UntrustedSignerAndCorruptTrustStoreAreRefused) {
  GenKey("a");
  GenKey("stranger");
  InitTrust("trust.json", {"a"}, 1);
  ExpectOk(Create("ok.bundle", {"a"}));
  ExpectOk(Create("stranger.bundle", {"stranger"}));
  ExpectOk(Verify("ok.bundle", "trust.json"));
  ExpectJsonFailure(Verify("stranger.bundle", "trust.json", {"--json"}),
                    Code(Errc::kBelowThreshold));

  const std::string store = ReadAll("trust.json");
  WriteAll("trust.json", store.substr(0, store.size() / 2));
  ExpectJsonFailure(Verify("ok.bundle", "trust.json", {"--json"}), Code(Errc::kBadTrustStore));
  ExpectFailure(Uplift({"trust", "show", "trust.json"}), Code(Errc::kBadTrustStore));
}

// ---------------------------------------------------------------------- bundle round trip

TEST_F(CliTest, CreateVerifyInspectExtractRoundTripForEachCompression) {
  const std::string a = GenKey("a");
  InitTrust("trust.json", {"a"}, 1);
  WriteAll("boot.img", Image(70'000, 2));
  for (const std::string compression : {"zstd", "none"}) {
    SCOPED_TRACE(compression);
    const std::string bundle = compression + ".bundle";
    const Json c = ParseJson(
        Out(Create(bundle, {"a"},
                   {"--image", "boot=boot.img", "--compression", compression, "--meta",
                    "channel=beta", "--meta", "build=ci-42", "--chunk-size", "16384", "--json"})));
    EXPECT_EQ(c["ok"], true);
    EXPECT_EQ(c["version"], "1.2.3");
    EXPECT_EQ(c["metadata"], (Json{{"channel", "beta"}, {"build", "ci-42"}}));
    ASSERT_EQ(c["payloads"].size(), 2u);
    for (const auto& p : c["payloads"]) {
      const std::string target = p["target"];
      const std::string image = ReadAll(target + ".img");
      EXPECT_EQ(p["name"], target);
      EXPECT_EQ(p["compression"], compression);
      EXPECT_EQ(p["image_size"], image.size());
      EXPECT_EQ(p["image_sha256"], Sha256Hex(image));
      if (compression == "none") {
        EXPECT_EQ(p["size"], image.size());
      }
    }
    EXPECT_EQ(c["payloads"][0]["target"], "rootfs");
    EXPECT_EQ(c["payloads"][1]["target"], "boot");

    const Json v = ParseJson(Out(Verify(bundle, "trust.json", {"--json"})));
    EXPECT_EQ(v["ok"], true);
    EXPECT_EQ(v["verified"], true);
    ASSERT_EQ(v["signatures"].size(), 1u);
    EXPECT_EQ(v["signatures"][0]["key_id"], a);
    EXPECT_EQ(v["signatures"][0]["status"], "valid");

    const Json i = ParseJson(Out(Uplift({"bundle", "inspect", bundle, "--json"})));
    EXPECT_EQ(i["verified"], false);
    EXPECT_EQ(i["payloads"], v["payloads"]);
    EXPECT_FALSE(i["signatures"][0].contains("status"));
    const std::string human = Out(Uplift({"bundle", "inspect", bundle}));
    EXPECT_NE(human.find("signatures NOT checked"), std::string::npos) << human;

    const std::string out = compression + "-out";
    ExpectOk(Uplift({"bundle", "extract", bundle, "--trust", "trust.json", "--out", out}));
    EXPECT_EQ(ReadAll(out + "/rootfs"), ReadAll("rootfs.img"));
    EXPECT_EQ(ReadAll(out + "/boot"), ReadAll("boot.img"));
  }
}

// --------------------------------------------------------------------------------- errors

TEST_F(CliTest, DamagedBundlesAndPolicyViolationsGetTheirExitCodes) {
  GenKey("a");
  InitTrust("trust.json", {"a"}, 1);
  ExpectOk(Create("good.bundle", {"a"}, {"--expires-in-days", "1"}));
  const std::string good = ReadAll("good.bundle");
  WriteAll("noise.bin", "X" + Image(4095, 7));  // 'X': never the magic
  WriteAll("short-header.bundle", good.substr(0, 30));
  WriteAll("short.bundle", good.substr(0, good.size() / 2));
  std::string flipped = good;
  flipped.back() = static_cast<char>(flipped.back() ^ 0x01);  // the last payload byte
  WriteAll("flipped.bundle", flipped);
  WriteAll("appended.bundle", good + "x");
  const std::string now = std::to_string(std::time(nullptr));
  const std::string later = std::to_string(std::time(nullptr) + 3 * 86400);

  // The control: the same bundle under the tightest policy it satisfies.
  ExpectOk(Verify("good.bundle", "trust.json",
                  {"--at", now, "--hardware", "board-a", "--min-security-counter", "5"}));

  struct Case {
    std::string bundle;
    Args extra;
    int code;
  };
  for (const Case& c : std::vector<Case>{
           {"noise.bin", {}, Code(Errc::kBadMagic)},
           {"short-header.bundle", {}, Code(Errc::kTruncated)},
           {"short.bundle", {}, Code(Errc::kTruncated)},
           {"flipped.bundle", {}, Code(Errc::kHashMismatch)},
           {"appended.bundle", {}, Code(Errc::kTrailingData)},
           {"good.bundle", {"--at", later}, Code(Errc::kExpired)},
           {"good.bundle", {"--hardware", "other"}, Code(Errc::kIncompatibleHardware)},
           {"good.bundle", {"--min-security-counter", "6"}, Code(Errc::kDowngrade)},
           {"missing.bundle", {}, kExitIo}}) {
    SCOPED_TRACE(c.bundle + " " + (c.extra.empty() ? "" : c.extra[0]));
    ExpectFailure(Verify(c.bundle, "trust.json", c.extra), c.code);
    ExpectJsonFailure(Verify(c.bundle, "trust.json", c.extra + Args{"--json"}), c.code);
  }
}

TEST_F(CliTest, UsageErrorsExitWithTwoAndOneLine) {
  GenKey("a");
  ExpectJsonFailure(Uplift({"bundle", "create", "--image", "rootfs.img", "--version", "1.x",
                            "--compat", "board-a", "--security-counter", "5", "--key", "a.key",
                            "--out", "b.bundle", "--json"}),
                    kExitUsage);
  ExpectFailure(Create("b.bundle", {"a"}, {"--no-such-flag"}), kExitUsage);
  ExpectFailure(Uplift({"bundle", "create", "--image", "rootfs.img", "--key", "a.key"}),
                kExitUsage);
  ExpectFailure(Uplift({"key", "gen"}), kExitUsage);
  ExpectFailure(Uplift({"key", "gen", "--out", "r", "--algo", "rsa"}), kExitUsage);
  ExpectFailure(Uplift({"bundle"}), kExitUsage);
  ExpectFailure(Uplift({"key", "id", "missing.pub"}), kExitIo);
  EXPECT_FALSE(fs::exists("b.bundle"));
}

// A command-line parse error happens before any subcommand callback runs; with --json it must
// still print the JSON error body, or scripts that parse stdout get nothing.
TEST_F(CliTest, ParseErrorsWithJsonStillPrintAJsonBody) {
  GenKey("a");
  ExpectJsonFailure(Create("b.bundle", {"a"}, {"--no-such-flag", "--json"}), kExitUsage);
  ExpectJsonFailure(Uplift({"bundle", "create", "--image", "rootfs.img", "--json"}), kExitUsage);
  ExpectJsonFailure(Uplift({"key", "id", "--json"}), kExitUsage);
}

// --chunk-size must be a power of two: a bad argument is a usage error (2), not a malformed
// bundle (15) found later by the writer.
TEST_F(CliTest, NonPowerOfTwoChunkSizeIsAUsageError) {
  GenKey("a");
  ExpectFailure(Create("b.bundle", {"a"}, {"--chunk-size", "5000"}), kExitUsage);
  EXPECT_FALSE(fs::exists("b.bundle"));
}

TEST_F(CliTest, HelpExitsZeroWithUsageOnStdoutForEveryCommand) {
  for (const std::string command :
       {"", "key gen", "key id", "trust init", "trust add", "trust revoke", "trust show",
        "bundle create", "bundle sign", "bundle verify", "bundle inspect", "bundle extract"}) {
    Args args;
    std::istringstream words(command);
    for (std::string w; words >> w;) args.push_back(w);
    const std::string usage = "Usage: uplift" + (command.empty() ? "" : " " + command);
    SCOPED_TRACE(usage);
    args.push_back("--help");
    const RunResult r = Uplift(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(usage + " "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

// -------------------------------------------------------------------------------- co-signing

TEST_F(CliTest, SignWithOutLeavesTheOriginalUnchanged) {
  GenKey("a");
  GenKey("b", "ecdsa-p256");
  InitTrust("two.json", {"a", "b"}, 2);
  ExpectOk(Create("one.bundle", {"a"}));
  const std::string before = ReadAll("one.bundle");
  ExpectOk(Uplift({"bundle", "sign", "one.bundle", "--key", "b.key", "--out", "both.bundle"}));
  EXPECT_EQ(ReadAll("one.bundle"), before);
  ExpectFailure(Verify("one.bundle", "two.json"), Code(Errc::kBelowThreshold));
  ExpectOk(Verify("both.bundle", "two.json"));
  // Co-signing appends a signature entry; the manifest, chunk index and payloads are unchanged.
  const std::string both = ReadAll("both.bundle");
  const auto [manifest, sigs] = DecodeBundle(both);
  const auto [old_manifest, old_sigs] = DecodeBundle(before);
  EXPECT_EQ(manifest, old_manifest);
  ASSERT_EQ(sigs.size(), 2u);
  EXPECT_EQ(sigs[0].signature, old_sigs.at(0).signature);
  const std::size_t tail = LoadLe(before, 24, 8) + LoadLe(before, 32, 8);
  EXPECT_TRUE(both.ends_with(before.substr(before.size() - tail)));
}

TEST_F(CliTest, SignInPlaceReplacesTheFileAtomically) {
  GenKey("a");
  GenKey("b");
  InitTrust("one.json", {"a", "b"}, 1);
  InitTrust("two.json", {"a", "b"}, 2);
  ExpectOk(Create("b.bundle", {"a"}));
  // A reader that opened the bundle before the co-signing keeps the old, intact content.
  const int fd = ::open("b.bundle", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat old_st {};
  ASSERT_EQ(::fstat(fd, &old_st), 0);
  const std::string before = Slurp(fd);

  ExpectOk(Uplift({"bundle", "sign", "b.bundle", "--key", "b.key"}));
  struct stat new_st {};
  ASSERT_EQ(::stat("b.bundle", &new_st), 0);
  EXPECT_NE(new_st.st_ino, old_st.st_ino) << "rewritten in place, not renamed over";
  EXPECT_EQ(new_st.st_mode & 07777, 0644u);
  const std::string held = Slurp(fd);
  ::close(fd);
  EXPECT_EQ(held, before);
  WriteAll("held.bundle", held);
  ExpectOk(Verify("held.bundle", "one.json"));
  ExpectFailure(Verify("held.bundle", "two.json"), Code(Errc::kBelowThreshold));
  ExpectOk(Verify("b.bundle", "two.json"));

  // No temporary file is left beside the bundle.
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(".")) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"a.key", "a.pub", "b.key", "b.pub", "one.json",
                                          "two.json", "rootfs.img", "b.bundle", "held.bundle"}));
}

}  // namespace
}  // namespace uplift
