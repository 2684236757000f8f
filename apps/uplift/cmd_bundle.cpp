// uplift bundle create | sign | verify | inspect | extract
#include <sys/stat.h>

#include <ctime>
#include <memory>

#include <zstd.h>

#include "cli.hpp"
#include "uplift/base/clock.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/delta/diff.hpp"
#include "uplift/delta/native.hpp"
#include "uplift/format/bundle.hpp"
#include "uplift/format/bundle_reader.hpp"
#include "uplift/format/bundle_writer.hpp"

namespace uplift::cli {
namespace {

struct CreateArgs {
  std::vector<std::string> images;  // [TARGET=]FILE
  std::string target = "rootfs";
  std::string product = "firmware";
  std::string version;
  std::vector<std::string> compat;
  std::uint64_t security_counter = 0;
  std::vector<std::string> keys;
  std::string out;
  std::string compression = "zstd";
  int level = format::kDefaultZstdLevel;
  std::uint32_t chunk_size = format::kDefaultChunkSize;
  std::int64_t expires_in_days = 365;
  std::vector<std::string> meta;  // k=v
  std::string passphrase_file;
  int threads = 1;
  std::vector<std::string> delta_from;  // [TARGET=]OLD_IMAGE_OR_BUNDLE
  bool delta_only = false;
  bool force = false;
  bool json = false;
};

struct ReadArgs {
  std::string bundle;
  std::string trust;
  std::string role = std::string(format::kReleaseRole);
  std::string hardware;
  std::optional<std::uint64_t> min_security_counter;
  std::optional<std::int64_t> at;
  std::string out;
  std::vector<std::string> keys;
  std::string passphrase_file;
  std::string delta_source;  // extract: apply delta payloads to this old image
  bool json = false;
};

std::string Iso8601(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::uint64_t> FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path, errno);
  return static_cast<std::uint64_t>(st.st_size);
}

Result<std::vector<crypto::PrivateKey>> LoadKeys(const std::vector<std::string>& paths,
                                                 const std::string& passphrase_file) {
  UPLIFT_ASSIGN(const auto passphrase, Passphrase(passphrase_file));
  std::vector<crypto::PrivateKey> keys;
  for (const auto& p : paths) {
    UPLIFT_ASSIGN(crypto::PrivateKey k, LoadPrivateKey(p, passphrase));
    keys.push_back(std::move(k));
  }
  return keys;
}

std::vector<const crypto::PrivateKey*> Pointers(const std::vector<crypto::PrivateKey>& keys) {
  std::vector<const crypto::PrivateKey*> out;
  for (const auto& k : keys) out.push_back(&k);
  return out;
}

std::string DirOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

nlohmann::json Describe(const format::BundleReader& r) {
  const format::Manifest& m = r.manifest();
  nlohmann::json payloads = nlohmann::json::array();
  for (const auto& p : m.payloads) {
    nlohmann::json pj = {{"name", p.name},
                         {"target", p.target},
                         {"size", p.size},
                         {"sha256", ToHex(p.sha256)},
                         {"compression", format::CompressionName(p.compression)},
                         {"chunk_size", p.chunk_size},
                         {"chunks", p.chunk_count()},
                         {"image_size", p.image_size},
                         {"image_sha256", ToHex(p.image_sha256)}};
    if (p.delta_source_sha256) pj["delta_source_sha256"] = ToHex(*p.delta_source_sha256);
    payloads.push_back(pj);
  }
  nlohmann::json sigs = nlohmann::json::array();
  for (std::size_t i = 0; i < r.signatures().size(); ++i) {
    const auto& s = r.signatures()[i];
    const auto algo = crypto::AlgorithmFromId(s.algorithm_id);
    nlohmann::json sj = {{"key_id", s.key_id_hex()},
                         {"algorithm", algo ? std::string(crypto::AlgorithmName(*algo))
                                            : "unknown(" + std::to_string(s.algorithm_id) + ")"}};
    if (i < r.signature_checks().size()) {
      sj["status"] = format::SignatureStatusName(r.signature_checks()[i].status);
    }
    sigs.push_back(sj);
  }
  return {{"product", m.product},
          {"version", m.version.ToString()},
          {"security_counter", m.security_counter},
          {"compatible", m.compatible},
          {"created", m.created},
          {"expires", m.expires},
          {"metadata", m.metadata},
          {"payloads", payloads},
          {"signatures", sigs},
          {"size", r.header().total_size()}};
}

void PrintHuman(const nlohmann::json& d) {
  std::printf("product          %s\n", d["product"].get<std::string>().c_str());
  std::printf("version          %s\n", d["version"].get<std::string>().c_str());
  std::printf("security counter %llu\n",
              static_cast<unsigned long long>(d["security_counter"].get<std::uint64_t>()));
  std::string compat;
  for (const auto& c : d["compatible"])
    compat += (compat.empty() ? "" : ", ") + c.get<std::string>();
  std::printf("compatible       %s\n", compat.c_str());
  std::printf("created          %s\n", Iso8601(d["created"].get<std::int64_t>()).c_str());
  std::printf("expires          %s\n", Iso8601(d["expires"].get<std::int64_t>()).c_str());
  for (const auto& [k, v] : d["metadata"].items()) {
    std::printf("metadata         %s=%s\n", k.c_str(), v.get<std::string>().c_str());
  }
  for (const auto& p : d["payloads"]) {
    std::printf("payload          %s -> %s: %llu bytes (%s), image %llu bytes sha256 %s\n",
                p["name"].get<std::string>().c_str(), p["target"].get<std::string>().c_str(),
                static_cast<unsigned long long>(p["size"].get<std::uint64_t>()),
                p["compression"].get<std::string>().c_str(),
                static_cast<unsigned long long>(p["image_size"].get<std::uint64_t>()),
                p["image_sha256"].get<std::string>().c_str());
    if (p.contains("delta_source_sha256")) {
      std::printf("                 delta from image sha256 %s\n",
                  p["delta_source_sha256"].get<std::string>().c_str());
    }
  }
  for (const auto& s : d["signatures"]) {
    std::printf("signature        %s %s%s\n", s["key_id"].get<std::string>().c_str(),
                s["algorithm"].get<std::string>().c_str(),
                s.contains("status") ? (" " + s["status"].get<std::string>()).c_str() : "");
  }
}

// Images are read whole for diffing (the suffix array needs them in memory anyway).
constexpr std::uint64_t kMaxDeltaImage = (std::uint64_t{1} << 31) - 2;

// The old image of a delta: a raw image file, or the `target` payload of an earlier bundle.
Result<Bytes> LoadDeltaSource(const std::string& path, const std::string& target) {
  UPLIFT_ASSIGN(FileSource f, FileSource::Open(path));
  std::array<std::uint8_t, 8> magic{};
  UPLIFT_ASSIGN(const std::size_t n, f.Read(magic));
  if (n < magic.size() || !std::equal(format::kBundleMagic.begin(), format::kBundleMagic.end(), magic.begin())) {
    return ReadFile(path, kMaxDeltaImage);
  }
  UPLIFT_ASSIGN(FileSource b, FileSource::Open(path));
  auto reader = format::BundleReader::Open(b, {});
  if (!reader.ok()) return std::move(reader).error().Context(path);
  for (const auto& p : reader->manifest().payloads) {
    if (p.target != target) {
      UPLIFT_TRY(reader->SkipPayload());
      continue;
    }
    if (p.delta_source_sha256) {
      return Error(base::Errc::kInvalidArgument,
                   path + ": the '" + target + "' payload is itself a delta; give its full image or bundle");
    }
    if (p.image_size > kMaxDeltaImage) return Error(base::Errc::kTooLarge, path + ": image too large to diff");
    MemorySink image;
    UPLIFT_TRY(reader->ReadPayloadImage(image));
    return image.Take();
  }
  return Error(base::Errc::kNotFound, path + ": no payload for target '" + target + "'");
}

// What the full image would cost on the wire as a bundle payload (same codec and level).
Result<std::uint64_t> FullPayloadSize(ByteView image, int level, int threads) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return Error(base::Errc::kIo, "zstd: out of memory");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, format::kZstdMaxWindowLog);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, threads > 1 ? threads : 0);
  Bytes out(ZSTD_compressBound(image.size()));
  const std::size_t n = ZSTD_compress2(cctx, out.data(), out.size(), image.data(), image.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) return Error(base::Errc::kIo, std::string("zstd: ") + ZSTD_getErrorName(n));
  return n;
}

struct DeltaDecision {
  bool used = false;
  std::uint64_t patch_size = 0;
  std::uint64_t full_size = 0;
};

// Turns `in` (a full image payload from `new_path`) into a native delta payload from old_path,
// unless the delta would not be smaller than the full payload (then `in` stays full).
Result<DeltaDecision> MakeDeltaPayload(const CreateArgs& a, const std::string& old_path,
                                       const std::string& new_path, format::PayloadInput& in) {
  UPLIFT_ASSIGN(const Bytes old_image, LoadDeltaSource(old_path, in.target));
  UPLIFT_ASSIGN(Bytes new_image, ReadFile(new_path, kMaxDeltaImage));
  auto patch = std::make_shared<MemorySink>();
  delta::NativeCreateOptions opt;
  opt.threads = static_cast<unsigned>(a.threads > 1 ? a.threads : 0);
  Progress progress("diffing " + in.target, new_image.size(), !a.json);
  opt.progress = [&progress](std::uint64_t done, std::uint64_t) { progress.Update(done); };
  UPLIFT_ASSIGN(const delta::NativeCreateStats stats, delta::CreateNative(old_image, new_image, *patch, opt));
  progress.Done();
  DeltaDecision d;
  d.patch_size = stats.patch_size;
  UPLIFT_ASSIGN(d.full_size, FullPayloadSize(new_image, a.level, a.threads));
  d.used = d.patch_size < d.full_size || a.delta_only;
  if (!d.used) return d;
  in.compression = format::Compression::kNone;  // the patch streams are compressed already
  in.delta_source_sha256 = stats.header.old_sha256;
  in.delta_image_size = stats.header.new_size;
  in.delta_image_sha256 = stats.header.new_sha256;
  in.size_hint = d.patch_size;
  in.open = [patch]() -> Result<std::unique_ptr<ByteSource>> {
    return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(patch->bytes()));
  };
  return d;
}

Status Create(const CreateArgs& a) {
  UPLIFT_TRY(RefuseOverwrite(a.out, a.force));
  const auto version = format::SemVer::Parse(a.version);
  if (!version)
    return Error(base::Errc::kInvalidArgument, "not a SemVer 2.0.0 version: " + a.version);
  UPLIFT_ASSIGN(const auto keys, LoadKeys(a.keys, a.passphrase_file));
  format::BundleSpec spec;
  spec.product = a.product;
  spec.version = *version;
  spec.security_counter = a.security_counter;
  spec.compatible = a.compat;
  spec.created = SystemClock().NowUnix();
  spec.expires = spec.created + a.expires_in_days * 86400;
  for (const auto& kv : a.meta) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos)
      return Error(base::Errc::kInvalidArgument, "--meta wants KEY=VALUE: " + kv);
    spec.metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // --delta-from [TARGET=]OLD: which targets get a delta, and from what.
  std::map<std::string, std::string> delta_from;
  for (const auto& d : a.delta_from) {
    const auto eq = d.find('=');
    delta_from[eq == std::string::npos ? a.target : d.substr(0, eq)] =
        eq == std::string::npos ? d : d.substr(eq + 1);
  }
  nlohmann::json deltas = nlohmann::json::array();
  std::uint64_t total = 0;
  for (const auto& img : a.images) {
    const auto eq = img.find('=');
    format::PayloadInput in;
    in.target = eq == std::string::npos ? a.target : img.substr(0, eq);
    in.name = in.target;
    const std::string path = eq == std::string::npos ? img : img.substr(eq + 1);
    in.compression =
        a.compression == "zstd" ? format::Compression::kZstd : format::Compression::kNone;
    in.zstd_level = a.level;
    in.chunk_size = a.chunk_size;
    UPLIFT_ASSIGN(in.size_hint, FileSize(path));
    total += in.size_hint;
    in.open = format::OpenFileFn(path);
    if (auto it = delta_from.find(in.target); it != delta_from.end()) {
      const std::uint64_t image_size = in.size_hint;
      UPLIFT_ASSIGN(const DeltaDecision d, MakeDeltaPayload(a, it->second, path, in));
      deltas.push_back({{"target", in.target}, {"delta", d.used}, {"patch_size", d.patch_size},
                        {"full_payload_size", d.full_size}});
      if (!a.json) {
        std::fprintf(stderr, d.used ? "%s: delta payload, %llu bytes (full payload would be %llu)\n"
                                    : "%s: delta (%llu bytes) is not smaller than the full payload (%llu): "
                                      "using the full image\n",
                     in.target.c_str(), static_cast<unsigned long long>(d.patch_size),
                     static_cast<unsigned long long>(d.full_size));
      }
      if (d.used) total = total - image_size + d.patch_size;
      delta_from.erase(it);
    }
    spec.payloads.push_back(std::move(in));
  }
  if (!delta_from.empty()) {
    return Error(base::Errc::kInvalidArgument, "--delta-from names target '" + delta_from.begin()->first +
                                                   "', which no --image has");
  }
  Progress progress("bundling", 2 * total, !a.json);
  format::WriteOptions opts;
  opts.spill_dir = DirOf(a.out);
  opts.threads = a.threads;
  opts.progress = [&](std::uint64_t done, std::uint64_t) { progress.Update(done); };
  UPLIFT_ASSIGN(AtomicFileWriter out, AtomicFileWriter::Create(a.out, 0644));
  UPLIFT_TRY(format::WriteBundle(spec, Pointers(keys), out, opts));
  UPLIFT_TRY(out.Commit());
  progress.Done();

  // Read back what was written: the description comes from the file, as a device would see it.
  UPLIFT_ASSIGN(FileSource f, FileSource::Open(a.out));
  UPLIFT_ASSIGN(const format::BundleReader r, format::BundleReader::Open(f, {}));
  if (a.json) {
    auto d = Describe(r);
    d["ok"] = true;
    d["bundle"] = a.out;
    if (!deltas.empty()) d["delta_decisions"] = deltas;
    PrintJson(d);
  } else {
    std::fprintf(stderr, "wrote %s (%llu bytes, %zu signature(s))\n", a.out.c_str(),
                 static_cast<unsigned long long>(r.header().total_size()), keys.size());
  }
  return Ok();
}

// Opens B, reads every payload through the verifier, and reports.
Status VerifyOrInspect(const ReadArgs& a, bool require_trust) {
  std::optional<format::TrustStore> trust;
  if (!a.trust.empty()) {
    UPLIFT_ASSIGN(trust, LoadTrustStore(a.trust));
  } else if (require_trust) {
    return Error(base::Errc::kInvalidArgument, "--trust is required");
  }
  format::VerifyOptions o;
  o.trust = trust ? &*trust : nullptr;
  o.role = a.role;
  if (trust) o.now = a.at ? *a.at : SystemClock().NowUnix();
  if (!a.hardware.empty()) o.hardware = a.hardware;
  o.min_security_counter = a.min_security_counter;

  UPLIFT_ASSIGN(FileSource f, FileSource::Open(a.bundle));
  const auto size = f.Size();
  Progress progress("verifying", size.ok() ? *size : 0, !a.json);
  ProgressSource src(f, progress);
  UPLIFT_ASSIGN(format::BundleReader r, format::BundleReader::Open(src, o));
  for (std::size_t i = 0; i < r.manifest().payloads.size(); ++i) {
    NullSink sink;
    const auto& p = r.manifest().payloads[i];
    // Decode full images too: a verified bundle is one whose images come out right.
    UPLIFT_TRY(p.delta_source_sha256 ? r.ReadPayload(sink) : r.ReadPayloadImage(sink));
  }
  UPLIFT_TRY(r.Finish());
  progress.Done();
  auto d = Describe(r);
  d["ok"] = true;
  d["verified"] = trust.has_value();
  if (a.json) {
    PrintJson(d);
  } else {
    PrintHuman(d);
    if (trust) {
      std::printf(
          "verified         OK: signatures meet the threshold of role %s; every hash "
          "matches\n",
          a.role.c_str());
    } else {
      std::printf("verified         hashes match; signatures NOT checked (no --trust)\n");
    }
  }
  return Ok();
}

Status Sign(const ReadArgs& a) {
  UPLIFT_ASSIGN(const auto keys, LoadKeys(a.keys, a.passphrase_file));
  const std::string out_path = a.out.empty() ? a.bundle : a.out;
  UPLIFT_ASSIGN(FileSource in, FileSource::Open(a.bundle));
  UPLIFT_ASSIGN(AtomicFileWriter out, AtomicFileWriter::Create(out_path, 0644));
  UPLIFT_TRY(format::CoSignBundle(in, Pointers(keys), out));
  UPLIFT_TRY(out.Commit());
  if (a.json) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& k : keys) ids.push_back(k.Public().id());
    PrintJson({{"ok", true}, {"bundle", out_path}, {"added", ids}});
  } else {
    std::fprintf(stderr, "signed %s with %zu key(s)\n", out_path.c_str(), keys.size());
  }
  return Ok();
}

Status Extract(const ReadArgs& a) {
  std::optional<format::TrustStore> trust;
  if (!a.trust.empty()) {
    UPLIFT_ASSIGN(trust, LoadTrustStore(a.trust));
  }
  format::VerifyOptions o;
  o.trust = trust ? &*trust : nullptr;
  o.role = a.role;
  if (trust) o.now = a.at ? *a.at : SystemClock().NowUnix();
  if (::mkdir(a.out.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError("mkdir " + a.out, errno);
  }
  UPLIFT_ASSIGN(FileSource f, FileSource::Open(a.bundle));
  const auto size = f.Size();
  Progress progress("extracting", size.ok() ? *size : 0, !a.json);
  ProgressSource src(f, progress);
  UPLIFT_ASSIGN(format::BundleReader r, format::BundleReader::Open(src, o));
  nlohmann::json files = nlohmann::json::array();
  for (const auto& p : r.manifest().payloads) {
    // Names are [a-z0-9][a-z0-9._-]*: no separators, no leading dot, so they stay inside DIR.
    const bool delta = p.delta_source_sha256.has_value();
    const bool patch = delta && !a.delta_source.empty();
    const std::string path = a.out + "/" + p.name + (delta && !patch ? ".delta" : "");
    UPLIFT_ASSIGN(AtomicFileWriter w, AtomicFileWriter::Create(path, 0644));
    if (patch) {
      // The device's path: verified chunks stream through the applier into the image file.
      UPLIFT_ASSIGN(RandomAccessFile old_image, RandomAccessFile::Open(a.delta_source));
      crypto::HashingSink hashed(crypto::HashAlgorithm::kSha256, &w);
      delta::NativeApplier applier(old_image, hashed);
      Status st = r.ReadPayload(applier);
      if (st.ok()) st = applier.Finish();
      if (!st.ok()) return std::move(st).error().Context(p.name);
      if (hashed.Finish() != Bytes(p.image_sha256.begin(), p.image_sha256.end())) {
        return Error(format::Errc::kHashMismatch, p.name + ": patched image does not match the manifest");
      }
    } else {
      UPLIFT_TRY(delta ? r.ReadPayload(w) : r.ReadPayloadImage(w));
    }
    UPLIFT_TRY(w.Commit());
    files.push_back({{"name", p.name}, {"path", path}, {"size", delta && !patch ? p.size : p.image_size}});
  }
  UPLIFT_TRY(r.Finish());
  progress.Done();
  if (!trust) {
    std::fprintf(stderr, "uplift: warning: no --trust given: hashes checked, signatures NOT\n");
  }
  if (a.json) {
    PrintJson({{"ok", true}, {"verified", trust.has_value()}, {"files", files}});
  } else {
    for (const auto& fj : files) std::printf("%s\n", fj["path"].get<std::string>().c_str());
  }
  return Ok();
}

}  // namespace

void RegisterBundleCommands(CLI::App& app, Context& ctx) {
  auto* bundle =
      app.add_subcommand("bundle", "Create, co-sign, verify, inspect and extract bundles");
  bundle->require_subcommand(1);

  auto c = std::make_shared<CreateArgs>();
  auto* create = bundle->add_subcommand("create", "Create a signed bundle from image files");
  create->add_option("--image", c->images, "Image file, or TARGET=FILE (repeatable)")->required();
  create->add_option("--target", c->target, "Target (slot group) of a plain --image FILE")
      ->capture_default_str();
  create->add_option("--product", c->product, "Product name")->capture_default_str();
  create->add_option("--version", c->version, "SemVer 2.0.0 version, e.g. 2.1.0+build.7")
      ->required();
  create->add_option("--compat", c->compat, "Compatible hardware ids (repeatable)")->required();
  create
      ->add_option("--security-counter", c->security_counter,
                   "Anti-rollback counter: devices refuse lower values")
      ->required();
  create->add_option("--key", c->keys, "Private key(s) to sign with (repeatable)")->required();
  create->add_option("--out", c->out, "Output bundle file")->required();
  create->add_option("--compression", c->compression, "Payload compression")
      ->check(CLI::IsMember({"none", "zstd"}))
      ->capture_default_str();
  create->add_option("--level", c->level, "zstd level")
      ->check(CLI::Range(1, 19))
      ->capture_default_str();
  create
      ->add_option("--chunk-size", c->chunk_size, "Verification chunk size in bytes (power of two)")
      ->check(CLI::Range(format::kMinChunkSize, format::kMaxChunkSize))
      ->check(CLI::Validator(
          [](const std::string& v) -> std::string {
            const unsigned long n = std::stoul(v);
            return (n & (n - 1)) == 0 ? "" : "must be a power of two";
          },
          "POWER_OF_TWO"))
      ->capture_default_str();
  create->add_option("--expires-in-days", c->expires_in_days, "Validity period")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  create->add_option("--meta", c->meta, "Free-form metadata KEY=VALUE (repeatable)");
  create->add_option("--passphrase-file", c->passphrase_file, "Passphrase for encrypted keys");
  create->add_option("--threads", c->threads, "zstd and delta worker threads")->check(CLI::Range(1, 64));
  create->add_option("--delta-from", c->delta_from,
                     "[TARGET=]OLD image or bundle: store a native delta from it instead of the full "
                     "image, when smaller (repeatable, one per target)");
  create->add_flag("--delta-only", c->delta_only, "Keep the delta even when it is not smaller than the full image");
  create->add_flag("--force", c->force, "Overwrite an existing output file");
  create->add_flag("--json", c->json, "Machine-readable output");
  OnParsed(create, ctx, c, [](const auto& args) { return Create(args); });

  auto add_read = [&](const char* name, const char* help, bool with_trust, bool trust_required) {
    auto a = std::make_shared<ReadArgs>();
    auto* sub = bundle->add_subcommand(name, help);
    sub->add_option("BUNDLE", a->bundle, "Bundle file")->required();
    if (with_trust) {
      auto* t = sub->add_option("--trust", a->trust, "Trust store file");
      if (trust_required) t->required();
      sub->add_option("--role", a->role, "Role whose threshold must be met")->capture_default_str();
      sub->add_option("--at", a->at, "Check expiry at this Unix time instead of now");
    }
    sub->add_flag("--json", a->json, "Machine-readable output");
    return std::make_pair(sub, a);
  };

  auto [verify, va] = add_read("verify", "Verify signatures, policy and every hash", true, true);
  verify->add_option("--hardware", va->hardware, "Refuse unless compatible with this hardware id");
  verify->add_option("--min-security-counter", va->min_security_counter,
                     "Refuse a bundle whose security counter is lower");
  OnParsed(verify, ctx, va, [](const auto& args) { return VerifyOrInspect(args, true); });

  auto [inspect, ia] = add_read("inspect", "Show a bundle's manifest and signatures", true, false);
  OnParsed(inspect, ctx, ia, [](const auto& args) { return VerifyOrInspect(args, false); });

  auto [sign, sa] = add_read("sign", "Co-sign a bundle (the manifest is unchanged)", false, false);
  sign->add_option("--key", sa->keys, "Private key(s) to add")->required();
  sign->add_option("--out", sa->out, "Write here instead of replacing BUNDLE");
  sign->add_option("--passphrase-file", sa->passphrase_file, "Passphrase for encrypted keys");
  OnParsed(sign, ctx, sa, [](const auto& args) { return Sign(args); });

  auto [extract, ea] =
      add_read("extract", "Write each payload's image into a directory", true, false);
  extract->add_option("--out", ea->out, "Output directory")->required();
  extract->add_option("--delta-source", ea->delta_source,
                      "Old image: apply delta payloads to it and write the new image (else the patch is written as NAME.delta)");
  OnParsed(extract, ctx, ea, [](const auto& args) { return Extract(args); });
}

}  // namespace uplift::cli
