// A tiny HTTP client for server tests (libcurl), with the device request signature.
#pragma once

#include <curl/curl.h>

#include <map>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/crypto/kdf.hpp"
#include "uplift/format/device_auth.hpp"

namespace uplift::testing {

struct HttpReply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // curl's, when status is 0
};

inline size_t CollectBody(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

inline size_t CollectHeader(char* p, size_t s, size_t n, void* out) {
  std::string line(p, s * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return s * n;
}

inline HttpReply Http(const std::string& method, const std::string& url,
                      const std::map<std::string, std::string>& headers = {},
                      const std::string& body = "", const std::string& upload_file = "") {
  HttpReply r;
  CURL* c = curl_easy_init();
  curl_slist* h = nullptr;
  for (const auto& [k, v] : headers) h = curl_slist_append(h, (k + ": " + v).c_str());
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  std::FILE* f = nullptr;
  if (!upload_file.empty()) {
    f = std::fopen(upload_file.c_str(), "rb");
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READDATA, f);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (f != nullptr) std::fclose(f);
  return r;
}

// The five Uplift-* headers of a signed device request.
inline std::map<std::string, std::string> SignedHeaders(
    const Bytes& credential, const std::string& method, const std::string& target,
    const std::string& tenant, const std::string& device, std::int64_t timestamp,
    const std::string& body, std::string nonce = "") {
  if (nonce.empty()) nonce = ToHex(crypto::RandomBytes(16).value());
  const format::SignedRequest req{method, target, tenant, device, timestamp, nonce, AsBytes(body)};
  return {{"Uplift-Tenant", tenant},
          {"Uplift-Device", device},
          {"Uplift-Timestamp", std::to_string(timestamp)},
          {"Uplift-Nonce", nonce},
          {"Uplift-Signature", format::SignRequest(credential, req)},
          {"Content-Type", "application/json"}};
}

}  // namespace uplift::testing
