#include "uplift/format/manifest.hpp"

#include <algorithm>
#include <set>

namespace uplift::format {
namespace {

// Fields this reader implements; a name listed in "critical" outside these sets is refused.
const std::set<std::string, std::less<>> kTopLevelFields = {
    "compatible", "created",  "critical", "expires",          "format",
    "metadata",   "payloads", "product",  "security_counter", "version"};
const std::set<std::string, std::less<>> kPayloadFields = {
    "chunk_size",   "chunks_root", "compression", "critical", "delta_source_sha256",
    "image_sha256", "image_size",  "name",        "sha256",   "size",
    "target"};

Error Bad(const std::string& path, const std::string& what) {
  return Error(Errc::kMalformedManifest, "manifest " + path + ": " + what);
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// A typed view of one JSON object that records the path for error messages.
class Fields {
 public:
  Fields(const Json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  Result<const Json*> Get(const char* key, bool required) const {
    const auto it = obj_.find(key);
    if (it == obj_.end()) {
      if (required) return Bad(path_, std::string("missing field \"") + key + "\"");
      return static_cast<const Json*>(nullptr);
    }
    return &*it;
  }

  Result<std::string> String(const char* key, std::size_t max_len, bool (*valid)(std::string_view),
                             const char* rule) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, true));
    if (!v->is_string()) return Bad(Path(key), "expected a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_len) return Bad(Path(key), "longer than " + std::to_string(max_len));
    if (valid && !valid(s)) return Bad(Path(key), std::string("must match ") + rule);
    return s;
  }

  Result<std::uint64_t> Unsigned(const char* key, std::uint64_t min, std::uint64_t max) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, true));
    return UnsignedOf(*v, Path(key), min, max);
  }

  Result<crypto::Sha256Digest> Digest(const Json& v, const std::string& path) const {
    if (!v.is_string()) return Bad(path, "expected a hex SHA-256 string");
    const auto& s = v.get_ref<const std::string&>();
    const auto bytes = FromHex(s);
    const bool lower =
        std::all_of(s.begin(), s.end(), [](char c) { return !(c >= 'A' && c <= 'F'); });
    if (!bytes || bytes->size() != 32 || !lower) {
      return Bad(path, "expected 64 lower-case hex digits");
    }
    crypto::Sha256Digest d;
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
  }

  Result<crypto::Sha256Digest> Digest(const char* key) const {
    UPLIFT_ASSIGN(const Json* v, Get(key, true));
    return Digest(*v, Path(key));
  }

  // Unknown fields are ignored unless listed in "critical"; each critical name must exist.
  Result<std::vector<std::string>> Critical(const std::set<std::string, std::less<>>& known) const {
    std::vector<std::string> out;
    UPLIFT_ASSIGN(const Json* v, Get("critical", false));
    if (!v) return out;
    if (!v->is_array()) return Bad(Path("critical"), "expected an array of field names");
    for (const auto& name : *v) {
      if (!name.is_string()) return Bad(Path("critical"), "expected an array of field names");
      const auto& s = name.get_ref<const std::string&>();
      if (!known.contains(s)) {
        return Error(Errc::kUnknownCritical,
                     "manifest " + Path("critical") + ": field \"" + s +
                         "\" is marked critical and this reader does not implement it");
      }
      if (obj_.find(s) == obj_.end()) {
        return Bad(Path("critical"), "names absent field \"" + s + "\"");
      }
      out.push_back(s);
    }
    return out;
  }

  std::string Path(const char* key) const { return path_ + "." + key; }

  static Result<std::uint64_t> UnsignedOf(const Json& v, const std::string& path, std::uint64_t min,
                                          std::uint64_t max) {
    if (!v.is_number_integer()) return Bad(path, "expected an integer");
    if (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0) {
      return Bad(path, "must not be negative");
    }
    const auto n = v.get<std::uint64_t>();
    if (n < min || n > max) {
      return Bad(path, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return n;
  }

 private:
  const Json& obj_;
  std::string path_;
};

Result<PayloadInfo> PayloadFromJson(const Json& j, const std::string& path) {
  if (!j.is_object()) return Bad(path, "expected an object");
  const Fields f(j, path);
  UPLIFT_TRY(f.Critical(kPayloadFields));
  PayloadInfo p;
  UPLIFT_ASSIGN(p.name, f.String("name", kMaxNameLength, IsValidName, "[a-z0-9][a-z0-9._-]*"));
  UPLIFT_ASSIGN(p.target, f.String("target", kMaxNameLength, IsValidName, "[a-z0-9][a-z0-9._-]*"));
  UPLIFT_ASSIGN(p.size, f.Unsigned("size", 0, kMaxPayloadSize));
  UPLIFT_ASSIGN(p.sha256, f.Digest("sha256"));
  UPLIFT_ASSIGN(const std::string compression, f.String("compression", 16, nullptr, ""));
  if (compression == "none") {
    p.compression = Compression::kNone;
  } else if (compression == "zstd") {
    p.compression = Compression::kZstd;
  } else {
    return Bad(f.Path("compression"), "must be \"none\" or \"zstd\"");
  }
  UPLIFT_ASSIGN(const std::uint64_t chunk, f.Unsigned("chunk_size", kMinChunkSize, kMaxChunkSize));
  if ((chunk & (chunk - 1)) != 0) return Bad(f.Path("chunk_size"), "must be a power of two");
  p.chunk_size = static_cast<std::uint32_t>(chunk);
  UPLIFT_ASSIGN(p.chunks_root, f.Digest("chunks_root"));
  UPLIFT_ASSIGN(p.image_size, f.Unsigned("image_size", 0, kMaxPayloadSize));
  UPLIFT_ASSIGN(p.image_sha256, f.Digest("image_sha256"));
  if (p.compression == Compression::kNone && !j.contains("delta_source_sha256") &&
      (p.image_size != p.size || p.image_sha256 != p.sha256)) {
    return Bad(path,
               "an uncompressed full image must have image_size/image_sha256 equal to "
               "size/sha256");
  }
  UPLIFT_ASSIGN(const Json* delta, f.Get("delta_source_sha256", false));
  if (delta) {
    UPLIFT_ASSIGN(p.delta_source_sha256, f.Digest(*delta, f.Path("delta_source_sha256")));
  }
  return p;
}

}  // namespace

std::string_view CompressionName(Compression c) {
  return c == Compression::kZstd ? "zstd" : "none";
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || !IsLowerAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool IsValidIdentifier(std::string_view id) {
  if (id.empty() || id.size() > kMaxNameLength || !IsAlnum(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return IsAlnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '+';
  });
}

std::uint64_t Manifest::total_chunks() const {
  std::uint64_t n = 0;
  for (const auto& p : payloads) n += p.chunk_count();
  return n;
}

std::uint64_t Manifest::total_payload_size() const {
  std::uint64_t n = 0;
  for (const auto& p : payloads) n += p.size;
  return n;
}

Result<Manifest> ManifestFromJson(const Json& j) {
  if (!j.is_object()) return Bad("$", "expected an object");
  const Fields f(j, "$");
  Manifest m;
  UPLIFT_ASSIGN(const std::uint64_t format, f.Unsigned("format", 0, kMaxJsonInteger));
  if (format != kManifestFormat) {
    return Error(Errc::kUnsupportedVersion, "manifest format " + std::to_string(format) +
                                                " is not supported (this reader "
                                                "knows " +
                                                std::to_string(kManifestFormat) + ")");
  }
  // After the format: a newer manifest's critical fields are judged by its own version.
  UPLIFT_ASSIGN(m.critical, f.Critical(kTopLevelFields));
  UPLIFT_ASSIGN(m.product, f.String("product", kMaxNameLength, IsValidIdentifier,
                                    "[A-Za-z0-9][A-Za-z0-9._:+-]*"));
  UPLIFT_ASSIGN(const std::string version, f.String("version", 128, nullptr, ""));
  const auto semver = SemVer::Parse(version);
  if (!semver) return Bad(f.Path("version"), "not a SemVer 2.0.0 version: \"" + version + "\"");
  m.version = *semver;
  UPLIFT_ASSIGN(m.security_counter, f.Unsigned("security_counter", 0, kMaxJsonInteger));

  UPLIFT_ASSIGN(const Json* compat, f.Get("compatible", true));
  if (!compat->is_array() || compat->empty() || compat->size() > kMaxCompatible) {
    return Bad(f.Path("compatible"),
               "expected 1 to " + std::to_string(kMaxCompatible) + " hardware ids");
  }
  for (const auto& hw : *compat) {
    if (!hw.is_string() || !IsValidIdentifier(hw.get_ref<const std::string&>())) {
      return Bad(f.Path("compatible"), "hardware ids must match [A-Za-z0-9][A-Za-z0-9._:+-]*");
    }
    const auto& s = hw.get_ref<const std::string&>();
    if (std::find(m.compatible.begin(), m.compatible.end(), s) != m.compatible.end()) {
      return Bad(f.Path("compatible"), "duplicate hardware id \"" + s + "\"");
    }
    m.compatible.push_back(s);
  }

  UPLIFT_ASSIGN(const std::uint64_t created, f.Unsigned("created", 0, kMaxJsonInteger));
  UPLIFT_ASSIGN(const std::uint64_t expires, f.Unsigned("expires", 0, kMaxJsonInteger));
  if (expires <= created) return Bad(f.Path("expires"), "must be after \"created\"");
  m.created = static_cast<std::int64_t>(created);
  m.expires = static_cast<std::int64_t>(expires);

  UPLIFT_ASSIGN(const Json* meta, f.Get("metadata", false));
  if (meta) {
    if (!meta->is_object() || meta->size() > kMaxMetadataEntries) {
      return Bad(f.Path("metadata"), "expected an object of at most " +
                                         std::to_string(kMaxMetadataEntries) + " strings");
    }
    for (const auto& [key, value] : meta->items()) {
      if (!IsValidIdentifier(key)) return Bad(f.Path("metadata"), "bad key \"" + key + "\"");
      if (!value.is_string() ||
          value.get_ref<const std::string&>().size() > kMaxMetadataValueLength) {
        return Bad(
            f.Path("metadata") + "." + key,
            "expected a string of at most " + std::to_string(kMaxMetadataValueLength) + " bytes");
      }
      m.metadata.emplace(key, value.get<std::string>());
    }
  }

  UPLIFT_ASSIGN(const Json* payloads, f.Get("payloads", true));
  if (!payloads->is_array() || payloads->empty() || payloads->size() > kMaxPayloads) {
    return Bad(f.Path("payloads"), "expected 1 to " + std::to_string(kMaxPayloads) + " payloads");
  }
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < payloads->size(); ++i) {
    const std::string path = f.Path("payloads") + "[" + std::to_string(i) + "]";
    UPLIFT_ASSIGN(PayloadInfo p, PayloadFromJson((*payloads)[i], path));
    for (const auto& other : m.payloads) {
      if (other.name == p.name) return Bad(path, "duplicate payload name \"" + p.name + "\"");
    }
    total += p.size;
    if (total > kMaxPayloadSize) return Bad(f.Path("payloads"), "total size beyond 2^53-1");
    m.payloads.push_back(std::move(p));
  }
  return m;
}

Result<Manifest> ParseManifest(ByteView bytes) {
  UPLIFT_ASSIGN(const Json j, ParseCanonicalJson(bytes));
  return ManifestFromJson(j);
}

Json ManifestToJson(const Manifest& m) {
  Json j = Json::object();
  j["format"] = kManifestFormat;
  j["product"] = m.product;
  j["version"] = m.version.ToString();
  j["security_counter"] = m.security_counter;
  j["compatible"] = m.compatible;
  j["created"] = m.created;
  j["expires"] = m.expires;
  if (!m.metadata.empty()) j["metadata"] = m.metadata;
  if (!m.critical.empty()) j["critical"] = m.critical;
  Json payloads = Json::array();
  for (const auto& p : m.payloads) {
    Json pj = Json::object();
    pj["name"] = p.name;
    pj["target"] = p.target;
    pj["size"] = p.size;
    pj["sha256"] = ToHex(p.sha256);
    pj["compression"] = std::string(CompressionName(p.compression));
    pj["chunk_size"] = p.chunk_size;
    pj["chunks_root"] = ToHex(p.chunks_root);
    pj["image_size"] = p.image_size;
    pj["image_sha256"] = ToHex(p.image_sha256);
    if (p.delta_source_sha256) pj["delta_source_sha256"] = ToHex(*p.delta_source_sha256);
    payloads.push_back(std::move(pj));
  }
  j["payloads"] = std::move(payloads);
  return j;
}

Result<std::string> SerializeManifest(const Manifest& m) {
  const Json j = ManifestToJson(m);
  // Round-trip through the reader's checks so a writer cannot sign what devices would refuse.
  UPLIFT_TRY(ManifestFromJson(j));
  return CanonicalJson(j);
}

}  // namespace uplift::format
