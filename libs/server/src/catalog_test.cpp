// The catalog's behaviour, the same tests on SQLite and on a real PostgreSQL (started on
// 127.0.0.1 by the test): every method, tenant isolation, kExists / kNotFound / kInvalid, the
// releases generation, replay detection (also across a reopen, and across two PostgreSQL
// "instances" racing on one nonce), the migration of a version-1 database, and the device store
// and the catalog opening one database in either order or from two processes at once.
#include "uplift/server/catalog.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "postgres.hpp"
#include "postgres_schema.hpp"
#include "sqlite_schema.hpp"

namespace uplift::server {
namespace {

namespace fs = std::filesystem;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

faultlab::PostgresServer& Postgres() {
  static std::unique_ptr<faultlab::PostgresServer> server = [] {
    auto s = faultlab::PostgresServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << "postgres: " << s.error().message();
      std::abort();
    }
    return std::move(s).value();
  }();
  return *server;
}

template <typename R>
AssertionResult Succeeds(const R& r) {
  if (r.ok()) return AssertionSuccess();
  return AssertionFailure() << r.error().domain() << " " << r.error().code() << ": "
                            << r.error().message();
}

template <typename R, typename E>
AssertionResult Fails(const R& r, E code) {
  if (r.ok()) return AssertionFailure() << "succeeded";
  if (!r.error().Is(code)) {
    return AssertionFailure() << "failed with " << r.error().domain() << " " << r.error().code()
                              << ": " << r.error().message();
  }
  return AssertionSuccess();
}

std::string Sha(unsigned i) {
  char b[65];
  std::snprintf(b, sizeof b, "%064x", i);
  return b;
}

struct Backend {
  const char* name;
};

class CatalogTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-catalog-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    // Tests share one PostgreSQL database: each names its tenants after itself.
    for (char ch : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      if (std::isalnum(static_cast<unsigned char>(ch))) {
        prefix_ += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }
    prefix_ = prefix_.substr(0, 50);
  }
  void TearDown() override { fs::remove_all(dir_); }

  bool postgres() const { return std::string(GetParam().name) == "postgres"; }
  std::string Db() const { return postgres() ? Postgres().ConnectionString() : dir_ + "/db"; }

  // A database of its own (the migration tests need an empty one).
  std::string FreshDb(const std::string& name) const {
    if (!postgres()) return dir_ + "/" + name + ".db";
    const std::string db = prefix_ + "_" + name;
    pqxx::connection c(Postgres().ConnectionString());
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + db);
    std::string conninfo = Postgres().ConnectionString();
    conninfo.replace(conninfo.find("dbname=uplift"), 13, "dbname=" + db);
    return conninfo;
  }

  Result<std::unique_ptr<Catalog>> OpenCatalog(const std::string& db) const {
    return postgres() ? OpenPostgresCatalog(db) : OpenSqliteCatalog(db);
  }
  Result<std::unique_ptr<DeviceStore>> OpenStore(const std::string& db) const {
    return postgres() ? OpenPostgresStore(db) : OpenSqliteStore(db);
  }
  Result<std::unique_ptr<Catalog>> Open() const { return OpenCatalog(Db()); }

  std::string T(const std::string& suffix) const { return prefix_ + "-" + suffix; }

  TenantRecord Tenant(const std::string& name) const {
    return TenantRecord{name, R"({"roots":[]})", Sha(7), 1'700'000'000};
  }
  static DeviceRecord Device(const std::string& tenant, const std::string& id) {
    return DeviceRecord{tenant, id, "cooker-v2", 1, "enrolled", 1'700'000'001};
  }
  static ArtifactRecord Artifact(const std::string& tenant, unsigned i, std::uint64_t size) {
    return ArtifactRecord{
        tenant, Sha(i), size, "bundle", "cooker-" + std::to_string(i) + ".upb", 1'700'000'002};
  }
  static ReleaseRecord Release(const std::string& tenant, const std::string& version,
                               std::vector<ReleaseVariant> variants) {
    ReleaseRecord r;
    r.tenant = tenant;
    r.product = "cooker-fw";
    r.version = version;
    r.security_counter = 3;
    r.compatible = {"cooker-v3", "cooker-v2"};
    r.image_sha256 = Sha(900);
    r.image_size = 1 << 20;
    r.created = 1'700'000'003;
    r.variants = std::move(variants);
    return r;
  }

  std::string dir_;
  std::string prefix_;
};

#define OPEN_CATALOG(var)         \
  auto var##_r = Open();          \
  ASSERT_TRUE(Succeeds(var##_r)); \
  Catalog& var = **var##_r

TEST_P(CatalogTest, TenantsAreCreatedReadListedAndUpdated) {
  OPEN_CATALOG(c);
  TenantRecord a = Tenant(T("a"));
  TenantRecord b = Tenant(T("b"));
  b.enrollment_secret_sha256 = "";  // enrollment closed
  ASSERT_TRUE(Succeeds(c.CreateTenant(b)));
  ASSERT_TRUE(Succeeds(c.CreateTenant(a)));
  EXPECT_TRUE(Fails(c.CreateTenant(a), CatalogErrc::kExists));
  auto got = c.GetTenant(a.name);
  ASSERT_TRUE(Succeeds(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, a);
  EXPECT_FALSE(c.GetTenant(T("nobody"))->has_value());
  auto all = c.ListTenants();
  ASSERT_TRUE(Succeeds(all));
  std::vector<TenantRecord> mine;
  for (const auto& t : *all) {
    if (t.name.rfind(prefix_ + "-", 0) == 0) mine.push_back(t);
  }
  EXPECT_EQ(mine, (std::vector<TenantRecord>{a, b}));  // ordered by name

  a.trust_store_json = R"({"roots":["k1"]})";
  a.enrollment_secret_sha256 = Sha(8);
  ASSERT_TRUE(Succeeds(c.UpdateTenant(a)));
  EXPECT_EQ(c.GetTenant(a.name)->value(), a);
  EXPECT_TRUE(Fails(c.UpdateTenant(Tenant(T("nobody"))), CatalogErrc::kNotFound));
}

TEST_P(CatalogTest, BadValuesAreRefusedBeforeTheDatabase) {
  OPEN_CATALOG(c);
  for (const std::string& name :
       {std::string(), std::string("Upper"), std::string("-lead"), std::string(64, 'a'),
        std::string("a_b"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(Fails(c.CreateTenant(Tenant(name)), StoreErrc::kInvalid)) << name;
    EXPECT_TRUE(Fails(c.GetTenant(name), StoreErrc::kInvalid)) << name;
  }
  TenantRecord t = Tenant(T("t"));
  t.enrollment_secret_sha256 = Sha(1).substr(1);
  EXPECT_TRUE(Fails(c.CreateTenant(t), StoreErrc::kInvalid));
  t.enrollment_secret_sha256 = std::string(64, 'A');  // upper-case hex
  EXPECT_TRUE(Fails(c.CreateTenant(t), StoreErrc::kInvalid));
  t = Tenant(T("t"));
  t.trust_store_json = std::string(64 * 1024 + 1, ' ');
  EXPECT_TRUE(Fails(c.CreateTenant(t), StoreErrc::kInvalid));
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("t")))));

  for (const std::string& id : {std::string(), std::string(".hidden"), std::string("a/b"),
                                std::string(129, 'd'), std::string("sp ace")}) {
    EXPECT_TRUE(Fails(c.CreateDevice(Device(T("t"), id)), StoreErrc::kInvalid)) << id;
    EXPECT_TRUE(Fails(c.GetDevice(T("t"), id), StoreErrc::kInvalid)) << id;
  }
  DeviceRecord d = Device(T("t"), "dev");
  d.origin = "stolen";
  EXPECT_TRUE(Fails(c.CreateDevice(d), StoreErrc::kInvalid));
  d = Device(T("t"), "dev");
  d.credential_generation = 0;
  EXPECT_TRUE(Fails(c.CreateDevice(d), StoreErrc::kInvalid));
  d = Device(T("t"), "dev");
  d.hardware = "";
  EXPECT_TRUE(Fails(c.CreateDevice(d), StoreErrc::kInvalid));

  ArtifactRecord a = Artifact(T("t"), 1, 10);
  a.size = 1ULL << 53;
  EXPECT_TRUE(Fails(c.PutArtifact(a), StoreErrc::kInvalid));
  a = Artifact(T("t"), 1, 10);
  a.name = "../etc/passwd";
  EXPECT_TRUE(Fails(c.PutArtifact(a), StoreErrc::kInvalid));
  a = Artifact(T("t"), 1, 10);
  a.kind = "zip";
  EXPECT_TRUE(Fails(c.PutArtifact(a), StoreErrc::kInvalid));
  EXPECT_TRUE(Fails(c.GetArtifact(T("t"), "XYZ"), StoreErrc::kInvalid));

  TokenRecord tok{Sha(5), T("t"), "", 1};
  EXPECT_TRUE(Fails(c.AddToken(tok), StoreErrc::kInvalid));  // empty name
  EXPECT_TRUE(Fails(c.FindToken("secret-in-clear"), StoreErrc::kInvalid));
  EXPECT_TRUE(Fails(c.RecordNonce(T("t"), "dev", "short", 1), StoreErrc::kInvalid));
  EXPECT_TRUE(Fails(c.RecordNonce(T("t"), "dev", std::string(65, 'n'), 1), StoreErrc::kInvalid));
  EXPECT_TRUE(Fails(c.RecordNonce(T("t"), "dev", "0123456789abcdef!", 1), StoreErrc::kInvalid));

  ASSERT_TRUE(Succeeds(c.PutArtifact(Artifact(T("t"), 1, 10))));
  const std::vector<ReleaseVariant> full = {{Sha(1), 10, ""}};
  ReleaseRecord r = Release(T("t"), "1.0", full);  // not SemVer
  EXPECT_TRUE(Fails(c.CreateRelease(r), StoreErrc::kInvalid));
  r = Release(T("t"), "1.0.0", {{Sha(1), 10, ""}, {Sha(1), 10, ""}});  // two full variants
  EXPECT_TRUE(Fails(c.CreateRelease(r), StoreErrc::kInvalid));
  r = Release(T("t"), "1.0.0", full);
  r.compatible = {"cooker-v2", "cooker-v2"};
  EXPECT_TRUE(Fails(c.CreateRelease(r), StoreErrc::kInvalid));
  r.compatible.clear();
  for (int i = 0; i < 65; ++i) r.compatible.push_back("hw-" + std::to_string(i));
  EXPECT_TRUE(Fails(c.CreateRelease(r), StoreErrc::kInvalid));
  r = Release(T("t"), "1.0.0", full);
  r.product = "cooker fw";
  EXPECT_TRUE(Fails(c.CreateRelease(r), StoreErrc::kInvalid));
  r = Release(T("t"), "1.0.0", full);
  r.security_counter = 1ULL << 53;
  EXPECT_TRUE(Fails(c.CreateRelease(r), StoreErrc::kInvalid));
  EXPECT_TRUE(c.ListReleases(T("t"))->empty());
  EXPECT_EQ(*c.ReleasesGeneration(T("t")), 0);
}

TEST_P(CatalogTest, TokensAreFoundByHashAndRevoked) {
  OPEN_CATALOG(c);
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("a")))));
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("b")))));
  const TokenRecord ci{Sha(100), T("a"), "ci", 5};
  const TokenRecord alice{Sha(101), T("b"), "alice <alice@example.com>", 6};
  ASSERT_TRUE(Succeeds(c.AddToken(ci)));
  ASSERT_TRUE(Succeeds(c.AddToken(alice)));
  EXPECT_TRUE(Fails(c.AddToken(TokenRecord{Sha(100), T("b"), "again", 7}), CatalogErrc::kExists));
  EXPECT_TRUE(
      Fails(c.AddToken(TokenRecord{Sha(102), T("nobody"), "x", 7}), CatalogErrc::kNotFound));
  // A token names its tenant: A's token never authenticates for B.
  EXPECT_EQ(c.FindToken(Sha(100))->value(), ci);
  EXPECT_EQ(c.FindToken(Sha(101))->value(), alice);
  EXPECT_FALSE(c.FindToken(Sha(102))->has_value());
  ASSERT_TRUE(Succeeds(c.RevokeToken(Sha(100))));
  EXPECT_FALSE(c.FindToken(Sha(100))->has_value());
  EXPECT_TRUE(Fails(c.RevokeToken(Sha(100)), CatalogErrc::kNotFound));
  EXPECT_TRUE(c.FindToken(Sha(101))->has_value());
}

TEST_P(CatalogTest, DevicesAreKeyedByTenantPagedAndRotated) {
  OPEN_CATALOG(c);
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("a")))));
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("b")))));
  for (const char* id : {"dev-c", "dev-a", "dev-d", "dev-b"}) {
    ASSERT_TRUE(Succeeds(c.CreateDevice(Device(T("a"), id))));
  }
  DeviceRecord other = Device(T("b"), "dev-a");
  other.hardware = "fridge-v1";
  other.origin = "provisioned";
  ASSERT_TRUE(Succeeds(c.CreateDevice(other)));
  EXPECT_TRUE(Fails(c.CreateDevice(Device(T("a"), "dev-a")), CatalogErrc::kExists));
  EXPECT_TRUE(Fails(c.CreateDevice(Device(T("nobody"), "dev-a")), CatalogErrc::kNotFound));

  EXPECT_EQ(c.GetDevice(T("a"), "dev-a")->value(), Device(T("a"), "dev-a"));
  EXPECT_EQ(c.GetDevice(T("b"), "dev-a")->value(), other);
  EXPECT_FALSE(c.GetDevice(T("b"), "dev-b")->has_value());

  auto ids = [](const std::vector<DeviceRecord>& v) {
    std::vector<std::string> out;
    for (const auto& d : v) out.push_back(d.device_id);
    return out;
  };
  auto page = c.ListDevices(T("a"), "", 2);
  ASSERT_TRUE(Succeeds(page));
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"dev-a", "dev-b"}));
  page = c.ListDevices(T("a"), "dev-b", 10);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"dev-c", "dev-d"}));
  EXPECT_TRUE(c.ListDevices(T("a"), "dev-d", 10)->empty());
  EXPECT_EQ(ids(*c.ListDevices(T("b"), "", 10)), std::vector<std::string>{"dev-a"});

  EXPECT_EQ(*c.RotateCredential(T("a"), "dev-b"), 2);
  EXPECT_EQ(*c.RotateCredential(T("a"), "dev-b"), 3);
  EXPECT_EQ(c.GetDevice(T("a"), "dev-b")->value().credential_generation, 3);
  EXPECT_EQ(c.GetDevice(T("b"), "dev-a")->value().credential_generation, 1);
  EXPECT_TRUE(Fails(c.RotateCredential(T("b"), "dev-b"), CatalogErrc::kNotFound));
}

TEST_P(CatalogTest, ArtifactsAreIdempotentPerTenant) {
  OPEN_CATALOG(c);
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("a")))));
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("b")))));
  const ArtifactRecord a = Artifact(T("a"), 1, 4096);
  ASSERT_TRUE(Succeeds(c.PutArtifact(a)));
  ASSERT_TRUE(Succeeds(c.PutArtifact(a)));  // a re-upload of the same content
  ArtifactRecord renamed = a;
  renamed.name = "other-name.upb";
  ASSERT_TRUE(Succeeds(c.PutArtifact(renamed)));
  EXPECT_EQ(c.GetArtifact(T("a"), Sha(1))->value(), a);  // the first name stays
  ArtifactRecord lying = a;
  lying.size = 4097;
  EXPECT_TRUE(Fails(c.PutArtifact(lying), CatalogErrc::kExists));
  EXPECT_FALSE(c.GetArtifact(T("b"), Sha(1))->has_value());
  EXPECT_TRUE(Fails(c.PutArtifact(Artifact(T("nobody"), 1, 1)), CatalogErrc::kNotFound));
  ArtifactRecord foreign = Artifact(T("b"), 1, 77);  // same content address, other tenant
  foreign.kind = "foreign";
  foreign.name = "update.swu";
  ASSERT_TRUE(Succeeds(c.PutArtifact(foreign)));
  EXPECT_EQ(c.GetArtifact(T("b"), Sha(1))->value(), foreign);
  EXPECT_EQ(c.GetArtifact(T("a"), Sha(1))->value(), a);
}

TEST_P(CatalogTest, ReleasesKeepTheirVariantsAndGenerationCountsChanges) {
  OPEN_CATALOG(c);
  const std::string a = T("a"), b = T("b");
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(a))));
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(b))));
  for (unsigned i : {1u, 2u, 3u, 4u}) ASSERT_TRUE(Succeeds(c.PutArtifact(Artifact(a, i, i * 100))));
  EXPECT_EQ(*c.ReleasesGeneration(a), 0);

  const ReleaseVariant full{Sha(1), 100, ""};
  const ReleaseVariant delta1{Sha(2), 200, Sha(500)};
  ReleaseRecord v1 = Release(a, "1.0.0", {delta1, full});
  auto id1 = c.CreateRelease(v1);
  ASSERT_TRUE(Succeeds(id1));
  EXPECT_EQ(*c.ReleasesGeneration(a), 1);
  v1.id = *id1;
  v1.variants = {full, delta1};  // full first
  EXPECT_EQ(c.GetRelease(a, *id1)->value(), v1);
  EXPECT_EQ(c.FindRelease(a, "cooker-fw", "1.0.0")->value(), v1);
  EXPECT_FALSE(c.FindRelease(a, "cooker-fw", "1.0.1")->has_value());

  // Conflicts and missing rows change nothing, the generation included.
  EXPECT_TRUE(Fails(c.CreateRelease(Release(a, "1.0.0", {full})), CatalogErrc::kExists));
  EXPECT_TRUE(
      Fails(c.CreateRelease(Release(a, "2.0.0", {{Sha(99), 1, ""}})), CatalogErrc::kNotFound));
  EXPECT_FALSE(c.FindRelease(a, "cooker-fw", "2.0.0")->has_value());
  EXPECT_TRUE(Fails(c.CreateRelease(Release(T("nobody"), "1.0.0", {})), CatalogErrc::kNotFound));
  EXPECT_TRUE(Fails(c.AddVariant(a, *id1, {Sha(3), 300, Sha(500)}), CatalogErrc::kExists));
  EXPECT_TRUE(Fails(c.AddVariant(a, *id1, {Sha(3), 300, ""}), CatalogErrc::kExists));
  EXPECT_TRUE(Fails(c.AddVariant(a, *id1 + 1000, {Sha(3), 300, Sha(501)}), CatalogErrc::kNotFound));
  EXPECT_TRUE(Fails(c.AddVariant(a, *id1, {Sha(98), 300, Sha(501)}), CatalogErrc::kNotFound));
  EXPECT_TRUE(Fails(c.SetDeprecated(a, *id1 + 1000, true), CatalogErrc::kNotFound));
  EXPECT_EQ(*c.ReleasesGeneration(a), 1);

  const ReleaseVariant delta2{Sha(3), 300, Sha(501)};
  ASSERT_TRUE(Succeeds(c.AddVariant(a, *id1, delta2)));
  EXPECT_EQ(*c.ReleasesGeneration(a), 2);
  ASSERT_TRUE(Succeeds(c.SetDeprecated(a, *id1, true)));
  EXPECT_EQ(*c.ReleasesGeneration(a), 3);
  v1.variants.push_back(delta2);
  v1.deprecated = true;
  EXPECT_EQ(c.GetRelease(a, *id1)->value(), v1);

  ReleaseRecord v2 = Release(a, "1.1.0-rc.1+build.5", {{Sha(4), 400, ""}});
  v2.compatible = {"cooker-v2"};
  v2.security_counter = 4;
  auto id2 = c.CreateRelease(v2);
  ASSERT_TRUE(Succeeds(id2));
  v2.id = *id2;
  EXPECT_GT(*id2, *id1);
  EXPECT_EQ(*c.ReleasesGeneration(a), 4);
  auto list = c.ListReleases(a);
  ASSERT_TRUE(Succeeds(list));
  EXPECT_EQ(*list, (std::vector<ReleaseRecord>{v2, v1}));  // newest first

  // Tenant B sees none of it, and A's changes do not move B's generation.
  EXPECT_TRUE(c.ListReleases(b)->empty());
  EXPECT_FALSE(c.GetRelease(b, *id1)->has_value());
  EXPECT_FALSE(c.FindRelease(b, "cooker-fw", "1.0.0")->has_value());
  EXPECT_TRUE(Fails(c.AddVariant(b, *id1, delta2), CatalogErrc::kNotFound));
  EXPECT_TRUE(Fails(c.SetDeprecated(b, *id1, false), CatalogErrc::kNotFound));
  EXPECT_EQ(*c.ReleasesGeneration(b), 0);
  EXPECT_TRUE(Fails(c.ReleasesGeneration(T("nobody")), CatalogErrc::kNotFound));
  // B may publish the same product and version, with its own artifacts.
  ASSERT_TRUE(Succeeds(c.PutArtifact(Artifact(b, 1, 100))));
  auto b1 = c.CreateRelease(Release(b, "1.0.0", {full}));
  ASSERT_TRUE(Succeeds(b1));
  EXPECT_EQ(c.ListReleases(b)->size(), 1u);
  EXPECT_EQ(*c.ReleasesGeneration(a), 4);
}

TEST_P(CatalogTest, NoncesDetectReplaysPerDeviceAndArePruned) {
  OPEN_CATALOG(c);
  const std::string n1 = "AAAAAAAAAAAAAAAAAAAAAA", n2 = "BBBBBBBBBBBBBBBBBBBBBB";
  EXPECT_TRUE(*c.RecordNonce(T("a"), "dev-1", n1, 100));
  EXPECT_FALSE(*c.RecordNonce(T("a"), "dev-1", n1, 100));
  EXPECT_FALSE(*c.RecordNonce(T("a"), "dev-1", n1, 150));  // a replay, whatever its time
  EXPECT_TRUE(*c.RecordNonce(T("a"), "dev-2", n1, 100));   // another device
  EXPECT_TRUE(*c.RecordNonce(T("b"), "dev-1", n1, 100));   // another tenant
  EXPECT_TRUE(*c.RecordNonce(T("a"), "dev-1", n2, 200));
  ASSERT_TRUE(Succeeds(c.PruneNonces(150)));
  EXPECT_TRUE(*c.RecordNonce(T("a"), "dev-1", n1, 300));   // pruned: accepted again
  EXPECT_FALSE(*c.RecordNonce(T("a"), "dev-1", n2, 300));  // kept
}

TEST_P(CatalogTest, NoncesAreStillSeenAfterReopening) {
  const std::string kept = "keep_keep_keep_keep_1", pruned = "prune-prune-prune-prune";
  {
    OPEN_CATALOG(c);
    ASSERT_TRUE(*c.RecordNonce(T("a"), "dev", pruned, 100));
    ASSERT_TRUE(Succeeds(c.PruneNonces(150)));  // before the write-behind flush on SQLite
    ASSERT_TRUE(*c.RecordNonce(T("a"), "dev", kept, 200));
  }
  OPEN_CATALOG(c);
  EXPECT_FALSE(*c.RecordNonce(T("a"), "dev", kept, 200));
  EXPECT_TRUE(*c.RecordNonce(T("a"), "dev", pruned, 100));
  ASSERT_TRUE(Succeeds(c.PruneNonces(250)));
}

// Many request threads race on the same nonces; on PostgreSQL through two catalog objects (two
// server instances). Each nonce must be accepted exactly once.
TEST_P(CatalogTest, RacingRecordingsOfOneNonceAcceptExactlyOne) {
  OPEN_CATALOG(first);
  Catalog* second = &first;
  Result<std::unique_ptr<Catalog>> other = Error(StoreErrc::kClosed, "");
  if (postgres()) {
    other = Open();
    ASSERT_TRUE(Succeeds(other));
    second = other->get();
  }
  constexpr int kNonces = 300, kThreads = 12;
  std::vector<std::atomic<int>> accepted(kNonces);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Catalog& c = t % 2 == 0 ? first : *second;
      std::vector<int> order(kNonces);
      for (int i = 0; i < kNonces; ++i) order[static_cast<std::size_t>(i)] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(t)));
      for (int i : order) {
        auto r = c.RecordNonce(T("a"), "dev", "race-nonce-" + std::to_string(100000 + i), 1);
        if (!r.ok()) ++failures;
        if (r.ok() && *r) ++accepted[static_cast<std::size_t>(i)];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  int wrong = 0;
  for (const auto& n : accepted) wrong += n.load() == 1 ? 0 : 1;
  EXPECT_EQ(wrong, 0) << "nonces not accepted exactly once";
}

// The API layer calls from many threads: a mix of writes and reads must all succeed.
TEST_P(CatalogTest, ManyThreadsCallAtOnce) {
  OPEN_CATALOG(c);
  ASSERT_TRUE(Succeeds(c.CreateTenant(Tenant(T("a")))));
  ASSERT_TRUE(Succeeds(c.PutArtifact(Artifact(T("a"), 1, 100))));
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "dev-" + std::to_string(t) + "-" + std::to_string(i);
        bool ok = c.CreateDevice(Device(T("a"), id)).ok();
        auto got = c.GetDevice(T("a"), id);
        ok = ok && got.ok() && got->has_value();
        ok = ok && c.RecordNonce(T("a"), id, "nonce-nonce-nonce-" + std::to_string(i), i).ok();
        if (i % 5 == 0) {
          ok = ok &&
               c.CreateRelease(Release(T("a"), "1." + std::to_string(t) + "." + std::to_string(i),
                                       {{Sha(1), 100, ""}}))
                   .ok();
          ok = ok && c.ListReleases(T("a")).ok();
        }
        if (!ok) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(c.ListDevices(T("a"), "", 1000)->size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(*c.ReleasesGeneration(T("a")), kThreads * kEach / 5);
  EXPECT_EQ(c.ListReleases(T("a"))->size(), static_cast<std::size_t>(kThreads * kEach / 5));
}

// A database written by the version-1 server (device store only) with a report in it.
void MakeVersion1(bool postgres, const std::string& db) {
  const char* report =
      "INSERT INTO device_reports (tenant, device_id, time, phase, progress, result, reason) "
      "VALUES ('acme', 'dev-1', 5, 'installing', 40, '', '')";
  if (postgres) {
    pqxx::connection c(db);
    pqxx::work tx(c);
    tx.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT "
        "NULL DEFAULT now())");
    tx.exec(internal::postgres::Migrations()[0]);
    tx.exec("INSERT INTO schema_migrations (version) VALUES (1)");
    tx.exec(report);
    tx.commit();
    return;
  }
  auto conn = internal::sqlite::OpenDb(db);
  ASSERT_TRUE(Succeeds(conn));
  sqlite3* d = conn->get();
  ASSERT_TRUE(Succeeds(internal::sqlite::Exec(
      d,
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)")));
  ASSERT_TRUE(Succeeds(internal::sqlite::Exec(d, internal::sqlite::Migrations()[0])));
  ASSERT_TRUE(Succeeds(internal::sqlite::Exec(d, "INSERT INTO schema_migrations VALUES (1, 0)")));
  ASSERT_TRUE(Succeeds(internal::sqlite::Exec(d, report)));
}

TEST_P(CatalogTest, AVersion1DatabaseIsMigratedAndKeepsItsReports) {
  const std::string db = FreshDb("v1");
  ASSERT_NO_FATAL_FAILURE(MakeVersion1(postgres(), db));
  {
    auto c = OpenCatalog(db);
    ASSERT_TRUE(Succeeds(c));
    ASSERT_TRUE(Succeeds((*c)->CreateTenant(Tenant("acme"))));
  }
  auto store = OpenStore(db);
  ASSERT_TRUE(Succeeds(store));
  EXPECT_EQ((*store)->schema_version(), 2);
  auto reports = (*store)->Reports("acme", "dev-1", 0, 10);
  ASSERT_TRUE(Succeeds(reports));
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].report, (DeviceReport{"acme", "dev-1", 5, "installing", 40, "", "", ""}));
  DeviceReport resent{"acme", "dev-1", 6, "installed", 100, "", "", "r-1"};
  auto s1 = (*store)->AppendReport(resent);
  auto s2 = (*store)->AppendReport(resent);
  ASSERT_TRUE(Succeeds(s1));
  ASSERT_TRUE(Succeeds(s2));
  EXPECT_EQ(*s1, *s2);
  EXPECT_EQ((*store)->Reports("acme", "dev-1", 0, 10)->size(), 2u);
}

TEST_P(CatalogTest, StoreAndCatalogOpenOneDatabaseInEitherOrder) {
  for (const bool catalog_first : {true, false}) {
    const std::string db = FreshDb(catalog_first ? "cf" : "sf");
    Result<std::unique_ptr<Catalog>> c = Error(StoreErrc::kClosed, "");
    Result<std::unique_ptr<DeviceStore>> s = Error(StoreErrc::kClosed, "");
    if (catalog_first) c = OpenCatalog(db);
    s = OpenStore(db);
    if (!catalog_first) c = OpenCatalog(db);
    ASSERT_TRUE(Succeeds(c));
    ASSERT_TRUE(Succeeds(s));
    EXPECT_EQ((*s)->schema_version(), kStoreSchemaVersion);
    ASSERT_TRUE(Succeeds((*c)->CreateTenant(Tenant("acme"))));
    ASSERT_TRUE(Succeeds((*s)->AppendReport({"acme", "d", 1, "installing", 1, "", "", "x"})));
  }
}

// Two server processes start on a fresh database at the same moment, one opening the store
// first, the other the catalog: the migration runs once and both open.
TEST_P(CatalogTest, TwoProcessesOpenAFreshDatabaseAtOnce) {
  for (int round = 0; round < 3; ++round) {
    const std::string db = FreshDb("race" + std::to_string(round));
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    std::vector<pid_t> children;
    for (int child = 0; child < 2; ++child) {
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        ::close(go[1]);
        char byte;
        if (::read(go[0], &byte, 1) < 0) ::_exit(9);  // released together when go[1] closes
        Result<std::unique_ptr<DeviceStore>> s = Error(StoreErrc::kClosed, "");
        Result<std::unique_ptr<Catalog>> c = Error(StoreErrc::kClosed, "");
        if (child == 0) s = OpenStore(db);
        c = OpenCatalog(db);
        if (child == 1) s = OpenStore(db);
        for (const Error* e : {s.ok() ? nullptr : &s.error(), c.ok() ? nullptr : &c.error()}) {
          if (e != nullptr) std::fprintf(stderr, "child %d: %s\n", child, e->message().c_str());
        }
        ::_exit(s.ok() && c.ok() ? 0 : 1);
      }
      children.push_back(pid);
    }
    ::close(go[0]);
    ::close(go[1]);
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
    auto c = OpenCatalog(db);
    ASSERT_TRUE(Succeeds(c));
  }
}

TEST(SqliteCatalog, NoncesAreWrittenBehindWhileOpen) {
  std::string tmpl = (fs::temp_directory_path() / "uplift-catalog-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  auto c = OpenSqliteCatalog(dir + "/db");
  ASSERT_TRUE(Succeeds(c));
  ASSERT_TRUE(*(*c)->RecordNonce("acme", "dev", "written-behind-nonce", 100));
  auto reader = internal::sqlite::OpenDb(dir + "/db");
  ASSERT_TRUE(Succeeds(reader));
  auto q = internal::sqlite::Prepare(reader->get(),
                                     "SELECT time FROM nonces WHERE tenant = 'acme' AND "
                                     "device_id = 'dev' AND nonce = 'written-behind-nonce'");
  ASSERT_TRUE(Succeeds(q));
  // The catalog stays open: the row must come from the background flush (every 100 ms).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool found = false;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    found = sqlite3_step(q->get()) == SQLITE_ROW;
    sqlite3_reset(q->get());
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(found);
  q->reset();
  reader->reset();
  c->reset();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, CatalogTest,
                         ::testing::Values(Backend{"sqlite"}, Backend{"postgres"}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace uplift::server
