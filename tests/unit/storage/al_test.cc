#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "common/byte_order.h"
#include "storage/activity_log.h"
#include "storage/al_transaction.h"

namespace tandem::storage {
namespace {

constexpr uint64_t kExtent = 4ULL << 20;

Geometry geometry(uint32_t al_extents, uint64_t size = 1ULL << 40) {
  return *compute_geometry({}, "d", size, "d", size, al_extents);
}

DeviceUuid uuid(uint8_t seed) {
  DeviceUuid u{};
  u.fill(seed);
  return u;
}

TEST(AlTransaction, RoundTripSmallAndLarge) {
  for (uint32_t al : {7U, 1237U, 65534U}) {
    const Geometry g = geometry(al);
    AlTransaction tx{.number = 9, .hot = {}, .added = 2, .evicted = 1};
    for (uint32_t i = 0; i < al; ++i) tx.hot.push_back(i * 3);
    std::vector<std::byte> buf(g.al_tx_bytes());
    encode_al_transaction(tx, g, uuid(1), buf);
    DecodedAlSlot d = decode_al_transaction(buf, g, uuid(1));
    ASSERT_EQ(d.state, AlSlotState::kValid) << d.detail;
    EXPECT_EQ(*d.tx, tx);
  }
}

TEST(AlTransaction, RejectsForeignTornAndOutOfRange) {
  const Geometry g = geometry(1237, 1ULL << 30);  // 256 extents
  AlTransaction tx{.number = 3, .hot = {1, 5, 200}, .added = 3, .evicted = 0};
  std::vector<std::byte> buf(g.al_tx_bytes());
  encode_al_transaction(tx, g, uuid(1), buf);
  EXPECT_EQ(decode_al_transaction(buf, g, uuid(2)).state, AlSlotState::kInvalid);
  auto torn = buf;
  std::fill(torn.begin() + 4096, torn.end(), std::byte{0});
  EXPECT_EQ(decode_al_transaction(torn, g, uuid(1)).state, AlSlotState::kInvalid);
  std::vector<std::byte> blank(g.al_tx_bytes());
  EXPECT_EQ(decode_al_transaction(blank, g, uuid(1)).state, AlSlotState::kBlank);
  // Extent 300 is beyond a 1 GiB data area; the checksum is right.
  AlTransaction beyond{.number = 4, .hot = {300}, .added = 1, .evicted = 0};
  encode_al_transaction(beyond, g, uuid(1), buf);
  DecodedAlSlot d = decode_al_transaction(buf, g, uuid(1));
  EXPECT_EQ(d.state, AlSlotState::kInvalid);
  EXPECT_NE(d.detail.find("out of range"), std::string::npos);
  // Another al-extents setting.
  encode_al_transaction(tx, geometry(1500, 1ULL << 30), uuid(1), buf);
  EXPECT_EQ(decode_al_transaction(buf, g, uuid(1)).state, AlSlotState::kInvalid);
}

TEST(AlTransaction, NewestValidWins) {
  std::vector<DecodedAlSlot> slots(4);
  slots[0] = {AlSlotState::kValid, "", AlTransaction{.number = 5, .hot = {1}}};
  slots[1] = {AlSlotState::kValid, "", AlTransaction{.number = 6, .hot = {2}}};
  slots[2] = {AlSlotState::kInvalid, "torn", std::nullopt};
  slots[3] = {AlSlotState::kBlank, "", std::nullopt};
  auto n = newest_transaction(slots);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->number, 6U);
  EXPECT_FALSE(newest_transaction(std::span<const DecodedAlSlot>(slots).subspan(2)).has_value());
}

TEST(ActivityLog, HotExtentNeedsNoTransaction) {
  const std::vector<uint32_t> hot = {0, 1};
  ActivityLog al(7, 100, 10, hot);
  auto a = al.begin_write(kExtent + 4096, 4096);
  EXPECT_EQ(a.status, ActivityLog::Status::kReady);
  EXPECT_FALSE(al.transaction_pending());
  al.end_write(kExtent + 4096, 4096);
}

TEST(ActivityLog, ColdExtentWaitsForTransaction) {
  ActivityLog al(7, 100, 0, {});
  auto a = al.begin_write(0, 4096);
  EXPECT_EQ(a.status, ActivityLog::Status::kNeedsTransaction);
  EXPECT_EQ(a.durable_after, 1U);
  // A second write to another cold extent joins the same transaction.
  auto b = al.begin_write(5 * kExtent, 8192);
  EXPECT_EQ(b.durable_after, 1U);
  ASSERT_TRUE(al.transaction_pending());
  auto p = al.prepare_transaction();
  EXPECT_EQ(p.tx.number, 1U);
  EXPECT_EQ(p.tx.hot, (std::vector<uint32_t>{0, 5}));
  EXPECT_EQ(p.tx.added, 2U);
  EXPECT_TRUE(p.evicted.empty());
  // Written but not yet durable: a new write to extent 0 still waits.
  EXPECT_EQ(al.begin_write(0, 4096).status, ActivityLog::Status::kNeedsTransaction);
  al.transaction_durable(1);
  EXPECT_TRUE(al.is_hot(0));
  EXPECT_EQ(al.begin_write(0, 4096).status, ActivityLog::Status::kReady);
}

TEST(ActivityLog, WriteSpanningExtentBoundaryTouchesBoth) {
  ActivityLog al(7, 100, 0, {});
  (void)al.begin_write(kExtent - 4096, 8192);
  auto p = al.prepare_transaction();
  EXPECT_EQ(p.tx.hot, (std::vector<uint32_t>{0, 1}));
}

TEST(ActivityLog, EvictsLeastRecentlyUsedIdleExtent) {
  ActivityLog al(3, 100, 0, {});
  for (uint32_t e : {10U, 11U, 12U}) {
    (void)al.begin_write(e * kExtent, 4096);
    al.end_write(e * kExtent, 4096);
  }
  auto p1 = al.prepare_transaction();
  al.transaction_durable(p1.tx.number);
  // Touch 10 again so that 11 is the least recently used.
  (void)al.begin_write(10 * kExtent, 4096);
  al.end_write(10 * kExtent, 4096);
  auto a = al.begin_write(20 * kExtent, 4096);
  EXPECT_EQ(a.status, ActivityLog::Status::kNeedsTransaction);
  auto p2 = al.prepare_transaction();
  EXPECT_EQ(p2.evicted, (std::vector<uint32_t>{11}));
  EXPECT_EQ(p2.tx.hot, (std::vector<uint32_t>{10, 12, 20}));
  EXPECT_EQ(p2.tx.evicted, 1U);
}

TEST(ActivityLog, FullWhenEveryHotExtentIsBusy) {
  ActivityLog al(2, 100, 0, {});
  (void)al.begin_write(0, 4096);
  (void)al.begin_write(kExtent, 4096);
  EXPECT_EQ(al.begin_write(2 * kExtent, 4096).status, ActivityLog::Status::kFull);
  al.end_write(0, 4096);
  EXPECT_EQ(al.begin_write(2 * kExtent, 4096).status, ActivityLog::Status::kNeedsTransaction);
  auto p = al.prepare_transaction();
  EXPECT_EQ(p.evicted, (std::vector<uint32_t>{0}));
  EXPECT_EQ(p.tx.hot.size(), 2U);
}

TEST(ActivityLog, RandomWorkloadKeepsInvariants) {
  std::mt19937 rng(7);
  const uint32_t capacity = 16;
  ActivityLog al(capacity, 200, 0, {});
  std::vector<uint64_t> in_flight;  // offsets of admitted 4 KiB writes
  std::set<uint32_t> durable_hot;
  for (int step = 0; step < 20000; ++step) {
    if (!in_flight.empty() && (rng() % 3 == 0 || in_flight.size() > 12)) {
      const size_t i = rng() % in_flight.size();
      const uint32_t e = static_cast<uint32_t>(in_flight[i] / kExtent);
      // A write may only have been issued to a durable hot extent.
      ASSERT_TRUE(durable_hot.count(e)) << e;
      al.end_write(in_flight[i], 4096);
      in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    const uint64_t offset = (rng() % 40) * kExtent + (rng() % 1024) * 4096;
    auto a = al.begin_write(offset, 4096);
    if (a.status == ActivityLog::Status::kFull) continue;
    if (a.status == ActivityLog::Status::kNeedsTransaction) {
      auto p = al.prepare_transaction();
      ASSERT_LE(p.tx.hot.size(), capacity);
      ASSERT_TRUE(std::is_sorted(p.tx.hot.begin(), p.tx.hot.end()));
      for (uint32_t e : p.evicted) {
        // Only idle extents may be evicted.
        for (uint64_t off : in_flight) ASSERT_NE(off / kExtent, e);
        durable_hot.erase(e);
      }
      al.transaction_durable(p.tx.number);
      durable_hot = std::set<uint32_t>(p.tx.hot.begin(), p.tx.hot.end());
    }
    in_flight.push_back(offset);
  }
}

TEST(ActivityLog, ClearEmptiesTheLog) {
  const std::vector<uint32_t> hot = {3, 4};
  ActivityLog al(7, 100, 5, hot);
  auto p = al.prepare_clear();
  EXPECT_EQ(p.tx.number, 6U);
  EXPECT_TRUE(p.tx.hot.empty());
  EXPECT_EQ(p.evicted, hot);
}

}  // namespace
}  // namespace tandem::storage
