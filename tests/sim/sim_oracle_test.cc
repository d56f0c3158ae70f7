// The checker is what makes the simulation worth anything: these tests show
// that it tells acknowledged data from stale data in the cases the
// simulator produces (overlap, concurrency, failed and torn writes).
#include "sim_oracle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tandem::sim {
namespace {

constexpr uint64_t kDisk = 8 * kSector;

// Writes `id`'s stamped data for [offset, offset+length) into `disk`.
void apply(std::vector<std::byte>& disk, uint64_t id, uint64_t offset, uint32_t length) {
  std::vector<std::byte> data(length);
  WriteOracle::stamp(id, offset, data);
  std::memcpy(disk.data() + offset, data.data(), length);
}

TEST(WriteOracle, AcknowledgedWriteMustBeOnDisk) {
  WriteOracle o(kDisk);
  std::vector<std::byte> disk(kDisk);
  const uint64_t w = o.begin_write(kSector, 2 * kSector, 1);
  EXPECT_EQ(o.check_disk(disk), "") << "not acknowledged yet: old data is fine";
  o.end_write(w, 0, 2);
  EXPECT_NE(o.check_disk(disk), "");
  apply(disk, w, kSector, 2 * kSector);
  EXPECT_EQ(o.check_disk(disk), "");
  EXPECT_EQ(o.acknowledged(), 1u);
}

TEST(WriteOracle, ConcurrentOverlappingWritesMayLandInEitherOrder) {
  WriteOracle o(kDisk);
  const uint64_t a = o.begin_write(0, 2 * kSector, 1);
  const uint64_t b = o.begin_write(kSector, 2 * kSector, 2);
  o.end_write(b, 0, 3);
  o.end_write(a, 0, 4);
  std::vector<std::byte> a_last(kDisk), b_last(kDisk);
  apply(a_last, b, kSector, 2 * kSector);
  apply(a_last, a, 0, 2 * kSector);
  apply(b_last, a, 0, 2 * kSector);
  apply(b_last, b, kSector, 2 * kSector);
  EXPECT_EQ(o.check_disk(a_last), "");
  EXPECT_EQ(o.check_disk(b_last), "");
}

TEST(WriteOracle, WriteIssuedAfterAnAcknowledgementSupersedesIt) {
  WriteOracle o(kDisk);
  const uint64_t a = o.begin_write(0, kSector, 1);
  o.end_write(a, 0, 2);
  const uint64_t b = o.begin_write(0, kSector, 3);
  o.end_write(b, 0, 4);
  std::vector<std::byte> disk(kDisk);
  apply(disk, a, 0, kSector);
  EXPECT_NE(o.check_disk(disk), "") << "a completed before b was issued: a is stale";
  apply(disk, b, 0, kSector);
  EXPECT_EQ(o.check_disk(disk), "");
}

TEST(WriteOracle, FailedOrTornWritesMayOrMayNotBeThere) {
  WriteOracle o(kDisk);
  const uint64_t a = o.begin_write(0, 2 * kSector, 1);
  o.end_write(a, 0, 2);
  const uint64_t torn = o.begin_write(0, 2 * kSector, 3);  // never completes (power cut)
  const uint64_t failed = o.begin_write(2 * kSector, kSector, 4);
  o.end_write(failed, 5, 5);
  std::vector<std::byte> disk(kDisk);
  apply(disk, a, 0, 2 * kSector);
  apply(disk, torn, 0, kSector);  // only the first sector made it
  apply(disk, failed, 2 * kSector, kSector);
  EXPECT_EQ(o.check_disk(disk), "");
  EXPECT_EQ(o.acknowledged(), 1u);
}

TEST(WriteOracle, ReadIsJudgedByTheAcknowledgementsAtItsSubmission) {
  WriteOracle o(kDisk);
  const uint64_t a = o.begin_write(0, kSector, 1);
  o.end_write(a, 0, 2);
  const std::vector<uint64_t> floor = o.floor_snapshot(0, kSector);
  const uint64_t b = o.begin_write(0, kSector, 3);  // concurrent with the read
  o.end_write(b, 0, 4);
  std::vector<std::byte> read(kSector);
  WriteOracle::stamp(a, 0, read);
  EXPECT_EQ(o.check_range(read, 0, floor), "") << "b was not acknowledged when the read began";
  EXPECT_NE(o.check_range(read, 0, {}), "") << "against today's acknowledgements a is stale";
  std::vector<std::byte> zero(kSector);
  EXPECT_NE(o.check_range(zero, 0, floor), "");
}

TEST(WriteOracle, GarbageIsNeverAccepted) {
  WriteOracle o(kDisk);
  std::vector<std::byte> disk(kDisk);
  const uint64_t bogus = 12345;
  std::memcpy(disk.data() + 3 * kSector, &bogus, sizeof bogus);
  EXPECT_NE(o.check_disk(disk), "");
}

TEST(WriteOracle, RebaseMakesTheChosenDiskTheRecord) {
  WriteOracle o(kDisk);
  const uint64_t a = o.begin_write(0, kSector, 1);
  o.end_write(a, 0, 2);
  const uint64_t b = o.begin_write(0, kSector, 3);
  o.end_write(b, 0, 4);
  std::vector<std::byte> survivor(kDisk);
  apply(survivor, a, 0, kSector);  // b was acknowledged by a node that is gone
  EXPECT_NE(o.check_disk(survivor), "");
  o.rebase(survivor);
  EXPECT_EQ(o.check_disk(survivor), "");
  std::vector<std::byte> older(kDisk);
  EXPECT_NE(o.check_disk(older), "") << "data older than the new record is still stale";
}

TEST(WriteOracle, ForgivenWritesMayBeMissingButOthersMayNot) {
  WriteOracle o(kDisk);
  std::vector<std::byte> disk(kDisk);
  const uint64_t a = o.begin_write(0, kSector, 1);
  o.end_write(a, 0, 2);
  apply(disk, a, 0, kSector);
  const uint64_t b = o.begin_write(0, kSector, 3);  // acknowledged, then lost (protocol A)
  o.end_write(b, 0, 4);
  const uint64_t c = o.begin_write(kSector, kSector, 5);  // acknowledged and kept
  o.end_write(c, 0, 6);
  apply(disk, c, kSector, kSector);
  EXPECT_NE(o.check_disk(disk), "");
  const uint64_t lost[] = {b};
  o.forgive(lost);
  EXPECT_FALSE(o.acknowledged(b));
  EXPECT_TRUE(o.acknowledged(c));
  EXPECT_EQ(o.check_disk(disk), "") << "a is the newest write the promise still covers";
  std::vector<std::byte> without_c = disk;
  apply(without_c, 0, kSector, kSector);
  EXPECT_NE(o.check_disk(without_c), "") << "c was not forgiven";
  std::vector<std::byte> with_b = disk;
  apply(with_b, b, 0, kSector);
  EXPECT_EQ(o.check_disk(with_b), "") << "a forgiven write may still be found";
}

TEST(WriteOracle, ForgiveKeepsARebase) {
  WriteOracle o(kDisk);
  const uint64_t a = o.begin_write(0, kSector, 1);
  o.end_write(a, 0, 2);
  std::vector<std::byte> record(kDisk);
  apply(record, a, 0, kSector);
  o.rebase(record);
  const uint64_t b = o.begin_write(kSector, kSector, 3);
  o.end_write(b, 0, 4);
  const uint64_t ids[] = {b};
  o.forgive(ids);
  std::vector<std::byte> zeroes(kDisk);
  EXPECT_NE(o.check_disk(zeroes), "") << "the rebased record still counts";
  EXPECT_EQ(o.check_disk(record), "");
}

}  // namespace
}  // namespace tandem::sim
