#include "nbd/file_volume.h"
#include "nbd/protocol.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <utility>

#include "common/log.h"

namespace tandem::nbd {

namespace {

constexpr size_t kZeroChunk = 1u << 20;

bool fallocate_unsupported(int err) {
  return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL;
}

}  // namespace

Result<std::unique_ptr<FileVolume>> FileVolume::open(const std::string& path, Options options) {
  const int flags = (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    const int err = errno;
    std::string hint;
    if (!options.read_only && (err == EACCES || err == EROFS)) {
      hint = "; use --read-only to export it without write access";
    }
    return make_error("cannot open " + path + ": " + errno_text(err) + hint, err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error("cannot stat " + path + ": " + errno_text(err), err);
  }
  uint64_t size = 0;
  bool block_device = false;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    block_device = true;
    if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
      const int err = errno;
      ::close(fd);
      return make_error("cannot read the size of block device " + path + ": " + errno_text(err),
                        err);
    }
  } else {
    ::close(fd);
    return make_error(path + " is neither a regular file nor a block device", EINVAL);
  }
  return std::unique_ptr<FileVolume>(
      new FileVolume(path, fd, size, options.read_only, block_device, options.workers));
}

FileVolume::FileVolume(std::string path, int fd, uint64_t size, bool read_only, bool block_device,
                       unsigned workers)
    : path_(std::move(path)),
      fd_(fd),
      size_(size),
      read_only_(read_only),
      block_device_(block_device),
      pool_(std::make_unique<WorkerPool>(workers)) {}

FileVolume::~FileVolume() {
  pool_.reset();
  ::close(fd_);
}

void FileVolume::submit(BlockRequest request, Completion done) {
  // std::function needs a copyable callable; the request travels in a
  // shared_ptr so its data buffer is moved, never copied.
  auto state =
      std::make_shared<std::pair<BlockRequest, Completion>>(std::move(request), std::move(done));
  pool_->post([this, state] {
    const int err = execute(state->first);
    state->second(std::move(state->first), err);
  });
}

int FileVolume::execute(BlockRequest& r) {
  // Requests from NbdSession are already bounded; this guards other callers.
  if (r.op != BlockOp::kFlush && (r.offset > size_ || r.length > size_ - r.offset)) {
    return EINVAL;
  }
  if (read_only_ && r.op != BlockOp::kRead && r.op != BlockOp::kFlush) return EROFS;
  switch (r.op) {
    case BlockOp::kRead:
      return do_read(r);
    case BlockOp::kWrite:
      return do_write(r);
    case BlockOp::kFlush:
      return read_only_ ? 0 : sync();
    case BlockOp::kTrim:
      return do_trim(r);
    case BlockOp::kWriteZeroes:
      return do_write_zeroes(r);
  }
  return EINVAL;
}

int FileVolume::do_read(BlockRequest& r) {
  r.data.resize(r.length);
  size_t done = 0;
  while (done < r.length) {
    const ssize_t n =
        ::pread(fd_, r.data.data() + done, r.length - done, static_cast<off_t>(r.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(r, "read", errno);
    }
    if (n == 0) return fail(r, "read (file shrank under the export)", EIO);
    done += static_cast<size_t>(n);
  }
  return 0;
}

int FileVolume::do_write(const BlockRequest& r) {
  if (r.data.size() != r.length) return EINVAL;
  size_t done = 0;
  while (done < r.length) {
    const ssize_t n =
        ::pwrite(fd_, r.data.data() + done, r.length - done, static_cast<off_t>(r.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(r, "write", errno);
    }
    done += static_cast<size_t>(n);
  }
  return r.fua ? sync() : 0;
}

int FileVolume::do_trim(const BlockRequest& r) {
  const int rc = ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             static_cast<off_t>(r.offset), static_cast<off_t>(r.length));
  if (rc != 0 && !fallocate_unsupported(errno)) return fail(r, "trim", errno);
  // Trim is a hint: where the file system cannot punch holes it is a no-op.
  return r.fua ? sync() : 0;
}

int FileVolume::do_write_zeroes(const BlockRequest& r) {
  // Punching a hole reads back as zeroes on files, and on block devices
  // the kernel only succeeds when the range reads back as zeroes. NO_HOLE
  // asks for the space to stay allocated: zero the range in place.
  const int mode = r.no_hole ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
                             : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  int err = 0;
  if (::fallocate(fd_, mode, static_cast<off_t>(r.offset), static_cast<off_t>(r.length)) != 0) {
    err = errno;
    if (!fallocate_unsupported(err)) return fail(r, "write-zeroes", err);
    err = write_zero_bytes(r.offset, r.length);
    if (err != 0) return fail(r, "write-zeroes", err);
  }
  return r.fua ? sync() : 0;
}

int FileVolume::write_zero_bytes(uint64_t offset, uint64_t length) {
  static const std::array<std::byte, kZeroChunk> zeroes{};
  while (length > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(length, kZeroChunk));
    const ssize_t n = ::pwrite(fd_, zeroes.data(), chunk, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return 0;
}

int FileVolume::sync() {
  if (::fdatasync(fd_) != 0) {
    const int err = errno;
    TLOG(LOG_ERR, "nbd: fdatasync of %s failed: %s", path_.c_str(), errno_text(err).c_str());
    return err;
  }
  return 0;
}

int FileVolume::fail(const BlockRequest& r, const char* what, int err) {
  TLOG(LOG_ERR, "nbd: %s of %" PRIu32 " bytes at offset %" PRIu64 " on %s failed: %s", what,
       r.length, r.offset, path_.c_str(), errno_text(err).c_str());
  return err;
}

}  // namespace tandem::nbd
