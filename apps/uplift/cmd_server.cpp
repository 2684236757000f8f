// `uplift server init|tenant-add` (local, on the data directory) and the admin commands that talk
// to a running server's admin API: `uplift release ...`, `uplift device ...`, `uplift artifact
// upload`. The server and token come from --server/--token or UPLIFT_SERVER/UPLIFT_TOKEN.
#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli.hpp"
#include "uplift/server/server.hpp"

namespace uplift::cli {
namespace {

using Json = nlohmann::json;

// Answers of the admin API as exit codes (docs/cli.md): 50..54.
enum class AdminErrc : int {
  kUnauthorized = 50,  // 401/403: wrong or missing token
  kNotFound = 51,      // 404
  kConflict = 52,      // 409: exists already / release missing for a delta
  kRejected = 53,      // 400/413/422: the server refused the request or the bundle
  kServer = 54,        // 5xx or an unreadable answer
};

}  // namespace
}  // namespace uplift::cli

UPLIFT_ERROR_DOMAIN(uplift::cli::AdminErrc, "admin")

namespace uplift::cli {
namespace {

struct AdminArgs {
  std::string server;
  std::string token;
  std::string token_file;
  bool json = false;
  // per command
  std::string path;
  std::string id;
  std::string hardware;
  std::string name;
  std::string target = "rootfs";
  std::string after;
  int limit = 100;
};

struct InitArgs {
  std::string data_dir;
  std::string database;
  std::string tenant = "default";
  std::string trust;
  std::string token_file;
  bool json = false;
};

Status ResolveServer(AdminArgs& a) {
  if (a.server.empty()) {
    if (const char* s = std::getenv("UPLIFT_SERVER")) a.server = s;
  }
  if (a.token.empty() && !a.token_file.empty()) {
    UPLIFT_ASSIGN(const Bytes t, ReadFile(a.token_file, 1024));
    a.token = std::string(AsChars(t));
    while (!a.token.empty() && (a.token.back() == '\n' || a.token.back() == '\r'))
      a.token.pop_back();
  }
  if (a.token.empty()) {
    if (const char* t = std::getenv("UPLIFT_TOKEN")) a.token = t;
  }
  if (a.server.empty()) {
    return Error(base::Errc::kInvalidArgument, "no server: pass --server URL or set UPLIFT_SERVER");
  }
  if (a.token.empty()) {
    return Error(base::Errc::kInvalidArgument,
                 "no admin token: pass --token/--token-file or set UPLIFT_TOKEN");
  }
  while (!a.server.empty() && a.server.back() == '/') a.server.pop_back();
  return Ok();
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct UploadState {
  std::FILE* file = nullptr;
  Progress* progress = nullptr;
  std::uint64_t sent = 0;
};

size_t ReadUpload(char* buf, size_t size, size_t n, void* p) {
  auto* u = static_cast<UploadState*>(p);
  const size_t got = std::fread(buf, 1, size * n, u->file);
  u->sent += got;
  if (u->progress != nullptr) u->progress->Update(u->sent);
  return got;
}

// One admin API call. `upload_path`: the body is that file, streamed.
Result<Json> Call(const AdminArgs& a, const std::string& method, const std::string& path,
                  const std::string& body = "", const std::string& upload_path = "") {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Error(AdminErrc::kServer, "curl_easy_init failed");
  std::string response;
  const std::string url = a.server + path;
  curl_slist* headers = nullptr;
  const std::string auth = "Authorization: Bearer " + a.token;
  headers = curl_slist_append(headers, auth.c_str());
  std::FILE* file = nullptr;
  std::optional<Progress> progress;
  UploadState upload;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!upload_path.empty()) {
    file = std::fopen(upload_path.c_str(), "rb");
    if (file == nullptr) {
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
      return ErrnoError("open " + upload_path, errno);
    }
    std::fseek(file, 0, SEEK_END);
    const long size = std::ftell(file);
    std::fseek(file, 0, SEEK_SET);
    progress.emplace("uploading", static_cast<std::uint64_t>(size), !a.json);
    upload = UploadState{file, &*progress, 0};
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (method == "POST" || method == "PUT") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (file != nullptr) std::fclose(file);
  if (progress) progress->Done();
  if (rc != CURLE_OK) {
    return Error(base::Errc::kUnavailable, url + ": " + curl_easy_strerror(rc));
  }
  Json j = Json::parse(response, nullptr, false);
  if (status >= 200 && status < 300) {
    if (j.is_discarded()) return Error(AdminErrc::kServer, url + ": answer is not JSON");
    return j;
  }
  std::string message = "HTTP " + std::to_string(status);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    message = j["error"].value("code", "") + ": " + j["error"].value("message", "");
  }
  AdminErrc code = AdminErrc::kServer;
  if (status == 401 || status == 403) code = AdminErrc::kUnauthorized;
  if (status == 404) code = AdminErrc::kNotFound;
  if (status == 409) code = AdminErrc::kConflict;
  if (status == 400 || status == 413 || status == 422) code = AdminErrc::kRejected;
  if (status >= 500) return Error(base::Errc::kUnavailable, message);
  return Error(code, message);
}

std::string Pad(std::string s, std::size_t w) {
  if (s.size() < w) s.resize(w, ' ');
  return s;
}

void PrintRelease(const Json& r) {
  std::printf("release %lld: %s %s%s\n", static_cast<long long>(r.value("id", 0LL)),
              r.value("product", "").c_str(), r.value("version", "").c_str(),
              r.value("deprecated", false) ? " (deprecated)" : "");
  std::printf("  image     %s (%llu bytes)\n", r.value("image_sha256", "").c_str(),
              static_cast<unsigned long long>(r.value("image_size", 0ULL)));
  std::string compat;
  for (const auto& c : r["compatible"])
    compat += (compat.empty() ? "" : ", ") + c.get<std::string>();
  std::printf("  hardware  %s\n", compat.c_str());
  for (const auto& v : r["variants"]) {
    const std::string kind = v.value("kind", "");
    std::printf("  %s %s %llu bytes%s\n", Pad(kind, 9).c_str(),
                v.value("artifact_sha256", "").c_str(),
                static_cast<unsigned long long>(v.value("size", 0ULL)),
                kind == "delta"
                    ? (" from " + v.value("delta_source_sha256", "").substr(0, 16) + "…").c_str()
                    : "");
  }
}

Status Output(const AdminArgs& a, const Json& j, const std::function<void(const Json&)>& human) {
  if (a.json) {
    PrintJson(j);
  } else {
    human(j);
  }
  return Ok();
}

void AddAdminOptions(CLI::App* sub, const std::shared_ptr<AdminArgs>& a) {
  sub->add_option("--server", a->server, "Server URL (default: $UPLIFT_SERVER)");
  sub->add_option("--token", a->token, "Admin token (default: $UPLIFT_TOKEN)");
  sub->add_option("--token-file", a->token_file, "Read the admin token from this file");
  sub->add_flag("--json", a->json, "Machine-readable output");
}

template <typename Fn>
void AdminCommand(CLI::App* sub, Context& ctx, const std::shared_ptr<AdminArgs>& a, Fn fn) {
  AddAdminOptions(sub, a);
  OnParsed(sub, ctx, a, [fn](AdminArgs& args) -> Status {
    UPLIFT_TRY(ResolveServer(args));
    return fn(args);
  });
}

Status Init(const InitArgs& a, bool add_tenant) {
  UPLIFT_ASSIGN(const Bytes trust, ReadFile(a.trust, 1 << 20));
  server::ServerConfig config;
  config.data_dir = a.data_dir;
  config.database = a.database;
  auto out = add_tenant ? server::AddTenant(config, a.tenant, std::string(AsChars(trust)))
                        : server::InitDataDir(config, a.tenant, std::string(AsChars(trust)));
  if (!out.ok()) return out.error();
  if (!a.token_file.empty()) {
    UPLIFT_TRY(WriteFileAtomic(a.token_file, AsBytes(out->admin_token + "\n"), 0600));
  }
  if (a.json) {
    PrintJson({{"ok", true},
               {"data_dir", a.data_dir},
               {"tenant", out->tenant},
               {"admin_token", out->admin_token},
               {"enrollment_secret", out->enrollment_secret}});
  } else {
    std::printf("%s tenant '%s' in %s\n", add_tenant ? "added" : "initialised", out->tenant.c_str(),
                a.data_dir.c_str());
    std::printf("admin token        %s\n", out->admin_token.c_str());
    std::printf("enrollment secret  %s\n", out->enrollment_secret.c_str());
    std::printf("Both are shown once and stored only as hashes: keep them now.\n");
  }
  return Ok();
}

}  // namespace

void RegisterServerCommands(CLI::App& app, Context& ctx) {
  // ---- local: the data directory ----
  auto* srv = app.add_subcommand("server", "Create a server data directory and tenants");
  srv->require_subcommand(1);
  for (bool add : {false, true}) {
    auto a = std::make_shared<InitArgs>();
    auto* sub = srv->add_subcommand(
        add ? "tenant-add" : "init",
        add ? "Add a tenant (trust store, admin token, enrollment secret) to a data directory"
            : "Create a data directory: secret key, database, first tenant, admin token");
    sub->add_option("--data", a->data_dir, "Data directory")->required();
    sub->add_option("--database", a->database,
                    "PostgreSQL connection string (default: SQLite in the data directory)");
    sub->add_option("--tenant", a->tenant, "Tenant name")->capture_default_str();
    sub->add_option("--trust", a->trust, "The tenant's trust store (uplift trust ...)")->required();
    sub->add_option("--token-file", a->token_file, "Also write the admin token here (0600)");
    sub->add_flag("--json", a->json, "Machine-readable output");
    OnParsed(sub, ctx, a, [add](const InitArgs& args) { return Init(args, add); });
  }

  // ---- remote: releases ----
  auto* rel = app.add_subcommand("release", "Publish and manage releases on a server");
  rel->require_subcommand(1);
  {
    auto a = std::make_shared<AdminArgs>();
    auto* sub = rel->add_subcommand(
        "publish", "Upload a bundle; the server verifies it against the tenant's trust store");
    sub->add_option("bundle", a->path,
                    "Bundle file (.upl): full, or a delta of a published release")
        ->required();
    sub->add_option("--target", a->target, "Payload target that is the device image")
        ->capture_default_str();
    AdminCommand(sub, ctx, a, [](AdminArgs& x) -> Status {
      UPLIFT_ASSIGN(Json r,
                    Call(x, "POST", "/api/admin/v1/releases?target=" + x.target, "", x.path));
      return Output(x, r, PrintRelease);
    });
  }
  {
    auto a = std::make_shared<AdminArgs>();
    auto* sub = rel->add_subcommand("list", "List releases, newest first");
    AdminCommand(sub, ctx, a, [](AdminArgs& x) -> Status {
      UPLIFT_ASSIGN(Json r, Call(x, "GET", "/api/admin/v1/releases"));
      return Output(x, r, [](const Json& j) {
        std::printf("%-6s %-24s %-16s %-8s %s\n", "ID", "PRODUCT", "VERSION", "VARIANTS", "STATE");
        for (const auto& rel_json : j["releases"]) {
          std::printf("%-6lld %-24s %-16s %-8zu %s\n",
                      static_cast<long long>(rel_json.value("id", 0LL)),
                      rel_json.value("product", "").c_str(), rel_json.value("version", "").c_str(),
                      rel_json["variants"].size(),
                      rel_json.value("deprecated", false) ? "deprecated" : "active");
        }
      });
    });
  }
  for (const char* verb : {"show", "deprecate", "undeprecate"}) {
    auto a = std::make_shared<AdminArgs>();
    const std::string v = verb;
    auto* sub = rel->add_subcommand(verb, v == "show"        ? "Show a release"
                                          : v == "deprecate" ? "Stop offering a release"
                                                             : "Offer a deprecated release again");
    sub->add_option("id", a->id, "Release id")->required();
    AdminCommand(sub, ctx, a, [v](AdminArgs& x) -> Status {
      const std::string path = "/api/admin/v1/releases/" + x.id + (v == "show" ? "" : "/" + v);
      UPLIFT_ASSIGN(Json r, Call(x, v == "show" ? "GET" : "POST", path, "{}"));
      return Output(x, r, PrintRelease);
    });
  }

  // ---- remote: devices ----
  auto* dev = app.add_subcommand("device", "Inspect and provision devices on a server");
  dev->require_subcommand(1);
  {
    auto a = std::make_shared<AdminArgs>();
    auto* sub = dev->add_subcommand("list", "List devices (by id)");
    sub->add_option("--after", a->after, "Start after this device id (paging)");
    sub->add_option("--limit", a->limit, "At most this many")->check(CLI::Range(1, 1000));
    AdminCommand(sub, ctx, a, [](AdminArgs& x) -> Status {
      UPLIFT_ASSIGN(Json r, Call(x, "GET",
                                 "/api/admin/v1/devices?limit=" + std::to_string(x.limit) +
                                     (x.after.empty() ? "" : "&after=" + x.after)));
      return Output(x, r, [](const Json& j) {
        std::printf("%-32s %-16s %-12s %s\n", "DEVICE", "HARDWARE", "VERSION", "LAST SEEN");
        for (const auto& d : j["devices"]) {
          std::printf("%-32s %-16s %-12s %lld\n", d.value("device_id", "").c_str(),
                      d.value("hardware", "").c_str(), d.value("version", "-").c_str(),
                      static_cast<long long>(d.value("last_seen", 0LL)));
        }
        if (j.contains("next")) {
          std::printf("(more: --after %s)\n", j["next"].get<std::string>().c_str());
        }
      });
    });
  }
  {
    auto a = std::make_shared<AdminArgs>();
    auto* sub = dev->add_subcommand("show", "A device: record, inventory and its report log");
    sub->add_option("id", a->id, "Device id")->required();
    AdminCommand(sub, ctx, a, [](AdminArgs& x) -> Status {
      UPLIFT_ASSIGN(Json r, Call(x, "GET", "/api/admin/v1/devices/" + x.id));
      return Output(x, r, [](const Json& j) {
        std::printf("device     %s\nhardware   %s\norigin     %s\nlast seen  %lld\n",
                    j.value("device_id", "").c_str(), j.value("hardware", "").c_str(),
                    j.value("origin", "").c_str(),
                    static_cast<long long>(j.value("last_seen", 0LL)));
        if (j.contains("inventory") && j["inventory"].is_object()) {
          std::printf("version    %s\nimage      %s\n", j["inventory"].value("version", "").c_str(),
                      j["inventory"].value("image_sha256", "").c_str());
        }
        std::printf("reports:\n");
        for (const auto& rep : j["reports"]) {
          std::printf("  %lld  release %lld  %-12s %3d%%  %s %s\n",
                      static_cast<long long>(rep.value("time", 0LL)),
                      static_cast<long long>(rep.value("release_id", 0LL)),
                      rep.value("phase", "").c_str(), rep.value("progress", 0),
                      rep.value("result", "").c_str(), rep.value("reason", "").c_str());
        }
      });
    });
  }
  for (bool rotate : {false, true}) {
    auto a = std::make_shared<AdminArgs>();
    auto* sub = dev->add_subcommand(
        rotate ? "rotate" : "add",
        rotate ? "Revoke a device's credential and issue a new one"
               : "Pre-provision a device; prints its credential (install it on the device)");
    sub->add_option("id", a->id, "Device id")->required();
    if (!rotate) sub->add_option("--hardware", a->hardware, "Hardware id of the device");
    AdminCommand(sub, ctx, a, [rotate](AdminArgs& x) -> Status {
      Json r;
      if (rotate) {
        UPLIFT_ASSIGN(r, Call(x, "POST", "/api/admin/v1/devices/" + x.id + "/rotate", "{}"));
      } else {
        UPLIFT_ASSIGN(r, Call(x, "POST", "/api/admin/v1/devices",
                              Json{{"device_id", x.id}, {"hardware", x.hardware}}.dump()));
      }
      return Output(x, r, [](const Json& j) {
        std::printf("device %s, credential generation %lld\ncredential %s\n",
                    j.value("device_id", "").c_str(),
                    static_cast<long long>(j.value("credential_generation", 0LL)),
                    j.value("credential", "").c_str());
      });
    });
  }

  // ---- remote: foreign artifacts ----
  auto* art = app.add_subcommand("artifact", "Store artifacts other than bundles on a server");
  art->require_subcommand(1);
  {
    auto a = std::make_shared<AdminArgs>();
    auto* sub = art->add_subcommand("upload", "Store a file as-is (e.g. an SWUpdate .swu)");
    sub->add_option("file", a->path, "The file")->required()->check(CLI::ExistingFile);
    sub->add_option("--name", a->name, "Download name (default: the file's name)");
    AdminCommand(sub, ctx, a, [](AdminArgs& x) -> Status {
      std::string name = x.name;
      if (name.empty()) name = x.path.substr(x.path.find_last_of('/') + 1);
      UPLIFT_ASSIGN(Json r, Call(x, "POST", "/api/admin/v1/artifacts?name=" + name, "", x.path));
      return Output(x, r, [](const Json& j) {
        std::printf("stored %s (%llu bytes) as %s\n", j.value("name", "").c_str(),
                    static_cast<unsigned long long>(j.value("size", 0ULL)),
                    j.value("sha256", "").c_str());
      });
    });
  }
}

int AdminExitCode(const Error& e) {
  if (e.domain() == ErrorDomainOf<AdminErrc>::kName) return e.code();
  if (e.Is(server::ServerErrc::kInitExists)) return kExitExists;
  if (e.Is(server::ServerErrc::kConfig)) return kExitUsage;
  if (e.Is(server::ServerErrc::kDataDir)) return kExitIo;
  return -1;
}

}  // namespace uplift::cli
