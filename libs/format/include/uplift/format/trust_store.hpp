// The trust store: which public keys may sign what, with k-of-n thresholds per role and a list
// of revoked key ids. Specified in docs/formats/trust-store.md.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {

inline constexpr std::string_view kReleaseRole = "release";
inline constexpr std::size_t kMaxTrustStoreSize = 1024 * 1024;
inline constexpr std::size_t kMaxTrustedKeys = 256;

struct TrustedKey {
  crypto::PublicKey key;
  std::string role;
};

class TrustStore {
 public:
  // Parses the JSON file contents. kBadTrustStore with a precise message for anything wrong:
  // bad JSON, a key whose "id" is not the SHA-256 of its SPKI, an algorithm that disagrees with
  // the key, a threshold of 0, a role without threshold, more than kMaxTrustedKeys keys.
  static Result<TrustStore> Parse(ByteView bytes);
  // Pretty-printed JSON, keys sorted by role then id (stable diffs in version control).
  std::string Serialize() const;

  // Adds a key to a role (creating the role with threshold 1); replaces nothing: adding a key
  // that is already in the role is kBadTrustStore.
  Status AddKey(const crypto::PublicKey& key, const std::string& role);
  Status SetThreshold(const std::string& role, std::uint32_t threshold);
  // Revocation is permanent: the id stays listed even if the key is later removed.
  // kBadTrustStore unless key_id is 64 lower-case hex digits.
  Status Revoke(const std::string& key_id);

  bool IsRevoked(const std::string& key_id) const { return revoked_.contains(key_id); }
  // The key with this id in this role, or null.
  const crypto::PublicKey* Find(const std::string& key_id, std::string_view role) const;
  // 0 if the role is unknown.
  std::uint32_t Threshold(std::string_view role) const;
  const std::vector<TrustedKey>& keys() const { return keys_; }
  const std::map<std::string, std::uint32_t, std::less<>>& thresholds() const {
    return thresholds_;
  }
  const std::set<std::string>& revoked() const { return revoked_; }

 private:
  std::vector<TrustedKey> keys_;
  std::map<std::string, std::uint32_t, std::less<>> thresholds_;
  std::set<std::string> revoked_;
};

}  // namespace uplift::format
