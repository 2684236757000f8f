// A real nginx on 127.0.0.1 as the origin of integration tests: static files with Range and
// If-Range support, ETags and sendfile, optionally over TLS and HTTP/2. Each server gets its own
// temporary directory for configuration, pid file, logs and temp paths, and a free port.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "uplift/base/result.hpp"

namespace uplift::faultlab {

struct NginxOptions {
  std::string tls_cert{};  // PEM paths; both set: listen with TLS
  std::string tls_key{};
  bool http2 = false;             // with TLS: offer h2 through ALPN
  std::string extra_http_config;  // directives added to the http block (e.g. "max_ranges 0;")
};

class NginxServer {
 public:
  // Starts `nginx -c CONF -g 'daemon off;'` (the binary from $UPLIFT_NGINX, else /usr/sbin/nginx,
  // else PATH) serving root_dir, and returns once it accepts connections. Fails with
  // base::Errc::kNotFound when nginx or root_dir is missing, kInvalidArgument for a path nginx's
  // configuration syntax cannot carry, kIo when it does not come up within 10 s (the message ends
  // with the tail of its error log).
  [[nodiscard]] static Result<std::unique_ptr<NginxServer>> Start(const std::string& root_dir,
                                                                  const NginxOptions& options = {});
  // Stops nginx (SIGTERM, SIGKILL after 5 s), waits for it, removes the temporary directory.
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT/path" ("https://" with TLS); `path` should start with '/'.
  std::string Url(const std::string& path) const;
  // The directory holding nginx.conf and error.log.
  const std::string& work_dir() const { return work_dir_; }

  struct Token {  // keeps construction to Start()
   private:
    Token() = default;
    friend class NginxServer;
  };
  NginxServer(Token, std::string work_dir, bool tls) : work_dir_(std::move(work_dir)), tls_(tls) {}

 private:
  void Stop();

  std::string work_dir_;
  bool tls_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// Writes a self-signed certificate for 127.0.0.1 and localhost (EC P-256 key, SAN IP:127.0.0.1
// and DNS:localhost) into dir as cert.pem and key.pem with the openssl CLI, and computes curl's
// pinning string for it: "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)). Fails with
// base::Errc::kNotFound when openssl is missing, kIo when it fails (its stderr in the message).
[[nodiscard]] Status MakeSelfSignedCert(const std::string& dir, std::string* cert_path,
                                        std::string* key_path, std::string* spki_sha256_pin);

}  // namespace uplift::faultlab
