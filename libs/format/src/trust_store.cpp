#include "uplift/format/trust_store.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "uplift/format/manifest.hpp"

namespace uplift::format {
namespace {

constexpr int kTrustStoreFormat = 1;

Error Bad(const std::string& what) { return Error(Errc::kBadTrustStore, "trust store: " + what); }

bool IsKeyId(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Result<TrustStore> TrustStore::Parse(ByteView bytes) {
  if (bytes.size() > kMaxTrustStoreSize) return Bad("larger than 1 MiB");
  const auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  if (!j.contains("format") || !j["format"].is_number_unsigned() ||
      j["format"].get<std::uint64_t>() != kTrustStoreFormat) {
    return Bad("\"format\" must be " + std::to_string(kTrustStoreFormat));
  }
  TrustStore ts;
  if (j.contains("roles")) {
    const auto& roles = j["roles"];
    if (!roles.is_object()) return Bad("\"roles\" must be an object");
    for (const auto& [role, spec] : roles.items()) {
      if (!IsValidName(role)) return Bad("bad role name \"" + role + "\"");
      if (!spec.is_object() || !spec.contains("threshold") ||
          !spec["threshold"].is_number_unsigned() || spec["threshold"].get<std::uint64_t>() == 0 ||
          spec["threshold"].get<std::uint64_t>() > kMaxTrustedKeys) {
        return Bad("role \"" + role + "\" needs a threshold between 1 and " +
                   std::to_string(kMaxTrustedKeys));
      }
      ts.thresholds_[role] = spec["threshold"].get<std::uint32_t>();
    }
  }
  if (j.contains("revoked")) {
    if (!j["revoked"].is_array()) return Bad("\"revoked\" must be an array of key ids");
    for (const auto& id : j["revoked"]) {
      if (!id.is_string() || !IsKeyId(id.get<std::string>())) {
        return Bad("\"revoked\" must hold 64-hex-digit key ids");
      }
      ts.revoked_.insert(id.get<std::string>());
    }
  }
  if (j.contains("keys")) {
    if (!j["keys"].is_array()) return Bad("\"keys\" must be an array");
    if (j["keys"].size() > kMaxTrustedKeys) return Bad("too many keys");
    std::size_t i = 0;
    for (const auto& k : j["keys"]) {
      const std::string where = "keys[" + std::to_string(i++) + "]";
      if (!k.is_object()) return Bad(where + " must be an object");
      for (const char* field : {"id", "role", "algorithm", "public_key"}) {
        if (!k.contains(field) || !k[field].is_string()) {
          return Bad(where + " needs string field \"" + field + "\"");
        }
      }
      auto key = crypto::PublicKey::FromPem(k["public_key"].get<std::string>());
      if (!key.ok()) return Bad(where + ": " + key.error().message());
      if (key->id() != k["id"].get<std::string>()) {
        return Bad(where + ": \"id\" is not the SHA-256 of the key (expected " + key->id() + ")");
      }
      if (crypto::AlgorithmName(key->algorithm()) != k["algorithm"].get<std::string>()) {
        return Bad(where + ": \"algorithm\" does not match the key (" +
                   std::string(crypto::AlgorithmName(key->algorithm())) + ")");
      }
      const auto role = k["role"].get<std::string>();
      if (!ts.thresholds_.contains(role))
        return Bad(where + ": role \"" + role + "\" is not defined");
      if (ts.Find(key->id(), role)) return Bad(where + ": key listed twice in role " + role);
      ts.keys_.push_back({std::move(*key), role});
    }
  }
  return ts;
}

std::string TrustStore::Serialize() const {
  nlohmann::ordered_json j;
  j["format"] = kTrustStoreFormat;
  nlohmann::ordered_json roles = nlohmann::ordered_json::object();
  for (const auto& [role, threshold] : thresholds_) roles[role] = {{"threshold", threshold}};
  j["roles"] = roles;
  std::vector<const TrustedKey*> sorted;
  for (const auto& k : keys_) sorted.push_back(&k);
  std::sort(sorted.begin(), sorted.end(), [](const TrustedKey* a, const TrustedKey* b) {
    return std::tie(a->role, a->key.id()) < std::tie(b->role, b->key.id());
  });
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  for (const auto* k : sorted) {
    keys.push_back({{"id", k->key.id()},
                    {"role", k->role},
                    {"algorithm", crypto::AlgorithmName(k->key.algorithm())},
                    {"public_key", k->key.ToPem()}});
  }
  j["keys"] = keys;
  j["revoked"] = revoked_;
  return j.dump(2) + "\n";
}

Status TrustStore::AddKey(const crypto::PublicKey& key, const std::string& role) {
  if (!IsValidName(role)) return Bad("bad role name \"" + role + "\"");
  if (keys_.size() >= kMaxTrustedKeys) return Bad("too many keys");
  if (Find(key.id(), role)) return Bad("key " + key.id() + " is already in role " + role);
  thresholds_.try_emplace(role, 1);
  keys_.push_back({key, role});
  return Ok();
}

Status TrustStore::SetThreshold(const std::string& role, std::uint32_t threshold) {
  if (!IsValidName(role)) return Bad("bad role name \"" + role + "\"");
  if (threshold == 0 || threshold > kMaxTrustedKeys) {
    return Bad("threshold must be between 1 and " + std::to_string(kMaxTrustedKeys));
  }
  thresholds_[role] = threshold;
  return Ok();
}

Status TrustStore::Revoke(const std::string& key_id) {
  if (!IsKeyId(key_id)) return Bad("\"" + key_id + "\" is not a key id (64 lower-case hex digits)");
  revoked_.insert(key_id);
  return Ok();
}

const crypto::PublicKey* TrustStore::Find(const std::string& key_id, std::string_view role) const {
  for (const auto& k : keys_) {
    if (k.role == role && k.key.id() == key_id) return &k.key;
  }
  return nullptr;
}

std::uint32_t TrustStore::Threshold(std::string_view role) const {
  const auto it = thresholds_.find(role);
  return it == thresholds_.end() ? 0 : it->second;
}

}  // namespace uplift::format
