#include "storage/memory_device.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "storage/aligned_buffer.h"
#include "storage/sync_io.h"

namespace tandem::storage {
namespace {

std::vector<std::byte> pattern(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(seed + i * 7);
  return v;
}

std::vector<std::byte> read_back(MemoryDevice& dev, uint64_t offset, size_t n) {
  std::vector<std::byte> v(n);
  dev.peek(offset, v);
  return v;
}

TEST(MemoryDevice, ReadsWhatWasWritten) {
  MemoryDevice dev("mem", 1 << 20, 1);  // vectors are not sector aligned
  auto data = pattern(8192, 1);
  ASSERT_TRUE(write_sync(dev, 4096, data, false).ok());
  AlignedBuffer buf(8192);
  ASSERT_TRUE(read_sync(dev, 4096, buf.span()).ok());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.data()));
  // Unwritten areas read as zeroes.
  ASSERT_TRUE(read_sync(dev, 65536, buf.span()).ok());
  EXPECT_EQ(buf.data()[0], std::byte{0});
}

TEST(MemoryDevice, PowerCutLosesUnflushedWrites) {
  MemoryDevice dev("mem", 1 << 20, 1);  // vectors are not sector aligned
  ASSERT_TRUE(write_sync(dev, 0, pattern(4096, 1), false).ok());
  ASSERT_TRUE(flush_sync(dev).ok());
  ASSERT_TRUE(write_sync(dev, 0, pattern(4096, 2), false).ok());    // cached
  ASSERT_TRUE(write_sync(dev, 8192, pattern(4096, 3), true).ok());  // FUA: durable
  auto after = dev.reboot();
  EXPECT_EQ(read_back(*after, 0, 4096), pattern(4096, 1));
  EXPECT_EQ(read_back(*after, 8192, 4096), pattern(4096, 3));
  // The running device still sees its cache.
  EXPECT_EQ(read_back(dev, 0, 4096), pattern(4096, 2));
}

TEST(MemoryDevice, PowerCutTearsTheWriteInFlight) {
  MemoryDevice dev("mem", 1 << 20, 1);                           // vectors are not sector aligned
  ASSERT_TRUE(write_sync(dev, 0, pattern(4096, 1), true).ok());  // write 0
  FaultPlan plan;
  plan.power_cut_at_write = 1;
  plan.torn_bytes = 1024 + 100;  // rounds down to two sectors
  dev.set_fault_plan(plan);
  auto r = write_sync(dev, 0, pattern(4096, 2), true);  // write 1: torn
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno, EIO);
  EXPECT_NE(r.error().message.find("offset 0 on mem"), std::string::npos) << r.error().message;
  EXPECT_TRUE(dev.powered_off());
  EXPECT_FALSE(flush_sync(dev).ok());  // a dead device fails everything
  auto after = dev.reboot();
  auto got = read_back(*after, 0, 4096);
  auto expect = pattern(4096, 1);
  auto newer = pattern(4096, 2);
  std::copy(newer.begin(), newer.begin() + 1024, expect.begin());
  EXPECT_EQ(got, expect);
}

TEST(MemoryDevice, InjectedErrorsAndShortIo) {
  MemoryDevice dev("mem", 1 << 20, 1);  // vectors are not sector aligned
  FaultPlan plan;
  plan.fail_requests[1] = ENOSPC;
  plan.short_requests[2] = 512;
  plan.fail_if = [](const IoRequest& r, uint64_t) {
    return r.op == IoOp::kRead && r.offset >= 65536 ? EIO : 0;
  };
  dev.set_fault_plan(plan);
  auto data = pattern(4096, 5);
  EXPECT_TRUE(write_sync(dev, 0, data, false).ok());  // request 0
  auto nospc = write_sync(dev, 4096, data, false);    // request 1
  ASSERT_FALSE(nospc.ok());
  EXPECT_EQ(nospc.error().sys_errno, ENOSPC);
  EXPECT_NE(nospc.error().message.find("offset 4096"), std::string::npos);

  ASSERT_TRUE(dev.submit({.op = IoOp::kWrite,
                          .offset = 8192,
                          .data = data.data(),
                          .length = 4096,
                          .user_data = 77})
                  .ok());  // request 2: short
  std::vector<IoCompletion> done;
  ASSERT_TRUE(dev.reap(done, 1).ok());
  ASSERT_EQ(done.size(), 1U);
  EXPECT_TRUE(done[0].short_io());
  EXPECT_EQ(done[0].transferred, 512U);
  EXPECT_EQ(done[0].user_data, 77U);
  EXPECT_NE(describe_failure(dev, done[0]).find("only 512 of 4096"), std::string::npos);

  AlignedBuffer buf(4096);
  EXPECT_FALSE(read_sync(dev, 65536, buf.span()).ok());
  EXPECT_TRUE(read_sync(dev, 0, buf.span()).ok());
}

TEST(MemoryDevice, RejectsMalformedRequests) {
  MemoryDevice dev("mem", 1 << 20, 512, 2);
  AlignedBuffer buf(4096);
  EXPECT_FALSE(
      dev.submit({.op = IoOp::kRead, .offset = 100, .data = buf.data(), .length = 512}).ok());
  EXPECT_FALSE(
      dev.submit({.op = IoOp::kRead, .offset = 1 << 20, .data = buf.data(), .length = 512}).ok());
  EXPECT_FALSE(dev.submit({.op = IoOp::kRead, .offset = 0, .data = nullptr, .length = 512}).ok());
  // Bounded queue depth.
  EXPECT_TRUE(dev.submit({.op = IoOp::kFlush}).ok());
  EXPECT_TRUE(dev.submit({.op = IoOp::kFlush}).ok());
  auto full = dev.submit({.op = IoOp::kFlush});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().sys_errno, EAGAIN);
}

TEST(MemoryDevice, SparseHugeDeviceAndWriteZeroes) {
  MemoryDevice dev("mem", 16ULL << 40, 1);
  const uint64_t far = (16ULL << 40) - 8192;
  ASSERT_TRUE(write_sync(dev, far, pattern(8192, 9), false).ok());
  ASSERT_TRUE(zero_sync(dev, far, 4096).ok());
  auto got = read_back(dev, far, 8192);
  EXPECT_EQ(got[0], std::byte{0});
  EXPECT_EQ(got[4096], pattern(8192, 9)[4096]);
}

}  // namespace
}  // namespace tandem::storage

namespace tandem::storage {
namespace {

TEST(MemoryDeviceDeferred, CompletesInTheOrderTheCallerChooses) {
  MemoryDevice dev("mem", 1 << 20, 1);
  dev.set_deferred(true);
  auto a = pattern(4096, 1);
  auto b = pattern(4096, 2);
  ASSERT_TRUE(
      dev.submit(
             {.op = IoOp::kWrite, .offset = 0, .data = a.data(), .length = 4096, .user_data = 1})
          .ok());
  ASSERT_TRUE(
      dev.submit(
             {.op = IoOp::kWrite, .offset = 0, .data = b.data(), .length = 4096, .user_data = 2})
          .ok());
  EXPECT_EQ(dev.in_flight(), 2U);
  EXPECT_EQ(dev.outstanding(), 2U);
  std::vector<IoCompletion> done;
  ASSERT_TRUE(dev.reap(done, 1).ok());
  EXPECT_TRUE(done.empty());  // nothing ran yet
  // The younger write lands first, then the older one overwrites it: the
  // reordering a real queue may do.
  dev.complete(1);
  dev.complete(0);
  ASSERT_TRUE(dev.reap(done, 2).ok());
  ASSERT_EQ(done.size(), 2U);
  EXPECT_EQ(done[0].user_data, 2U);
  EXPECT_EQ(done[1].user_data, 1U);
  EXPECT_EQ(read_back(dev, 0, 4096), a);
}

TEST(MemoryDeviceDeferred, PowerCutTearsOneWriteInFlightAndLosesTheRest) {
  MemoryDevice dev("mem", 1 << 20, 1);
  dev.set_deferred(true);
  auto old_data = pattern(8192, 1);
  auto flushed = pattern(4096, 3);
  auto unflushed = pattern(4096, 4);
  auto in_flight = pattern(4096, 5);
  dev.poke(0, old_data);
  ASSERT_TRUE(
      dev.submit({.op = IoOp::kWrite, .offset = 16384, .data = flushed.data(), .length = 4096})
          .ok());
  dev.complete(0);
  ASSERT_TRUE(dev.submit({.op = IoOp::kFlush}).ok());
  dev.complete(0);
  ASSERT_TRUE(
      dev.submit({.op = IoOp::kWrite, .offset = 20480, .data = unflushed.data(), .length = 4096})
          .ok());
  dev.complete(0);
  ASSERT_TRUE(dev.submit({.op = IoOp::kWrite,
                          .offset = 0,
                          .data = in_flight.data(),
                          .length = 4096,
                          .user_data = 9})
                  .ok());
  ASSERT_TRUE(dev.submit({.op = IoOp::kWrite,
                          .offset = 4096,
                          .data = in_flight.data(),
                          .length = 4096,
                          .user_data = 10})
                  .ok());
  dev.power_cut(1024);
  EXPECT_TRUE(dev.powered_off());
  std::vector<IoCompletion> done;
  ASSERT_TRUE(dev.reap(done, 0).ok());
  ASSERT_EQ(done.size(), 5U);
  EXPECT_EQ(done[3].error, EIO);
  EXPECT_EQ(done[4].error, EIO);

  auto after = dev.reboot();
  EXPECT_EQ(read_back(*after, 16384, 4096), flushed);
  EXPECT_EQ(read_back(*after, 20480, 4096), std::vector<std::byte>(4096));
  auto first = read_back(*after, 0, 4096);
  EXPECT_TRUE(std::equal(first.begin(), first.begin() + 1024, in_flight.begin()));
  EXPECT_TRUE(std::equal(first.begin() + 1024, first.end(), old_data.begin() + 1024));
  EXPECT_EQ(read_back(*after, 4096, 4096),
            std::vector<std::byte>(old_data.begin() + 4096, old_data.end()));
}

}  // namespace
}  // namespace tandem::storage
