// ublk command encoding and request mapping (kmod-shim/ublk/ublk_protocol.h).
#include "ublk/ublk_protocol.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace tandem::ublk {
namespace {

constexpr uint64_t kSize = 64ull << 20;
constexpr uint32_t kMaxIo = 1u << 20;

ublksrv_io_desc descriptor(uint8_t op, uint32_t flags, uint64_t sector, uint32_t sectors) {
  ublksrv_io_desc d{};
  d.op_flags = op | (flags & ~0xffu);
  d.start_sector = sector;
  d.nr_sectors = sectors;
  return d;
}

TEST(UblkProtocol, ControlCommandFields) {
  ublksrv_ctrl_dev_info info{};
  const ublksrv_ctrl_cmd c = control_command(3, &info, sizeof info, 99);
  EXPECT_EQ(c.dev_id, 3u);
  EXPECT_EQ(c.queue_id, kNoQueue);
  EXPECT_EQ(c.len, sizeof info);
  EXPECT_EQ(c.addr, reinterpret_cast<uintptr_t>(&info));
  EXPECT_EQ(c.data[0], 99u);
  EXPECT_EQ(sizeof c, 32u);  // fits the 80-byte command area of a 128-byte SQE
}

TEST(UblkProtocol, DeviceInfoAndParams) {
  const ublksrv_ctrl_dev_info i = device_info(kAnyDevice, 32, kMaxIo, 1234);
  EXPECT_EQ(i.nr_hw_queues, 1);
  EXPECT_EQ(i.queue_depth, 32);
  EXPECT_EQ(i.max_io_buf_bytes, kMaxIo);
  EXPECT_EQ(i.dev_id, UINT32_MAX);
  EXPECT_EQ(i.ublksrv_pid, 1234);
  EXPECT_EQ(i.flags, 0u);
  const ublk_params p = device_params(kSize, kMaxIo);
  EXPECT_EQ(p.len, sizeof p);
  EXPECT_EQ(p.types, UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD);
  EXPECT_EQ(p.basic.dev_sectors, kSize / 512);
  EXPECT_EQ(p.basic.max_sectors, kMaxIo / 512);
  EXPECT_EQ(p.basic.logical_bs_shift, 9);
  // Without a volatile cache the kernel would never send flushes.
  EXPECT_NE(p.basic.attrs & UBLK_ATTR_VOLATILE_CACHE, 0u);
  EXPECT_NE(p.basic.attrs & UBLK_ATTR_FUA, 0u);
  EXPECT_EQ(p.basic.attrs & UBLK_ATTR_READ_ONLY, 0u);
}

TEST(UblkProtocol, IoCommandFields) {
  const ublksrv_io_cmd c = io_command(0, 17, -5, 0x1000);
  EXPECT_EQ(c.q_id, 0);
  EXPECT_EQ(c.tag, 17);
  EXPECT_EQ(c.result, -5);
  EXPECT_EQ(c.addr, 0x1000u);
  EXPECT_EQ(sizeof c, 16u);
}

TEST(UblkProtocol, MapsReadsAndWrites) {
  const MappedIo r = map_descriptor(descriptor(UBLK_IO_OP_READ, 0, 8, 16), kSize, kMaxIo);
  ASSERT_EQ(r.error, 0);
  EXPECT_FALSE(r.immediate);
  EXPECT_EQ(r.request.op, nbd::BlockOp::kRead);
  EXPECT_EQ(r.request.offset, 4096u);
  EXPECT_EQ(r.request.length, 8192u);
  EXPECT_FALSE(r.request.fua);
  const MappedIo w =
      map_descriptor(descriptor(UBLK_IO_OP_WRITE, UBLK_IO_F_FUA, 0, 1), kSize, kMaxIo);
  ASSERT_EQ(w.error, 0);
  EXPECT_EQ(w.request.op, nbd::BlockOp::kWrite);
  EXPECT_TRUE(w.request.fua);
}

TEST(UblkProtocol, MapsFlushDiscardAndWriteZeroes) {
  EXPECT_EQ(map_descriptor(descriptor(UBLK_IO_OP_FLUSH, 0, 0, 0), kSize, kMaxIo).request.op,
            nbd::BlockOp::kFlush);
  EXPECT_TRUE(map_descriptor(descriptor(UBLK_IO_OP_DISCARD, 0, 0, 8), kSize, kMaxIo).immediate);
  const MappedIo z =
      map_descriptor(descriptor(UBLK_IO_OP_WRITE_ZEROES, UBLK_IO_F_NOUNMAP, 8, 8), kSize, kMaxIo);
  EXPECT_EQ(z.request.op, nbd::BlockOp::kWriteZeroes);
  EXPECT_TRUE(z.request.no_hole);
  EXPECT_FALSE(
      map_descriptor(descriptor(UBLK_IO_OP_WRITE_ZEROES, 0, 8, 8), kSize, kMaxIo).request.no_hole);
}

TEST(UblkProtocol, RefusesWhatIsOutOfBoundsOrUnknown) {
  EXPECT_EQ(map_descriptor(descriptor(UBLK_IO_OP_READ, 0, kSize / 512, 1), kSize, kMaxIo).error,
            EIO);
  EXPECT_EQ(
      map_descriptor(descriptor(UBLK_IO_OP_WRITE, 0, kSize / 512 - 1, 2), kSize, kMaxIo).error,
      EIO);
  EXPECT_EQ(map_descriptor(descriptor(UBLK_IO_OP_READ, 0, UINT64_MAX, 1), kSize, kMaxIo).error,
            EIO);
  EXPECT_EQ(map_descriptor(descriptor(UBLK_IO_OP_READ, 0, 0, 4096), kSize, kMaxIo).error, EINVAL);
  EXPECT_EQ(map_descriptor(descriptor(UBLK_IO_OP_WRITE_SAME, 0, 0, 1), kSize, kMaxIo).error,
            EOPNOTSUPP);
}

TEST(UblkProtocol, CommitResult) {
  nbd::BlockRequest r;
  r.op = nbd::BlockOp::kRead;
  r.length = 4096;
  EXPECT_EQ(commit_result(r, 0), 4096);
  EXPECT_EQ(commit_result(r, EIO), -EIO);
  r.op = nbd::BlockOp::kFlush;
  EXPECT_EQ(commit_result(r, 0), 0);
  r.op = nbd::BlockOp::kWrite;
  EXPECT_EQ(commit_result(r, EROFS), -EROFS);
}

}  // namespace
}  // namespace tandem::ublk
