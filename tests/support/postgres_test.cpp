// The PostgreSQL harness against the real server: committed data survives a crash of every server
// process, servers run side by side, and nothing outlives the harness.
#include "postgres.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "uplift/base/errors.hpp"

namespace uplift::faultlab {
namespace {

std::unique_ptr<PostgresServer> StartOrFail(const PostgresOptions& options = {}) {
  auto server = PostgresServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.error().message();
  return server.ok() ? std::move(server).value() : nullptr;
}

bool Exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;

ExecStatusType Exec(PGconn* conn, const char* sql) {
  PGresult* result = PQexec(conn, sql);
  const ExecStatusType status = PQresultStatus(result);  // a null result is a fatal error
  PQclear(result);
  return status;
}

TEST(PostgresServerTest, CommittedRowSurvivesCrashAndUncommittedRowDoesNot) {
  auto server = StartOrFail();
  ASSERT_NE(server, nullptr);
  {
    pqxx::connection setup(server->ConnectionString());
    pqxx::work tx(setup);
    tx.exec0("CREATE TABLE releases (id integer PRIMARY KEY, version text NOT NULL)");
    tx.exec0("INSERT INTO releases VALUES (1, '1.0.0')");
    tx.commit();
  }
  // A transaction still open at the crash: its row must vanish, so the crash really lost state.
  // Plain libpq here: a pqxx 6.4 transaction that outlives its connection leaks a PGresult.
  PgConn open_conn(PQconnectdb(server->ConnectionString().c_str()));
  ASSERT_EQ(PQstatus(open_conn.get()), CONNECTION_OK) << PQerrorMessage(open_conn.get());
  ASSERT_EQ(Exec(open_conn.get(), "BEGIN; INSERT INTO releases VALUES (2, '2.0.0')"),
            PGRES_COMMAND_OK);

  const pid_t old_postmaster = server->pid();
  const std::vector<pid_t> old_children = ChildrenOf(old_postmaster);
  ASSERT_FALSE(old_children.empty());
  const Status restarted = server->CrashAndRestart();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message();
  EXPECT_FALSE(Exists(old_postmaster));
  for (const pid_t child : old_children) EXPECT_TRUE(IsGone(child)) << child;
  EXPECT_NE(server->pid(), old_postmaster);
  // Proof that it was a crash, not a clean stop: the server had to replay its WAL.
  EXPECT_NE(ReadText(server->log_path()).find("automatic recovery in progress"), std::string::npos);

  pqxx::connection after(server->ConnectionString());
  pqxx::read_transaction check(after);
  const pqxx::result rows = check.exec("SELECT id, version FROM releases ORDER BY id");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].as<int>(), 1);
  EXPECT_EQ(rows[0][1].as<std::string>(), "1.0.0");
  // The session that held the open transaction died with the server.
  EXPECT_NE(Exec(open_conn.get(), "COMMIT"), PGRES_COMMAND_OK);
}

TEST(PostgresServerTest, TwoServersRunSideBySideWithTheirOptions) {
  auto durable = StartOrFail();
  auto fast = StartOrFail(PostgresOptions{.fsync = false});
  ASSERT_NE(durable, nullptr);
  ASSERT_NE(fast, nullptr);
  EXPECT_NE(durable->port(), fast->port());
  EXPECT_NE(durable->work_dir(), fast->work_dir());
  EXPECT_EQ(durable->ConnectionString(), "host=127.0.0.1 port=" + std::to_string(durable->port()) +
                                             " user=uplift dbname=uplift");

  for (const auto& [server, fsync] :
       {std::pair{durable.get(), "on"}, std::pair{fast.get(), "off"}}) {
    pqxx::connection conn(server->ConnectionString());
    pqxx::read_transaction tx(conn);
    const pqxx::row row = tx.exec1(
        "SELECT current_database(), current_user, inet_server_port(), "
        "current_setting('fsync')");
    EXPECT_EQ(row[0].as<std::string>(), "uplift");
    EXPECT_EQ(row[1].as<std::string>(), "uplift");
    EXPECT_EQ(row[2].as<int>(), server->port());
    EXPECT_EQ(row[3].as<std::string>(), fsync);
  }
}

TEST(PostgresServerTest, DestructorLeavesNoProcessOrDirectoryBehind) {
  auto server = StartOrFail();
  ASSERT_NE(server, nullptr);
  // A session still connected at shutdown must not keep anything alive.
  pqxx::connection conn(server->ConnectionString());
  const pid_t postmaster = server->pid();
  const std::vector<pid_t> children = ChildrenOf(postmaster);
  const std::string work_dir = server->work_dir();
  ASSERT_GT(postmaster, 0);
  ASSERT_GE(children.size(), 4u);  // checkpointer, writers, launchers, our backend
  ASSERT_TRUE(Exists(postmaster));

  server.reset();
  EXPECT_FALSE(Exists(postmaster));
  for (const pid_t child : children) EXPECT_FALSE(Exists(child)) << child;
  EXPECT_FALSE(std::filesystem::exists(work_dir));
}

TEST(PostgresServerTest, MissingBinariesAreNotFound) {
  ::setenv("UPLIFT_PG_BINDIR", "/nonexistent/postgresql/bin", 1);
  auto server = PostgresServer::Start();
  ::unsetenv("UPLIFT_PG_BINDIR");
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(server.error().Is(base::Errc::kNotFound)) << server.error().message();
}

}  // namespace
}  // namespace uplift::faultlab
