#include "cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "uplift/crypto/errors.hpp"
#include "uplift/delta/errors.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::cli {
namespace {

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Marks "file exists" so ExitCodeFor can tell it from other argument errors.
constexpr std::string_view kExistsDomain = "cli-exists";

}  // namespace

int ExitCodeFor(const Error& e) {
  if (e.domain() == kExistsDomain) return kExitExists;
  if (const int admin = AdminExitCode(e); admin >= 0) return admin;
  if (e.domain() == ErrorDomainOf<format::Errc>::kName) return e.code();
  if (e.domain() == ErrorDomainOf<delta::Errc>::kName) return e.code();
  if (e.domain() == ErrorDomainOf<transport::Errc>::kName) return e.code();
  if (e.domain() == ErrorDomainOf<crypto::Errc>::kName) {
    switch (static_cast<crypto::Errc>(e.code())) {
      case crypto::Errc::kInvalidArgument:
        return kExitUsage;
      case crypto::Errc::kBadKey:
      case crypto::Errc::kBadPassphrase:
      case crypto::Errc::kUnsupportedAlgorithm:
        return kExitKey;
      default:
        return kExitCrypto;
    }
  }
  if (e.domain() == ErrorDomainOf<base::Errc>::kName) {
    switch (static_cast<base::Errc>(e.code())) {
      case base::Errc::kInvalidArgument:
        return kExitUsage;
      case base::Errc::kUnavailable:
        return kExitUnavailable;
      case base::Errc::kSourceChanged:
        return kExitChanged;
      default:
        return kExitIo;
    }
  }
  return kExitFailure;
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && ::isatty(STDERR_FILENO) == 1),
      start_ns_(NowNs()) {}

Progress::~Progress() {
  if (enabled_ && !finished_) std::fputs("\n", stderr);
}

void Progress::Update(std::uint64_t done) {
  if (!enabled_) return;
  const std::int64_t now = NowNs();
  if (now - last_draw_ns_ < 100'000'000 && done < total_) return;
  last_draw_ns_ = now;
  const double secs = static_cast<double>(now - start_ns_) / 1e9;
  const double mib = static_cast<double>(done) / (1024.0 * 1024.0);
  const double frac =
      total_ ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 0.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '=');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%-10s [%s] %3d%% %8.1f MiB %7.1f MiB/s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), mib, secs > 0 ? mib / secs : 0.0);
  std::fflush(stderr);
}

void Progress::Done() {
  if (!enabled_ || finished_) return;
  Update(total_);
  std::fputs("\n", stderr);
  finished_ = true;
}

Result<std::size_t> ProgressSource::Read(MutableByteView buf) {
  UPLIFT_ASSIGN(const std::size_t n, inner_.Read(buf));
  done_ += n;
  progress_.Update(done_);
  return n;
}

Result<std::optional<std::string>> Passphrase(const std::string& passphrase_file) {
  if (!passphrase_file.empty()) {
    UPLIFT_ASSIGN(const Bytes b, ReadFile(passphrase_file, 4096));
    std::string s(AsChars(b));
    if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return std::optional<std::string>(s);
  }
  if (const char* env = std::getenv("UPLIFT_KEY_PASSPHRASE"); env && *env) {
    return std::optional<std::string>(env);
  }
  return std::optional<std::string>();
}

Result<crypto::PrivateKey> LoadPrivateKey(const std::string& path,
                                          const std::optional<std::string>& passphrase) {
  UPLIFT_ASSIGN(const Bytes pem, ReadFile(path, 64 * 1024));
  auto key = crypto::PrivateKey::FromPem(AsChars(pem), passphrase);
  if (!key.ok()) return std::move(key).error().Context(path);
  return key;
}

Result<crypto::PublicKey> LoadPublicKey(const std::string& path) {
  UPLIFT_ASSIGN(const Bytes pem, ReadFile(path, 64 * 1024));
  auto key = crypto::PublicKey::FromPem(AsChars(pem));
  if (key.ok()) return key;
  // A private key file names its public key too.
  auto priv = crypto::PrivateKey::FromPem(AsChars(pem), std::nullopt);
  if (priv.ok()) return priv->Public();
  if (priv.error().Is(crypto::Errc::kBadPassphrase)) {
    return Error(crypto::Errc::kBadKey,
                 path + ": an encrypted private key; give its public key (.pub) instead");
  }
  return std::move(key).error().Context(path);
}

Result<format::TrustStore> LoadTrustStore(const std::string& path) {
  UPLIFT_ASSIGN(const Bytes b, ReadFile(path, format::kMaxTrustStoreSize));
  auto ts = format::TrustStore::Parse(b);
  if (!ts.ok()) return std::move(ts).error().Context(path);
  return ts;
}

Status SaveTrustStore(const std::string& path, const format::TrustStore& ts) {
  return WriteFileAtomic(path, AsBytes(ts.Serialize()), 0644);
}

Status RefuseOverwrite(const std::string& path, bool force) {
  struct stat st {};
  if (!force && ::stat(path.c_str(), &st) == 0) {
    return Error(kExistsDomain, 1, path + " exists (use --force to overwrite)");
  }
  return Ok();
}

}  // namespace uplift::cli
