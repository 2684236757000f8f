#include "nginx.hpp"

#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "child_process.hpp"
#include "loopback_socket.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"

extern char** environ;

namespace uplift::faultlab {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kStartLimit = std::chrono::seconds(10);
constexpr auto kStopLimit = std::chrono::seconds(5);
constexpr int kPortAttempts = 5;

// nginx's configuration syntax: a double-quoted string may not hold '"' or '\' unescaped, and
// '$' would start a variable in `root`.
Status CheckConfigPath(const std::string& what, const std::string& path) {
  for (const char c : path) {
    if (c == '"' || c == '\\' || c == '$' || static_cast<unsigned char>(c) < 0x20) {
      return Error(base::Errc::kInvalidArgument,
                   what + " path has a character nginx.conf cannot carry: " + path);
    }
  }
  return Ok();
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

std::string Config(const std::string& work, const std::string& root, std::uint16_t port,
                   const NginxOptions& o) {
  const bool tls = !o.tls_cert.empty();
  std::string c;
  c += "worker_processes 1;\n";
  c += "pid " + Quoted(work + "/nginx.pid") + ";\n";
  c += "error_log " + Quoted(work + "/error.log") + " warn;\n";
  if (::geteuid() == 0) {
    // Workers would otherwise drop to `nobody` and could not read a test's private directory.
    const passwd* pw = ::getpwuid(::geteuid());
    const group* gr = ::getgrgid(::getegid());
    if (pw != nullptr && gr != nullptr) {
      c += "user " + std::string(pw->pw_name) + " " + std::string(gr->gr_name) + ";\n";
    }
  }
  c += "events { worker_connections 512; }\n";
  c += "http {\n";
  c += "  access_log off;\n";
  c += "  sendfile on;\n";
  if (!o.extra_http_config.empty()) c += "  " + o.extra_http_config + "\n";
  c += "  default_type application/octet-stream;\n";
  c += "  keepalive_requests 100000;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    c += "  " + std::string(t) + "_temp_path " + Quoted(work + "/" + t + "_temp") + ";\n";
  }
  c += "  server {\n";
  c += "    listen 127.0.0.1:" + std::to_string(port) + (tls ? " ssl" : "") +
       (tls && o.http2 ? " http2" : "") + ";\n";
  c += "    server_name localhost;\n";
  c += "    root " + Quoted(root) + ";\n";
  if (tls) {
    c += "    ssl_certificate " + Quoted(o.tls_cert) + ";\n";
    c += "    ssl_certificate_key " + Quoted(o.tls_key) + ";\n";
  }
  c += "    location / { }\n";
  c += "  }\n";
  c += "}\n";
  return c;
}

// A port nobody listens on right now. Another process may take it before nginx binds it; Start()
// notices (nginx exits with "Address already in use") and tries another.
Result<std::uint16_t> FreePort() {
  UPLIFT_ASSIGN(Fd probe, ListenLoopback(0));
  return LocalPort(probe.get());
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return Error(base::Errc::kIo, "writing " + path + " failed");
  return Ok();
}

}  // namespace

Result<std::unique_ptr<NginxServer>> NginxServer::Start(const std::string& root_dir,
                                                        const NginxOptions& options) {
  UPLIFT_ASSIGN(const std::string nginx, FindProgram("UPLIFT_NGINX", "/usr/sbin/nginx", "nginx"));
  std::error_code ec;
  const fs::path root = fs::canonical(root_dir, ec);
  if (ec || !fs::is_directory(root)) {
    return Error(base::Errc::kNotFound, "nginx root " + root_dir + " is not a directory");
  }
  UPLIFT_TRY(CheckConfigPath("root", root.string()));
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (tls) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      return Error(base::Errc::kInvalidArgument, "nginx TLS needs both tls_cert and tls_key");
    }
    UPLIFT_TRY(CheckConfigPath("tls_cert", options.tls_cert));
    UPLIFT_TRY(CheckConfigPath("tls_key", options.tls_key));
  }
  std::string tmpl = (fs::temp_directory_path(ec) / "uplift-nginx-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoError("mkdtemp " + tmpl, errno);
  auto server = std::make_unique<NginxServer>(Token{}, tmpl, tls);
  const std::string& work = server->work_dir_;
  UPLIFT_TRY(CheckConfigPath("temporary directory", work));
  const std::string conf = work + "/nginx.conf";
  const std::string log = work + "/error.log";
  const std::string pid_file = work + "/nginx.pid";

  for (int attempt = 1;; ++attempt) {
    UPLIFT_ASSIGN(const std::uint16_t port, FreePort());
    UPLIFT_TRY(WriteText(conf, Config(work, root.string(), port, options)));
    ::unlink(pid_file.c_str());
    UPLIFT_ASSIGN(
        server->pid_,
        SpawnLogged({nginx, "-p", work + "/", "-e", log, "-c", conf, "-g", "daemon off;"}, log));
    server->port_ = port;
    // nginx writes its pid file only after it bound its listening sockets, so a connection that
    // succeeds once the file names our child reached this nginx and not a squatter on the port.
    const auto deadline = SteadyClock::now() + kStartLimit;
    bool exited = false;
    for (;;) {
      int status = 0;
      if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
        server->pid_ = -1;
        exited = true;
        break;
      }
      const std::string pid_text = ReadText(pid_file);
      if (!pid_text.empty() && std::atol(pid_text.c_str()) == server->pid_ &&
          ConnectLoopback(port).ok()) {
        return server;
      }
      if (SteadyClock::now() >= deadline) {
        return Error(base::Errc::kIo,
                     "nginx did not accept connections on 127.0.0.1:" + std::to_string(port) +
                         " within 10 s: " + LogTail(ReadText(log)));
      }
      ::poll(nullptr, 0, 10);  // readiness has no notification to wait on
    }
    const std::string tail = LogTail(ReadText(log));
    if (!exited || tail.find("Address already in use") == std::string::npos ||
        attempt == kPortAttempts) {
      return Error(base::Errc::kIo, "nginx exited during start-up: " + tail);
    }
  }
}

NginxServer::~NginxServer() {
  Stop();
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
}

void NginxServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);  // fast shutdown: the master stops its workers and waits for them
  const auto deadline = SteadyClock::now() + kStopLimit;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (SteadyClock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    ::poll(nullptr, 0, 10);
  }
  pid_ = -1;
}

std::string NginxServer::Url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

Status MakeSelfSignedCert(const std::string& dir, std::string* cert_path, std::string* key_path,
                          std::string* spki_sha256_pin) {
  UPLIFT_ASSIGN(const std::string openssl,
                FindProgram("UPLIFT_OPENSSL", "/usr/bin/openssl", "openssl"));
  const std::string cert = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  const std::string log = dir + "/openssl.log";
  UPLIFT_ASSIGN(const int rc, RunLogged({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                                         "-out", cert, "-days", "30", "-subj", "/CN=127.0.0.1",
                                         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
                                        log));
  const std::string output = ReadText(log);
  ::unlink(log.c_str());
  if (rc != 0) {
    return Error(base::Errc::kIo,
                 "openssl req exited with " + std::to_string(rc) + ": " + LogTail(output));
  }

  // curl pins the SHA-256 of the DER SubjectPublicKeyInfo.
  const auto fail = [&](const char* what) {
    return Error(base::Errc::kIo, std::string(what) + " for " + cert);
  };
  BIO* bio = BIO_new_file(cert.c_str(), "r");
  if (bio == nullptr) return fail("opening the certificate");
  X509* x509 = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (x509 == nullptr) return fail("parsing the certificate");
  unsigned char* der = nullptr;
  const int der_len = i2d_PUBKEY(X509_get0_pubkey(x509), &der);
  X509_free(x509);
  if (der_len <= 0) return fail("encoding the public key");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(der_len), digest, &digest_len,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return fail("hashing the public key");
  std::string b64(4 * ((digest_len + 2) / 3) + 1, '\0');
  const int b64_len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), digest,
                                      static_cast<int>(digest_len));
  b64.resize(static_cast<std::size_t>(b64_len));

  *cert_path = cert;
  *key_path = key;
  *spki_sha256_pin = "sha256//" + b64;
  return Ok();
}

}  // namespace uplift::faultlab
