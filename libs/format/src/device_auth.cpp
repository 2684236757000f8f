#include "uplift/format/device_auth.hpp"

#include "uplift/crypto/hash.hpp"
#include "uplift/crypto/kdf.hpp"

namespace uplift::format {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

}  // namespace

bool IsValidTenantName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTenantLength || !IsLowerAlnum(name.front())) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsValidDeviceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxDeviceIdLength || id.front() == '.') return false;
  for (char c : id) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

bool IsValidNonce(std::string_view nonce) {
  if (nonce.size() < kMinNonceLength || nonce.size() > kMaxNonceLength) return false;
  for (char c : nonce) {
    if (!IsAlnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string CanonicalRequest(const SignedRequest& r) {
  const crypto::Sha256Digest body_hash = crypto::Sha256::Of(r.body);
  std::string s;
  s.reserve(256 + r.target.size());
  s.append(kAuthScheme).append("\n");
  s.append(r.method).append("\n");
  s.append(r.target).append("\n");
  s.append(r.tenant).append("\n");
  s.append(r.device_id).append("\n");
  s.append(std::to_string(r.timestamp)).append("\n");
  s.append(r.nonce).append("\n");
  s.append(ToHex(body_hash));
  return s;
}

std::string SignRequest(ByteView credential, const SignedRequest& request) {
  const std::string canonical = CanonicalRequest(request);
  return ToHex(crypto::HmacSha256(credential, AsBytes(canonical)));
}

bool VerifyRequestSignature(ByteView credential, const SignedRequest& request,
                            std::string_view signature_hex) {
  const std::string expected = SignRequest(credential, request);
  if (signature_hex.size() != expected.size()) return false;
  return crypto::ConstantTimeEqual(AsBytes(expected), AsBytes(signature_hex));
}

}  // namespace uplift::format
