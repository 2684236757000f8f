// Power-cut sweep of FlashRecordStore: cut at every mutating operation of a sequence of stores,
// with and without a torn operation, write-through and write-back; after the power cycle the
// store must hold the last record stored in full or the one being stored, never anything else.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "test_support.hpp"
#include "uplift/storage/record_store.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::storage {
namespace {

using testing::Pattern;

constexpr FlashGeometry kGeo{.size = 64 * 1024, .erase_size = 4096, .page_size = 256};
constexpr std::uint64_t kPartOffset = 16384;
constexpr std::uint64_t kPartSize = 32768;

// Sizes chosen to cross page and erase-block boundaries, to shrink and to grow.
std::vector<Bytes> Records() {
  std::vector<Bytes> r;
  std::uint32_t seed = 0;
  for (const std::size_t n : {10u, 3000u, 9000u, 300u, 12000u, 1u, 232u})
    r.push_back(Pattern(n, ++seed));
  return r;
}

// Stores the records in order; returns the index of the store that failed (size() if none).
std::size_t RunStores(BlockDevice& part, const std::vector<Bytes>& records) {
  FlashRecordStore store(part);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Status st = store.Store(records[i]);
    if (!st) {
      EXPECT_TRUE(st.error().Is(Errc::kPowerLost)) << st.error().message();
      return i;
    }
  }
  return records.size();
}

struct Outcome {
  std::uint64_t cuts = 0;
  std::uint64_t kept_old = 0;
  std::uint64_t got_new = 0;
};

Outcome Sweep(bool tear, bool write_back) {
  const std::vector<Bytes> records = Records();
  std::uint64_t total = 0;
  {
    SimFlash f(kGeo);
    auto part = MakePartition(f, "journal", kPartOffset, kPartSize);
    f.SetFaultPlan({.write_back = write_back});
    EXPECT_EQ(RunStores(*part, records), records.size());
    total = f.operations();
  }
  Outcome out;
  const Bytes recovery = Pattern(777, 99);
  for (std::uint64_t cut = 1; cut <= total; ++cut) {
    SCOPED_TRACE("cut at operation " + std::to_string(cut) + " of " + std::to_string(total));
    SimFlash f(kGeo);
    auto part = MakePartition(f, "journal", kPartOffset, kPartSize);
    f.SetFaultPlan({.cut_at = cut, .tear = tear, .write_back = write_back});
    const std::size_t k = RunStores(*part, records);
    EXPECT_LT(k, records.size());
    EXPECT_TRUE(f.power_lost());
    f.PowerCycle();
    ++out.cuts;
    // Nothing outside the partition was touched.
    for (std::size_t b = 0; b < kGeo.size; ++b) {
      if (b < kPartOffset || b >= kPartOffset + kPartSize) {
        if (f.durable()[b] != 0xff) {
          ADD_FAILURE() << "byte " << b << " outside the partition changed";
          break;
        }
      }
    }
    FlashRecordStore store(*part);
    auto loaded = store.Load();
    if (!loaded) {
      ADD_FAILURE() << "store " << k << ": " << loaded.error().message();
      continue;
    }
    if (*loaded == records[k]) {
      ++out.got_new;
    } else if (k == 0) {
      EXPECT_EQ(*loaded, std::nullopt) << "store 0: neither nothing nor the new record";
      ++out.kept_old;
    } else if (*loaded == records[k - 1]) {
      ++out.kept_old;
    } else {
      ADD_FAILURE() << "store " << k << ": loaded neither record " << k - 1 << " nor " << k;
    }
    // The store keeps working after the cut.
    f.SetFaultPlan({.write_back = write_back});
    EXPECT_TRUE(store.Store(recovery));
    f.PowerCycle();
    auto after = store.Load();
    EXPECT_TRUE(after && *after == recovery);
  }
  std::printf(
      "record store sweep (tear=%d, write_back=%d): %llu cut points, %llu kept the "
      "previous record, %llu had the new one\n",
      tear, write_back, static_cast<unsigned long long>(out.cuts),
      static_cast<unsigned long long>(out.kept_old), static_cast<unsigned long long>(out.got_new));
  return out;
}

TEST(FlashRecordStoreFault, CutAtEveryOperation) {
  const Outcome o = Sweep(false, false);
  EXPECT_GT(o.cuts, 100u);
  EXPECT_EQ(o.got_new, 0u);  // without a tear the last page of a copy is never written
}

TEST(FlashRecordStoreFault, TornAtEveryOperation) {
  const Outcome o = Sweep(true, false);
  EXPECT_GT(o.cuts, 100u);
  // A copy whose data ends in the first half of its last page is complete after a torn write.
  EXPECT_GT(o.got_new, 0u);
}

TEST(FlashRecordStoreFault, CutAtEveryOperationWriteBack) {
  const Outcome o = Sweep(false, true);
  EXPECT_GT(o.cuts, 100u);
  EXPECT_EQ(o.got_new, 0u);
}

TEST(FlashRecordStoreFault, TornAtEveryOperationWriteBack) {
  const Outcome o = Sweep(true, true);
  EXPECT_GT(o.cuts, 100u);
}

}  // namespace
}  // namespace uplift::storage
