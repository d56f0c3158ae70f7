// UringBacking and the metadata verbs' safety checks on a real block device:
// a loop device over a sparse file. Needs root and /dev/loop-control; skips
// with the reason otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "storage/aligned_buffer.h"
#include "storage/metadata_store.h"
#include "storage/sync_io.h"
#include "storage/uring_backing.h"
#include "test_files.h"

namespace tandem::storage {
namespace {

// Attaches a file to a free loop device; detaches on destruction.
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& file) {
    const int ctl = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) {
      why_ = std::string("/dev/loop-control: ") + std::strerror(errno);
      missing_ = errno == ENOENT || errno == ENODEV;
      return;
    }
    const int file_fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    // Tests run in parallel: another process may take the device that
    // LOOP_CTL_GET_FREE offered before we attach to it (EBUSY); ask again.
    for (int attempt = 0; attempt < 50 && file_fd >= 0 && !attached_; ++attempt) {
      const int n = ioctl(ctl, LOOP_CTL_GET_FREE);
      if (n < 0) {
        why_ = std::string("no free loop device: ") + std::strerror(errno);
        break;
      }
      path_ = "/dev/loop" + std::to_string(n);
      fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
      if (fd_ >= 0 && ioctl(fd_, LOOP_SET_FD, file_fd) == 0) {
        attached_ = true;
        break;
      }
      why_ = "cannot attach " + file + " to " + path_ + ": " + std::strerror(errno);
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      if (errno != EBUSY) break;
    }
    if (file_fd < 0) why_ = file + ": " + std::strerror(errno);
    if (file_fd >= 0) ::close(file_fd);
    ::close(ctl);
  }
  ~LoopDevice() {
    if (attached_) ioctl(fd_, LOOP_CLR_FD, 0);
    if (fd_ >= 0) ::close(fd_);
  }
  bool attached() const { return attached_; }
  // The machine has no loop devices at all (the only reason to skip).
  bool missing() const { return missing_; }
  const std::string& path() const { return path_; }
  const std::string& why() const { return why_; }

 private:
  std::string path_;
  std::string why_;
  int fd_ = -1;
  bool missing_ = false;
  bool attached_ = false;
};

TEST(LoopDevice, BackingOnABlockDevice) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to attach a loop device";
  testing::TempFile file(64ULL << 20);
  ASSERT_TRUE(file.ok());
  LoopDevice loop(file.path());
  if (loop.missing()) GTEST_SKIP() << "no loop devices on this machine: " << loop.why();
  ASSERT_TRUE(loop.attached()) << loop.why();

  auto dev = UringBacking::open(loop.path(), {});
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_TRUE((*dev)->is_block_device());
  EXPECT_TRUE((*dev)->direct_io());
  EXPECT_EQ((*dev)->size_bytes(), 64ULL << 20);
  EXPECT_GE((*dev)->alignment(), 512U);

  AlignedBuffer buf(8192);
  std::memset(buf.data(), 0x6B, buf.size());
  ASSERT_TRUE(write_sync(**dev, 1 << 20, buf.span(), true).ok());
  ASSERT_TRUE(zero_sync(**dev, (1 << 20) + 4096, 4096).ok());
  AlignedBuffer in(8192);
  ASSERT_TRUE(read_sync(**dev, 1 << 20, in.span()).ok());
  EXPECT_EQ(in.data()[0], std::byte{0x6B});
  EXPECT_EQ(in.data()[4096], std::byte{0});

  // Metadata on the block device round-trips.
  auto g = compute_geometry({}, loop.path(), 64ULL << 20, loop.path(), 64ULL << 20, 1237);
  ASSERT_TRUE(g.ok());
  Superblock sb;
  sb.flags = kFlagAlClean;
  sb.gi.current = kGiJustCreated;
  ASSERT_TRUE(MetadataStore::create(**dev, *g, sb).ok());
  EXPECT_TRUE(MetadataStore::open(**dev, {}, 64ULL << 20).ok());
}

TEST(LoopDevice, ExclusiveOpenRefusesABusyDevice) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to attach a loop device";
  testing::TempFile file(16ULL << 20);
  LoopDevice loop(file.path());
  if (loop.missing()) GTEST_SKIP() << "no loop devices on this machine: " << loop.why();
  ASSERT_TRUE(loop.attached()) << loop.why();
  // Another exclusive holder, as a mounted file system would be.
  const int holder = ::open(loop.path().c_str(), O_RDWR | O_EXCL | O_CLOEXEC);
  ASSERT_GE(holder, 0) << std::strerror(errno);
  UringOptions o;
  o.exclusive = true;
  auto dev = UringBacking::open(loop.path(), o);
  ::close(holder);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().sys_errno, EBUSY);
  EXPECT_NE(dev.error().message.find("in use"), std::string::npos) << dev.error().message;
  EXPECT_NE(dev.error().message.find(loop.path()), std::string::npos);
}

}  // namespace
}  // namespace tandem::storage
