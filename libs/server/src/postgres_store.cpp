// PostgreSQL backend (libpqxx 6.4): a writer connection for the group-commit thread and a reader
// connection behind a mutex. A batch of reports is one INSERT ... SELECT FROM unnest(arrays):
// one round trip and one durable commit however many devices reported. Soft state commits with
// synchronous_commit off. Migrations hold an advisory lock: several instances may start at once.
#include <algorithm>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <tuple>

#include "postgres_schema.hpp"
#include "store_backend.hpp"

namespace uplift::server::internal {
namespace {

using postgres::ArrayLiteral;
using postgres::Guard;

class PostgresBackend final : public Backend {
 public:
  static Result<std::unique_ptr<PostgresBackend>> Open(const std::string& conninfo) {
    return Guard("connect", [&]() -> Result<std::unique_ptr<PostgresBackend>> {
      std::unique_ptr<PostgresBackend> b(new PostgresBackend(conninfo));
      UPLIFT_ASSIGN(b->version_, postgres::Migrate(b->writer_));
      return b;
    });
  }

  // Reports with an id may be resends (a lost acknowledgement): the first of each id in the
  // batch is looked up, the rest of the batch is one INSERT ... SELECT FROM unnest(arrays) that
  // skips ids stored meanwhile by another instance (ON CONFLICT DO NOTHING), and those are
  // looked up again. Without ids: one round trip and one durable commit per batch.
  Result<std::vector<std::int64_t>> CommitReports(
      const std::vector<const DeviceReport*>& reports) override {
    return Guard("insert reports", [&]() -> Result<std::vector<std::int64_t>> {
      // Two instances inserting the same ids may deadlock on the unique index (PostgreSQL
      // then aborts one of them): the aborted batch is simply tried again.
      for (int attempt = 1;; ++attempt) {
        try {
          return CommitReportsOnce(reports);
        } catch (const pqxx::deadlock_detected&) {
          if (attempt == 3) throw;
        }
      }
    });
  }

 private:
  // Throws what libpqxx throws.
  Result<std::vector<std::int64_t>> CommitReportsOnce(
      const std::vector<const DeviceReport*>& reports) {
    {
      const std::size_t n = reports.size();
      std::map<Key, std::size_t> first;  // (tenant, device, report id) -> first index
      std::vector<std::size_t> same_as(n);
      for (std::size_t i = 0; i < n; ++i) {
        same_as[i] = i;
        if (!reports[i]->report_id.empty()) {
          same_as[i] = first.emplace(KeyOf(*reports[i]), i).first->second;
        }
      }
      std::vector<std::int64_t> seqs(n, 0);
      pqxx::work tx(writer_);
      FindStored(tx, reports, first, seqs);

      // Grouped by device (a stable sort keeps each device's order, so its seqs ascend in
      // queue order): concurrent batches then meet on the unique index in one order.
      std::vector<std::size_t> insert;
      for (std::size_t i = 0; i < n; ++i) {
        if (same_as[i] == i && seqs[i] == 0) insert.push_back(i);
      }
      std::stable_sort(insert.begin(), insert.end(), [&](std::size_t x, std::size_t y) {
        return std::tie(reports[x]->tenant, reports[x]->device_id) <
               std::tie(reports[y]->tenant, reports[y]->device_id);
      });
      ArrayLiteral tenant, device, time, phase, progress, result, reason, report_id, release_id;
      for (std::size_t i : insert) {
        const DeviceReport* r = reports[i];
        tenant.Add(r->tenant);
        device.Add(r->device_id);
        time.Add(r->time);
        phase.Add(r->phase);
        progress.Add(static_cast<std::int64_t>(r->progress));
        result.Add(r->result);
        reason.Add(r->reason);
        report_id.Add(r->report_id);
        release_id.Add(r->release_id);
      }
      if (!insert.empty()) {
        // Rows are inserted in ordinality order, so their sequence numbers ascend in that order;
        // a skipped row is one with an id that RETURNING does not name.
        const pqxx::result rows = tx.exec_params(
            "INSERT INTO device_reports (tenant, device_id, time, phase, progress, result, "
            "reason, report_id, release_id) SELECT t, d, tm, ph, pr, rs, rn, ri, rl FROM "
            "unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::text[], "
            "$7::text[], $8::text[], $9::bigint[]) "
            "WITH ORDINALITY AS u(t, d, tm, ph, pr, rs, rn, ri, rl, ord) ORDER BY ord "
            "ON CONFLICT (tenant, device_id, report_id) WHERE report_id <> '' DO NOTHING "
            "RETURNING seq, tenant, device_id, report_id",
            tenant.Take(), device.Take(), time.Take(), phase.Take(), progress.Take(), result.Take(),
            reason.Take(), report_id.Take(), release_id.Take());
        std::vector<std::int64_t> inserted;
        std::set<Key> inserted_ids;
        inserted.reserve(rows.size());
        for (const auto& row : rows) {
          inserted.push_back(row[0].as<std::int64_t>());
          inserted_ids.insert(
              Key{row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>()});
        }
        std::sort(inserted.begin(), inserted.end());
        std::size_t next = 0;
        std::map<Key, std::size_t> skipped;
        for (std::size_t i : insert) {
          const DeviceReport* r = reports[i];
          if (!r->report_id.empty() && inserted_ids.count(KeyOf(*r)) == 0) {
            skipped.emplace(KeyOf(*r), i);
          } else if (next < inserted.size()) {
            seqs[i] = inserted[next++];
          }
        }
        if (!skipped.empty()) FindStored(tx, reports, skipped, seqs);
      }
      tx.commit();  // synchronous_commit on: durable when this returns
      for (std::size_t i = 0; i < n; ++i) {
        seqs[i] = seqs[same_as[i]];
        if (seqs[i] == 0) {
          return Error(StoreErrc::kDatabase, "postgres: report " + std::to_string(i) + " of " +
                                                 std::to_string(n) + " got no sequence number");
        }
      }
      return seqs;
    }
  }

 public:
  Status CommitStates(const std::vector<DeviceState>& states) override {
    return Guard("upsert state", [&]() -> Status {
      ArrayLiteral tenant, device, seen, inventory;
      for (const auto& s : states) {
        tenant.Add(s.tenant);
        device.Add(s.device_id);
        seen.Add(s.last_seen);
        inventory.Add(s.inventory);
      }
      pqxx::work tx(writer_);
      tx.exec("SET LOCAL synchronous_commit TO OFF");  // soft state: a crash may lose it
      tx.exec_params(
          "INSERT INTO device_state (tenant, device_id, last_seen, inventory) "
          "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) "
          "ON CONFLICT (tenant, device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, "
          "inventory = EXCLUDED.inventory",
          tenant.Take(), device.Take(), seen.Take(), inventory.Take());
      tx.commit();
      return Ok();
    });
  }

  Result<std::optional<DeviceState>> GetState(const std::string& tenant,
                                              const std::string& device_id) override {
    std::lock_guard lock(read_mu_);
    return Guard("read state", [&]() -> Result<std::optional<DeviceState>> {
      pqxx::read_transaction tx(reader_);
      const pqxx::result r = tx.exec_params(
          "SELECT last_seen, inventory FROM device_state WHERE tenant = $1 AND device_id = $2",
          tenant, device_id);
      if (r.empty()) return std::optional<DeviceState>();
      return std::optional<DeviceState>(
          DeviceState{tenant, device_id, r[0][0].as<std::int64_t>(), r[0][1].as<std::string>()});
    });
  }

  Result<std::vector<StoredReport>> Reports(const std::string& tenant, const std::string& device_id,
                                            std::int64_t after_seq, std::size_t limit) override {
    std::lock_guard lock(read_mu_);
    return Guard("read reports", [&]() -> Result<std::vector<StoredReport>> {
      pqxx::read_transaction tx(reader_);
      const pqxx::result rows = tx.exec_params(
          "SELECT seq, time, phase, progress, result, reason, report_id, release_id FROM "
          "device_reports "
          "WHERE tenant = $1 "
          "AND device_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
          tenant, device_id, after_seq,
          static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
      std::vector<StoredReport> out;
      for (const auto& row : rows) {
        StoredReport r;
        r.seq = row[0].as<std::int64_t>();
        r.report = DeviceReport{tenant,
                                device_id,
                                row[1].as<std::int64_t>(),
                                row[2].as<std::string>(),
                                row[3].as<int>(),
                                row[4].as<std::string>(),
                                row[5].as<std::string>(),
                                row[6].as<std::string>(),
                                row[7].as<std::int64_t>()};
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  int schema_version() const override { return version_; }

 private:
  explicit PostgresBackend(const std::string& conninfo) : writer_(conninfo), reader_(conninfo) {}

  using Key = std::tuple<std::string, std::string, std::string>;
  static Key KeyOf(const DeviceReport& r) { return {r.tenant, r.device_id, r.report_id}; }

  // Sets seqs[i] for each (key -> i) in `wanted` whose report is stored.
  static void FindStored(pqxx::work& tx, const std::vector<const DeviceReport*>& reports,
                         const std::map<Key, std::size_t>& wanted,
                         std::vector<std::int64_t>& seqs) {
    if (wanted.empty()) return;
    ArrayLiteral tenant, device, report_id;
    for (const auto& [key, i] : wanted) {
      tenant.Add(reports[i]->tenant);
      device.Add(reports[i]->device_id);
      report_id.Add(reports[i]->report_id);
    }
    const pqxx::result rows = tx.exec_params(
        "SELECT r.tenant, r.device_id, r.report_id, r.seq FROM device_reports r JOIN "
        "unnest($1::text[], $2::text[], $3::text[]) AS u(t, d, ri) "
        "ON r.tenant = u.t AND r.device_id = u.d AND r.report_id = u.ri WHERE r.report_id <> ''",
        tenant.Take(), device.Take(), report_id.Take());
    for (const auto& row : rows) {
      auto it = wanted.find(
          Key{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()});
      if (it != wanted.end()) seqs[it->second] = row[3].as<std::int64_t>();
    }
  }

  pqxx::connection writer_;
  pqxx::connection reader_;
  std::mutex read_mu_;
  int version_ = 0;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenPostgresBackend(const std::string& conninfo) {
  UPLIFT_ASSIGN(auto backend, PostgresBackend::Open(conninfo));
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace uplift::server::internal

namespace uplift::server {

Result<std::unique_ptr<DeviceStore>> OpenPostgresStore(const std::string& conninfo,
                                                       StoreOptions options) {
  UPLIFT_ASSIGN(auto backend, internal::OpenPostgresBackend(conninfo));
  return internal::MakeGroupStore(std::move(backend), options);
}

}  // namespace uplift::server
