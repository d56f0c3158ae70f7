#include "storage/uring_backing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "storage/aligned_buffer.h"
#include "storage/sync_io.h"
#include "test_files.h"

namespace tandem::storage {
namespace {

using testing::TempFile;

void fill(AlignedBuffer& b, uint8_t seed) {
  for (size_t i = 0; i < b.size(); ++i) b.data()[i] = static_cast<std::byte>(seed + i * 13);
}

TEST(UringBacking, WriteReadFlushFuaThroughTheRing) {
  TempFile file(1 << 20);
  ASSERT_TRUE(file.ok());
  auto dev = UringBacking::open(file.path(), {.queue_depth = 8});
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_EQ((*dev)->size_bytes(), 1U << 20);
  EXPECT_EQ((*dev)->queue_depth(), 8U);
  AlignedBuffer out(16384);
  fill(out, 3);
  ASSERT_TRUE(write_sync(**dev, 8192, out.span(), true).ok());
  ASSERT_TRUE(write_sync(**dev, 65536, out.span(), false).ok());
  ASSERT_TRUE(flush_sync(**dev).ok());
  AlignedBuffer in(16384);
  ASSERT_TRUE(read_sync(**dev, 65536, in.span()).ok());
  EXPECT_EQ(std::memcmp(in.data(), out.data(), out.size()), 0);

  // The data really is in the file.
  const int fd = ::open(file.path().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<std::byte> check(16384);
  ASSERT_EQ(pread(fd, check.data(), check.size(), 8192), 16384);
  ::close(fd);
  EXPECT_EQ(std::memcmp(check.data(), out.data(), out.size()), 0);
}

TEST(UringBacking, BatchedSubmissionWithRegisteredBuffersAndBoundedDepth) {
  TempFile file(4 << 20);
  AlignedBuffer pool(32 * 4096);
  std::vector<std::span<std::byte>> buffers;
  for (size_t i = 0; i < 32; ++i) buffers.push_back(pool.span().subspan(i * 4096, 4096));
  auto dev = UringBacking::open(file.path(), {.queue_depth = 32, .buffers = buffers});
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  for (int i = 0; i < 32; ++i) {
    std::memset(buffers[static_cast<size_t>(i)].data(), i + 1, 4096);
    ASSERT_TRUE((*dev)
                    ->submit({.op = IoOp::kWrite,
                              .offset = static_cast<uint64_t>(i) * 8192,
                              .data = buffers[static_cast<size_t>(i)].data(),
                              .length = 4096,
                              .buffer_index = i,
                              .user_data = static_cast<uint64_t>(1000 + i)})
                    .ok());
  }
  EXPECT_EQ((*dev)->outstanding(), 32U);
  auto full = (*dev)->submit({.op = IoOp::kFlush});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().sys_errno, EAGAIN);
  std::vector<IoCompletion> done;
  auto n = (*dev)->reap(done, 32);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(done.size(), 32U);
  std::vector<bool> seen(32);
  for (const auto& c : done) {
    EXPECT_TRUE(c.ok()) << describe_failure(**dev, c);
    ASSERT_GE(c.user_data, 1000U);
    seen[c.user_data - 1000] = true;
    EXPECT_EQ(c.offset, (c.user_data - 1000) * 8192);
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 32);
  AlignedBuffer in(4096);
  ASSERT_TRUE(read_sync(**dev, 31 * 8192, in.span()).ok());
  EXPECT_EQ(in.data()[100], std::byte{32});
}

TEST(UringBacking, RegisteredBufferMisuseIsRejected) {
  TempFile file(1 << 20);
  AlignedBuffer pool(8192);
  auto dev = UringBacking::open(file.path(), {.buffers = {pool.span().first(4096)}});
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_FALSE((*dev)
                   ->submit({.op = IoOp::kWrite,
                             .offset = 0,
                             .data = pool.data() + 4096,
                             .length = 4096,
                             .buffer_index = 0})
                   .ok());
  EXPECT_FALSE((*dev)
                   ->submit({.op = IoOp::kWrite,
                             .offset = 0,
                             .data = pool.data(),
                             .length = 4096,
                             .buffer_index = 3})
                   .ok());
}

TEST(UringBacking, ErrorsComeBackAsValuesWithTheOffset) {
  TempFile file(1 << 20);
  auto ro = UringBacking::open(file.path(), {.read_only = true});
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  AlignedBuffer buf(4096);
  auto w = write_sync(**ro, 12288, buf.span(), false);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().sys_errno, EBADF);
  EXPECT_NE(w.error().message.find("write of 4096 bytes at offset 12288"), std::string::npos)
      << w.error().message;
  EXPECT_NE(w.error().message.find(file.path()), std::string::npos);
  // Beyond the end: refused before reaching the kernel.
  auto beyond = read_sync(**ro, 1 << 20, buf.span());
  ASSERT_FALSE(beyond.ok());
  EXPECT_NE(beyond.error().message.find("beyond the end"), std::string::npos);
}

TEST(UringBacking, ShortReadIsReportedNotRetried) {
  TempFile file(1 << 20);
  auto dev = UringBacking::open(file.path(), {});
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  // The file shrinks under the open device: a read across the new end
  // transfers only part of what was asked.
  ASSERT_EQ(truncate(file.path().c_str(), 8192), 0);
  AlignedBuffer buf(16384);
  ASSERT_TRUE((*dev)
                  ->submit({.op = IoOp::kRead,
                            .offset = 4096,
                            .data = buf.data(),
                            .length = 16384,
                            .user_data = 5})
                  .ok());
  std::vector<IoCompletion> done;
  ASSERT_TRUE((*dev)->reap(done, 1).ok());
  ASSERT_EQ(done.size(), 1U);
  EXPECT_TRUE(done[0].short_io());
  EXPECT_EQ(done[0].transferred, 4096U);
  EXPECT_EQ(done[0].offset, 4096U);
}

TEST(UringBacking, WriteZeroesLeavesZeroes) {
  TempFile file(1 << 20);
  auto dev = UringBacking::open(file.path(), {});
  ASSERT_TRUE(dev.ok());
  AlignedBuffer buf(65536);
  fill(buf, 1);
  ASSERT_TRUE(write_sync(**dev, 0, buf.span(), true).ok());
  ASSERT_TRUE(zero_sync(**dev, 4096, 8192).ok());
  ASSERT_TRUE(read_sync(**dev, 0, buf.span()).ok());
  EXPECT_NE(buf.data()[0], std::byte{0});
  for (size_t i = 4096; i < 12288; ++i) ASSERT_EQ(buf.data()[i], std::byte{0}) << i;
  EXPECT_EQ(buf.data()[12288], static_cast<std::byte>((1 + 12288 * 13) & 0xFF));
}

TEST(UringBacking, OpenErrorsNameThePath) {
  auto missing = UringBacking::open("/nonexistent/tandem-disk", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/tandem-disk"), std::string::npos);
  auto dir = UringBacking::open("/", {.direct = DirectIo::kOff, .read_only = true});
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("neither a block device nor a regular file"),
            std::string::npos);
}

TEST(UringBacking, DirectIoWhereTheFileSystemSupportsIt) {
  TempFile file(1 << 20);
  auto dev = UringBacking::open(file.path(), {.direct = DirectIo::kRequire});
  if (!dev.ok() && dev.error().sys_errno == EINVAL) {
    GTEST_SKIP() << "temp directory's file system has no O_DIRECT: " << dev.error().message;
  }
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_TRUE((*dev)->direct_io());
  EXPECT_GE((*dev)->alignment(), 512U);
  // Misaligned offsets are refused with a message rather than failing in
  // the kernel.
  AlignedBuffer buf(4096);
  auto r = read_sync(**dev, 100, buf.span());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("multiples of"), std::string::npos);
}

}  // namespace
}  // namespace tandem::storage
