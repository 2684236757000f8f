#include "sqlite_nonces.hpp"

#include <functional>

namespace uplift::server::internal {
namespace {

constexpr const char* kInsert =
    "INSERT INTO nonces (tenant, device_id, nonce, time) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kLoad = "SELECT tenant, device_id, nonce, time FROM nonces";
constexpr const char* kPrune = "DELETE FROM nonces WHERE time < ?";

std::string KeyOf(const std::string& tenant, const std::string& device_id,
                  const std::string& nonce) {
  std::string key;
  key.reserve(tenant.size() + device_id.size() + nonce.size() + 2);
  key.append(tenant).append(1, '\n').append(device_id).append(1, '\n').append(nonce);
  return key;
}

}  // namespace

Result<std::unique_ptr<SqliteNonces>> SqliteNonces::Open(const std::string& path,
                                                         std::chrono::milliseconds interval) {
  UPLIFT_ASSIGN(sqlite::Db db, sqlite::OpenDb(path));
  std::unique_ptr<SqliteNonces> n(new SqliteNonces(sqlite::Conn(std::move(db)), interval));
  UPLIFT_TRY(n->Load());
  n->writer_ = std::thread([p = n.get()] { p->Run(); });
  return n;
}

SqliteNonces::~SqliteNonces() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  (void)Flush();  // a failure here is a crash's loss: at most one interval
}

SqliteNonces::Shard& SqliteNonces::ShardOf(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

bool SqliteNonces::Record(const std::string& tenant, const std::string& device_id,
                          const std::string& nonce, std::int64_t time) {
  std::string key = KeyOf(tenant, device_id, nonce);
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  if (!shard.seen.try_emplace(key, time).second) return false;
  shard.pending.push_back(Pending{std::move(key), time});
  return true;
}

Status SqliteNonces::Load() {
  std::lock_guard db_lock(db_mu_);
  UPLIFT_ASSIGN(sqlite3_stmt * s, conn_.Statement(kLoad));
  sqlite::Query q(conn_.get(), s);
  for (;;) {
    UPLIFT_ASSIGN(const bool row, q.Step("load nonces"));
    if (!row) break;
    std::string key = KeyOf(q.Str(0), q.Str(1), q.Str(2));
    Shard& shard = ShardOf(key);
    std::lock_guard lock(shard.mu);
    shard.seen.emplace(std::move(key), q.Int(3));
  }
  return Ok();
}

Status SqliteNonces::Flush() {
  std::lock_guard db_lock(db_mu_);
  std::vector<Pending> batch;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    if (batch.empty()) {
      batch.swap(shard.pending);
    } else {
      batch.insert(batch.end(), std::make_move_iterator(shard.pending.begin()),
                   std::make_move_iterator(shard.pending.end()));
      shard.pending.clear();
    }
  }
  if (batch.empty()) return Ok();
  sqlite3* db = conn_.get();
  Status st = sqlite::InTransaction(db, "BEGIN IMMEDIATE", [&]() -> Status {
    UPLIFT_ASSIGN(sqlite3_stmt * s, conn_.Statement(kInsert));
    for (const Pending& p : batch) {
      const std::size_t a = p.key.find('\n');
      const std::size_t b = p.key.find('\n', a + 1);
      sqlite::Query q(db, s);
      q.Bind(p.key.substr(0, a)).Bind(p.key.substr(a + 1, b - a - 1)).Bind(p.key.substr(b + 1));
      UPLIFT_TRY(q.Bind(p.time).Run("insert nonce"));
    }
    return Ok();
  });
  if (!st.ok()) {
    for (Pending& p : batch) {  // memory still has them: keep trying to make them durable
      Shard& shard = ShardOf(p.key);
      std::lock_guard lock(shard.mu);
      shard.pending.push_back(std::move(p));
    }
  }
  return st;
}

Status SqliteNonces::Prune(std::int64_t older_than) {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    std::erase_if(shard.seen, [&](const auto& kv) { return kv.second < older_than; });
    std::erase_if(shard.pending, [&](const Pending& p) { return p.time < older_than; });
  }
  // After any flush that already took old nonces out of the queue (it holds db_mu_).
  std::lock_guard db_lock(db_mu_);
  UPLIFT_ASSIGN(sqlite3_stmt * s, conn_.Statement(kPrune));
  sqlite::Query q(conn_.get(), s);
  return q.Bind(older_than).Run("prune nonces");
}

void SqliteNonces::Run() {
  std::unique_lock lock(stop_mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, interval_, [&] { return stop_; });
    if (stop_) break;
    lock.unlock();
    (void)Flush();  // failed nonces stay queued; the next round retries
    lock.lock();
  }
}

}  // namespace uplift::server::internal
