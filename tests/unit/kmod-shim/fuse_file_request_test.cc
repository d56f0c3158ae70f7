// FUSE file operations -> volume requests (kmod-shim/fuse/file_request.h).
#include "fuse/file_request.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace tandem::fuse {
namespace {

constexpr FileGeometry kGeometry{.size = 1 << 20, .sector = 512, .max_request = 64 * 1024};

std::vector<std::byte> bytes(size_t n) {
  return std::vector<std::byte>(n, std::byte{0x5a});
}

TEST(FuseFileRequest, AlignedReadPassesThrough) {
  const MappedRequest m = map_read(kGeometry, 4096, 8192);
  ASSERT_EQ(m.error, 0);
  ASSERT_FALSE(m.immediate);
  EXPECT_EQ(m.request.op, nbd::BlockOp::kRead);
  EXPECT_EQ(m.request.offset, 4096u);
  EXPECT_EQ(m.request.length, 8192u);
  EXPECT_EQ(m.skip, 0u);
  EXPECT_EQ(m.reply_length, 8192u);
}

TEST(FuseFileRequest, UnalignedReadIsWidenedAndCutBack) {
  const MappedRequest m = map_read(kGeometry, 700, 100);
  ASSERT_EQ(m.error, 0);
  EXPECT_EQ(m.request.offset, 512u);
  EXPECT_EQ(m.request.length, 512u);
  EXPECT_EQ(m.skip, 188u);
  EXPECT_EQ(m.reply_length, 100u);
  const MappedRequest across = map_read(kGeometry, 1000, 100);  // spans two sectors
  EXPECT_EQ(across.request.offset, 512u);
  EXPECT_EQ(across.request.length, 1024u);
  EXPECT_EQ(across.skip, 488u);
}

TEST(FuseFileRequest, ReadStopsAtTheEndOfTheFile) {
  const MappedRequest tail = map_read(kGeometry, kGeometry.size - 1024, 4096);
  ASSERT_EQ(tail.error, 0);
  EXPECT_EQ(tail.request.length, 1024u);
  EXPECT_EQ(tail.reply_length, 1024u);
  EXPECT_TRUE(map_read(kGeometry, kGeometry.size, 4096).immediate);
  EXPECT_TRUE(map_read(kGeometry, kGeometry.size + 9, 1).immediate);
}

TEST(FuseFileRequest, ReadNeverAsksTheVolumeForMoreThanItTakes) {
  const MappedRequest m = map_read(kGeometry, 100, 1 << 20);
  ASSERT_EQ(m.error, 0);
  EXPECT_LE(m.request.length, kGeometry.max_request);
  EXPECT_EQ(m.request.offset, 0u);
  EXPECT_EQ(m.skip + m.reply_length, m.request.length);  // a short read, exactly in range
}

TEST(FuseFileRequest, WriteMustCoverWholeSectorsInsideTheFile) {
  const auto data = bytes(4096);
  const MappedRequest ok = map_write(kGeometry, 8192, data, O_WRONLY);
  ASSERT_EQ(ok.error, 0);
  EXPECT_EQ(ok.request.op, nbd::BlockOp::kWrite);
  EXPECT_TRUE(std::ranges::equal(ok.request.data, data));
  EXPECT_FALSE(ok.request.fua);
  EXPECT_EQ(map_write(kGeometry, 100, data, O_WRONLY).error, EINVAL);
  EXPECT_EQ(map_write(kGeometry, 0, bytes(100), O_WRONLY).error, EINVAL);
  EXPECT_EQ(map_write(kGeometry, kGeometry.size - 512, data, O_WRONLY).error, ENOSPC);
  EXPECT_EQ(map_write(kGeometry, kGeometry.size, bytes(512), O_WRONLY).error, ENOSPC);
  EXPECT_EQ(map_write(kGeometry, 0, bytes(128 * 1024), O_WRONLY).error, EINVAL);
  EXPECT_TRUE(map_write(kGeometry, 0, {}, O_WRONLY).immediate);
}

TEST(FuseFileRequest, SyncWritesAreFua) {
  const auto data = bytes(512);
  EXPECT_TRUE(map_write(kGeometry, 0, data, O_WRONLY | O_DSYNC).request.fua);
  EXPECT_TRUE(map_write(kGeometry, 0, data, O_RDWR | O_SYNC).request.fua);
  EXPECT_FALSE(map_write(kGeometry, 0, data, O_RDWR | O_DIRECT).request.fua);
}

TEST(FuseFileRequest, PunchHoleAndZeroRangeWriteZeroes) {
  const MappedRequest punch =
      map_fallocate(kGeometry, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192);
  ASSERT_EQ(punch.error, 0);
  EXPECT_EQ(punch.request.op, nbd::BlockOp::kWriteZeroes);
  EXPECT_EQ(punch.request.offset, 4096u);
  EXPECT_EQ(punch.request.length, 8192u);
  EXPECT_FALSE(punch.request.no_hole);  // may deallocate
  const MappedRequest zero = map_fallocate(kGeometry, FALLOC_FL_ZERO_RANGE, 0, 512);
  ASSERT_EQ(zero.error, 0);
  EXPECT_EQ(zero.request.op, nbd::BlockOp::kWriteZeroes);
  EXPECT_TRUE(zero.request.no_hole);  // must stay allocated
}

TEST(FuseFileRequest, FallocateEdgeCases) {
  EXPECT_TRUE(map_fallocate(kGeometry, 0, 0, 4096).immediate);                 // already allocated
  EXPECT_EQ(map_fallocate(kGeometry, 0, kGeometry.size, 4096).error, ENOSPC);  // cannot grow
  EXPECT_EQ(map_fallocate(kGeometry, FALLOC_FL_COLLAPSE_RANGE, 0, 4096).error, EOPNOTSUPP);
  EXPECT_EQ(map_fallocate(kGeometry, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 512).error,
            EINVAL);
  EXPECT_EQ(map_fallocate(kGeometry, FALLOC_FL_ZERO_RANGE, 0, 0).error, EINVAL);
  // Keep-size past the end: only the part inside the file is zeroed.
  const MappedRequest clipped = map_fallocate(kGeometry, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                              kGeometry.size - 4096, 1 << 20);
  ASSERT_EQ(clipped.error, 0);
  EXPECT_EQ(clipped.request.length, 4096u);
  EXPECT_TRUE(
      map_fallocate(kGeometry, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kGeometry.size, 512)
          .immediate);
}

TEST(FuseFileRequest, FlushIsAFlush) {
  const MappedRequest m = map_flush();
  EXPECT_EQ(m.error, 0);
  EXPECT_FALSE(m.immediate);
  EXPECT_EQ(m.request.op, nbd::BlockOp::kFlush);
}

}  // namespace
}  // namespace tandem::fuse
