// The data path on real files: aligned requests go O_DIRECT with the
// caller's memory, misaligned memory through a bounce buffer, misaligned
// offsets and lengths through the page cache without ever running beside
// direct requests, and whatever the route the bytes on the file are the
// ones written. /var/tmp is used because it is on a disk file system here
// (O_DIRECT works); /dev/shm (tmpfs) checks the buffered fallback.
#include "daemon/data_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "storage/aligned_buffer.h"

namespace tandem::daemon {
namespace {

using namespace std::chrono_literals;
using FileOp = EventLoop::FileOp;
constexpr uint64_t kFileBytes = 1ULL << 20;

std::vector<std::byte> pattern(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed) & 0xff);
  return v;
}

class DataPathTest : public ::testing::Test {
 protected:
  void make_file(const std::string& parent) {
    std::string tmpl = parent + "/tandem-datapath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << parent;
    dir_ = tmpl;
    path_ = dir_ + "/disk.img";
    std::ofstream(path_).close();
    std::filesystem::resize_file(path_, kFileBytes);
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
  }
  void open_path(DataPath::Direct direct = DataPath::Direct::kPrefer) {
    auto p = DataPath::open(*loop_, path_, "resource r0", direct);
    ASSERT_TRUE(p.ok()) << p.error().message;
    data_ = std::move(p).value();
  }
  void TearDown() override {
    data_.reset();
    loop_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Submits and returns a slot that receives the result.
  std::shared_ptr<int32_t> submit(FileOp op, std::byte* data, uint32_t length, uint64_t offset) {
    auto result = std::make_shared<int32_t>(kPending);
    data_->submit(op, data, length, offset, false, [result](int32_t r) { *result = r; });
    return result;
  }
  bool run_until_done(const std::vector<std::shared_ptr<int32_t>>& results) {
    const auto deadline = Clock::now() + 5s;
    auto done = [&] {
      for (const auto& r : results)
        if (*r == kPending) return false;
      return true;
    };
    while (!done() && Clock::now() < deadline) EXPECT_TRUE(loop_->run_once(20ms).ok());
    return done();
  }
  std::vector<std::byte> file_bytes(uint64_t offset, size_t n) {
    std::vector<std::byte> out(n);
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(pread(fd, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    close(fd);
    return out;
  }

  static constexpr int32_t kPending = INT32_MIN;
  std::string dir_;
  std::string path_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<DataPath> data_;
};

TEST_F(DataPathTest, AlignedRequestsUseTheCallersMemoryDirectly) {
  make_file("/var/tmp");
  open_path();
  if (!data_->direct()) GTEST_SKIP() << "/var/tmp refuses O_DIRECT on this machine";
  EXPECT_GE(data_->alignment(), 512u);
  storage::AlignedBuffer out(8192);
  const auto p = pattern(8192, 1);
  std::memcpy(out.data(), p.data(), p.size());
  auto w = submit(FileOp::kWrite, out.data(), 8192, 4096);
  ASSERT_TRUE(run_until_done({w}));
  EXPECT_EQ(*w, 8192);
  storage::AlignedBuffer in(8192);
  auto r = submit(FileOp::kRead, in.data(), 8192, 4096);
  ASSERT_TRUE(run_until_done({r}));
  EXPECT_EQ(*r, 8192);
  EXPECT_EQ(std::memcmp(in.data(), p.data(), p.size()), 0);
  EXPECT_EQ(file_bytes(4096, 8192), p);
  EXPECT_EQ(data_->counters().direct, 2u);
  EXPECT_EQ(data_->counters().bounced, 0u);
  EXPECT_EQ(data_->counters().buffered, 0u);
}

TEST_F(DataPathTest, MisalignedMemoryGoesThroughABounceBuffer) {
  make_file("/var/tmp");
  open_path();
  if (!data_->direct()) GTEST_SKIP() << "/var/tmp refuses O_DIRECT on this machine";
  // One byte past an aligned address, as a malloc'd buffer usually is.
  storage::AlignedBuffer out_mem(4096 * 3);
  std::byte* out = out_mem.data() + 1;
  const auto p = pattern(4096 * 2, 2);
  std::memcpy(out, p.data(), p.size());
  auto w = submit(FileOp::kWrite, out, 8192, 65536);
  ASSERT_TRUE(run_until_done({w}));
  EXPECT_EQ(*w, 8192);
  EXPECT_EQ(file_bytes(65536, 8192), p);
  storage::AlignedBuffer in_mem(4096 * 3);
  std::byte* in = in_mem.data() + 3;
  auto r = submit(FileOp::kRead, in, 8192, 65536);
  ASSERT_TRUE(run_until_done({r}));
  EXPECT_EQ(*r, 8192);
  EXPECT_EQ(std::memcmp(in, p.data(), p.size()), 0);
  EXPECT_EQ(data_->counters().bounced, 2u);
  EXPECT_EQ(data_->counters().direct, 0u);
}

TEST_F(DataPathTest, MisalignedOffsetsWaitForDirectRequestsAndStayCoherent) {
  make_file("/var/tmp");
  open_path();
  if (!data_->direct()) GTEST_SKIP() << "/var/tmp refuses O_DIRECT on this machine";
  // A direct write of two blocks, then a small write into the middle of
  // its first block (buffered: offset and length misaligned), then a
  // direct read of both blocks: the buffered write must wait for the
  // first, the read for the buffered write, and the read must see it
  // (the kernel writes the cached page back before a direct read).
  storage::AlignedBuffer big(8192);
  const auto p = pattern(8192, 3);
  std::memcpy(big.data(), p.data(), p.size());
  const auto small = pattern(10, 99);
  std::vector<std::byte> small_copy = small;
  storage::AlignedBuffer in(8192);
  auto w1 = submit(FileOp::kWrite, big.data(), 8192, 0);
  auto w2 = submit(FileOp::kWrite, small_copy.data(), 10, 100);
  auto r = submit(FileOp::kRead, in.data(), 8192, 0);
  EXPECT_EQ(data_->in_flight(), 1u);  // only the first write runs
  EXPECT_EQ(data_->counters().held, 2u);
  ASSERT_TRUE(run_until_done({w1, w2, r}));
  EXPECT_EQ(*w1, 8192);
  EXPECT_EQ(*w2, 10);
  EXPECT_EQ(*r, 8192);
  std::vector<std::byte> expected = p;
  std::memcpy(expected.data() + 100, small.data(), small.size());
  EXPECT_EQ(std::memcmp(in.data(), expected.data(), expected.size()), 0);
  EXPECT_EQ(file_bytes(0, 8192), expected);
  EXPECT_EQ(data_->counters().buffered, 1u);
  EXPECT_EQ(data_->counters().direct, 2u);
  // A misaligned read sees what the direct write put there.
  std::vector<std::byte> tail(5);
  auto r2 = submit(FileOp::kRead, tail.data(), 5, 8187);
  ASSERT_TRUE(run_until_done({r2}));
  EXPECT_EQ(*r2, 5);
  EXPECT_EQ(std::memcmp(tail.data(), expected.data() + 8187, 5), 0);
}

TEST_F(DataPathTest, FlushSucceeds) {
  make_file("/var/tmp");
  open_path();
  auto f = submit(FileOp::kFsync, nullptr, 0, 0);
  ASSERT_TRUE(run_until_done({f}));
  EXPECT_EQ(*f, 0);
}

TEST_F(DataPathTest, ABounceBufferOutlivesTheDataPath) {
  make_file("/var/tmp");
  open_path();
  if (!data_->direct()) GTEST_SKIP() << "/var/tmp refuses O_DIRECT on this machine";
  const auto p = pattern(4096, 4);
  {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, p.data(), p.size(), 0), 4096);
    close(fd);
  }
  // Two misaligned 4 KiB destinations, 8 bytes into each of two pages.
  storage::AlignedBuffer mem(3 * 4096);
  std::byte* in = mem.data() + 8;
  auto r = submit(FileOp::kRead, in, 4096, 0);
  auto calls = std::make_shared<int>(0);
  data_->submit(FileOp::kRead, mem.data() + 4096 + 8, 4096, 0, false,
                [calls](int32_t) { ++*calls; });
  // Into the kernel, then the data path goes away while the reads may
  // still run: their callbacks must still come, once each, and a read
  // that succeeded must have landed in the caller's memory (not in a
  // freed bounce buffer; ASan builds check the memory side).
  ASSERT_TRUE(loop_->run_once(0ms).ok());
  data_.reset();
  ASSERT_TRUE(run_until_done({r}));
  for (int i = 0; i < 5 && *calls == 0; ++i) ASSERT_TRUE(loop_->run_once(20ms).ok());
  EXPECT_EQ(*calls, 1);
  if (*r >= 0) {
    EXPECT_EQ(*r, 4096);
    EXPECT_EQ(std::memcmp(in, p.data(), p.size()), 0);
  } else {
    EXPECT_EQ(*r, -EBADF);  // not yet submitted when the descriptor closed
  }
}

TEST_F(DataPathTest, HeldRequestsFailWhenTheDataPathCloses) {
  make_file("/var/tmp");
  open_path();
  if (!data_->direct()) GTEST_SKIP() << "/var/tmp refuses O_DIRECT on this machine";
  storage::AlignedBuffer big(65536);
  std::vector<std::byte> small(10);
  auto w1 = submit(FileOp::kWrite, big.data(), 65536, 0);
  auto w2 = submit(FileOp::kWrite, small.data(), 10, 100);  // held behind w1
  ASSERT_EQ(data_->counters().held, 1u);
  data_.reset();
  ASSERT_TRUE(run_until_done({w1, w2}));
  EXPECT_EQ(*w1, 65536);  // already at the device: it completes
  EXPECT_EQ(*w2, -EIO);   // never issued: it fails, and its callback still runs
}

TEST_F(DataPathTest, BufferedModeTakesAnyAlignment) {
  make_file("/var/tmp");
  open_path(DataPath::Direct::kOff);
  EXPECT_FALSE(data_->direct());
  EXPECT_EQ(data_->alignment(), 1u);
  auto p = pattern(777, 5);
  auto w = submit(FileOp::kWrite, p.data(), 777, 1234);
  ASSERT_TRUE(run_until_done({w}));
  EXPECT_EQ(*w, 777);
  EXPECT_EQ(file_bytes(1234, 777), p);
  EXPECT_EQ(data_->counters().buffered, 1u);
}

TEST_F(DataPathTest, TmpfsWorksWhateverItSaysAboutODirect) {
  if (!std::filesystem::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  make_file("/dev/shm");
  open_path();
  // tmpfs refuses O_DIRECT before Linux 6.6 and accepts it since: either
  // way misaligned requests of every kind must work.
  auto p = pattern(4096 + 13, 6);
  auto w = submit(FileOp::kWrite, p.data() + 1, 4096 + 12, 513);
  ASSERT_TRUE(run_until_done({w}));
  EXPECT_EQ(*w, 4096 + 12);
  EXPECT_EQ(file_bytes(513, 4096 + 12), std::vector<std::byte>(p.begin() + 1, p.end()));
  storage::AlignedBuffer mem(8192);
  auto r = submit(FileOp::kRead, mem.data() + 1, 4096, 512);
  ASSERT_TRUE(run_until_done({r}));
  EXPECT_EQ(*r, 4096);
  EXPECT_EQ(mem.data()[1], std::byte{0});  // offset 512 was never written
  EXPECT_EQ(std::memcmp(mem.data() + 2, p.data() + 1, 4095), 0);
}

}  // namespace
}  // namespace tandem::daemon
