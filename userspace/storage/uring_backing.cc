#include "storage/uring_backing.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::storage {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string open_failure(const std::string& path, int err, const char* how) {
  std::string m = "cannot open " + path + how + ": " + errno_text(err);
  if (err == EBUSY) m += " (mounted or in use by another program)";
  if (err == EACCES || err == EPERM) m += " (run as root or fix the permissions)";
  return m;
}

// The O_DIRECT alignment of a regular file, from statx (Linux 6.1+); 4 KiB,
// which every file system accepts, when the kernel does not say.
uint32_t file_dio_alignment(int fd) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0) {
    return std::max(stx.stx_dio_offset_align, stx.stx_dio_mem_align);
  }
  return 4096;
}

}  // namespace

Result<std::unique_ptr<UringBacking>> UringBacking::open(const std::string& path,
                                                         const UringOptions& options) {
  std::unique_ptr<UringBacking> dev(new UringBacking());
  dev->path_ = path;
  dev->depth_ = options.queue_depth == 0 ? 1 : options.queue_depth;
  int access = options.read_only ? O_RDONLY : O_RDWR;
  if (options.exclusive) {
    struct stat pre {};
    if (::stat(path.c_str(), &pre) == 0 && S_ISBLK(pre.st_mode)) {
      access |= O_EXCL;
    }
  }

  if (options.direct != DirectIo::kOff) {
    dev->fd_ = ::open(path.c_str(), access | O_CLOEXEC | O_DIRECT);
    if (dev->fd_ >= 0) {
      dev->direct_ = true;
    } else if (errno == EINVAL && options.direct == DirectIo::kPrefer) {
      TLOG(LOG_WARNING,
           "%s: the file system refuses O_DIRECT (%s); using buffered I/O, durability "
           "still comes from explicit flushes",
           path.c_str(), errno_text(errno).c_str());
    } else {
      const int err = errno;
      return make_error(err == EINVAL ? open_failure(path, err, " with O_DIRECT") +
                                            " (the file system does not support direct I/O)"
                                      : open_failure(path, err, ""),
                        err);
    }
  }
  if (dev->fd_ < 0) {
    dev->fd_ = ::open(path.c_str(), access | O_CLOEXEC);
    if (dev->fd_ < 0) {
      const int err = errno;
      return make_error(open_failure(path, err, ""), err);
    }
  }

  struct stat st {};
  if (fstat(dev->fd_, &st) != 0) {
    const int err = errno;
    return make_error("cannot stat " + path + ": " + errno_text(err), err);
  }
  if (S_ISBLK(st.st_mode)) {
    dev->block_device_ = true;
    uint64_t bytes = 0;
    if (ioctl(dev->fd_, BLKGETSIZE64, &bytes) != 0) {
      const int err = errno;
      return make_error("cannot read the size of block device " + path + ": " + errno_text(err),
                        err);
    }
    dev->size_ = bytes;
    int sector = 512;
    if (ioctl(dev->fd_, BLKSSZGET, &sector) != 0 || sector <= 0) {
      sector = 512;
    }
    dev->alignment_ = dev->direct_ ? static_cast<uint32_t>(sector) : 1;
  } else if (S_ISREG(st.st_mode)) {
    dev->size_ = static_cast<uint64_t>(st.st_size);
    dev->alignment_ = dev->direct_ ? file_dio_alignment(dev->fd_) : 1;
  } else {
    return make_error(path + " is neither a block device nor a regular file");
  }

  const int qerr = io_uring_queue_init(dev->depth_, &dev->ring_, 0);
  if (qerr < 0) {
    return make_error("cannot set up io_uring for " + path + ": " + errno_text(-qerr), -qerr);
  }
  dev->ring_ready_ = true;
  if (const int rerr = io_uring_register_files(&dev->ring_, &dev->fd_, 1); rerr < 0) {
    return make_error("cannot register " + path + " with io_uring: " + errno_text(-rerr), -rerr);
  }
  if (!options.buffers.empty()) {
    std::vector<iovec> iov;
    iov.reserve(options.buffers.size());
    for (const auto& b : options.buffers) {
      iov.push_back(iovec{b.data(), b.size()});
    }
    const int berr =
        io_uring_register_buffers(&dev->ring_, iov.data(), static_cast<unsigned>(iov.size()));
    if (berr < 0) {
      return make_error("cannot register " + std::to_string(iov.size()) + " I/O buffers for " +
                            path + " with io_uring: " + errno_text(-berr),
                        -berr);
    }
    dev->buffers_ = options.buffers;
  }
  dev->slots_.resize(dev->depth_);
  dev->free_slots_.reserve(dev->depth_);
  for (uint32_t i = dev->depth_; i > 0; --i) {
    dev->free_slots_.push_back(i - 1);
  }
  TLOG(LOG_DEBUG, "%s: opened, %llu bytes, %s I/O, alignment %u, queue depth %u", path.c_str(),
       static_cast<unsigned long long>(dev->size_), dev->direct_ ? "direct" : "buffered",
       dev->alignment_, dev->depth_);
  return dev;
}

UringBacking::~UringBacking() {
  if (ring_ready_) {
    // Requests still in the kernel reference caller memory; wait for them.
    std::vector<IoCompletion> drain;
    if (outstanding_ > 0) {
      (void)reap(drain, outstanding_);
    }
    io_uring_queue_exit(&ring_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Result<void> UringBacking::check_buffer(const IoRequest& r) const {
  if (r.buffer_index < 0) {
    return {};
  }
  const auto idx = static_cast<size_t>(r.buffer_index);
  if (idx >= buffers_.size()) {
    return make_error(path_ + ": request names registered buffer " +
                      std::to_string(r.buffer_index) + " but only " +
                      std::to_string(buffers_.size()) + " are registered");
  }
  const auto* begin = buffers_[idx].data();
  const auto* end = begin + buffers_[idx].size();
  const auto* p = static_cast<const std::byte*>(r.data);
  if (p < begin || p > end || r.length > static_cast<size_t>(end - p)) {
    return make_error(path_ + ": request data lies outside registered buffer " +
                      std::to_string(r.buffer_index));
  }
  return {};
}

Result<void> UringBacking::submit(const IoRequest& r) {
  if (auto v = validate_request(*this, r); !v) {
    return v;
  }
  if (auto b = check_buffer(r); !b) {
    return b;
  }
  if (free_slots_.empty()) {
    return make_error(path_ + ": queue full (" + std::to_string(depth_) +
                          " requests outstanding); reap completions first",
                      EAGAIN);
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The submission ring is as deep as the slot table, so this only
    // happens if the kernel has not consumed earlier entries yet.
    if (auto k = kick(); !k) {
      return k;
    }
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      return make_error(path_ + ": no io_uring submission entry available", EAGAIN);
    }
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  slots_[slot] = Slot{r.op, r.offset, r.length, r.user_data};

  constexpr int kFile = 0;  // index of the registered file
  switch (r.op) {
    case IoOp::kRead:
      if (r.buffer_index >= 0) {
        io_uring_prep_read_fixed(sqe, kFile, r.data, r.length, r.offset, r.buffer_index);
      } else {
        io_uring_prep_read(sqe, kFile, r.data, r.length, r.offset);
      }
      break;
    case IoOp::kWrite:
      if (r.buffer_index >= 0) {
        io_uring_prep_write_fixed(sqe, kFile, r.data, r.length, r.offset, r.buffer_index);
      } else {
        io_uring_prep_write(sqe, kFile, r.data, r.length, r.offset);
      }
      if (r.fua) {
        // RWF_DSYNC on an O_DIRECT write becomes a FUA write where the
        // device supports it, and write + flush otherwise.
        sqe->rw_flags = RWF_DSYNC;
      }
      break;
    case IoOp::kFlush:
      io_uring_prep_fsync(sqe, kFile, IORING_FSYNC_DATASYNC);
      break;
    case IoOp::kWriteZeroes:
      // A hole in a regular file reads as zeroes and costs no space (large
      // sparse backing files stay sparse); block devices zero the range.
      io_uring_prep_fallocate(sqe, kFile,
                              block_device_ ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
                                            : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              static_cast<off_t>(r.offset), r.length);
      break;
  }
  sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data64(sqe, slot);
  ++queued_;
  ++outstanding_;
  return {};
}

Result<void> UringBacking::kick() {
  if (queued_ == 0) {
    return {};
  }
  const int s = io_uring_submit(&ring_);
  if (s < 0) {
    return make_error(path_ + ": io_uring submit failed: " + errno_text(-s), -s);
  }
  // The kernel may take fewer entries than offered (e.g. while completions
  // are backed up); the rest stay in the ring for the next kick.
  queued_ -= std::min(queued_, static_cast<uint32_t>(s));
  return {};
}

void UringBacking::complete(const io_uring_cqe* cqe, std::vector<IoCompletion>& out) {
  const auto slot = static_cast<uint32_t>(io_uring_cqe_get_data64(cqe));
  const Slot& s = slots_[slot];
  IoCompletion c{.user_data = s.user_data, .op = s.op, .offset = s.offset, .length = s.length};
  if (cqe->res < 0) {
    c.error = -cqe->res;
  } else if (s.op == IoOp::kRead || s.op == IoOp::kWrite) {
    c.transferred = static_cast<uint32_t>(cqe->res);
  } else {
    c.transferred = s.length;
  }
  out.push_back(c);
  free_slots_.push_back(slot);
  --outstanding_;
}

Result<size_t> UringBacking::reap(std::vector<IoCompletion>& out, uint32_t min_complete) {
  if (auto k = kick(); !k) {
    return k.error();
  }
  const uint32_t want = std::min(min_complete, outstanding_);
  size_t got = 0;
  while (true) {
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) {
      complete(cqe, out);
      io_uring_cqe_seen(&ring_, cqe);
      ++got;
    }
    if (got >= want) {
      return got;
    }
    if (queued_ > 0) {
      if (auto k = kick(); !k) {
        return k.error();
      }
    }
    const int w = io_uring_wait_cqe(&ring_, &cqe);
    if (w < 0 && w != -EINTR) {
      return make_error(path_ + ": waiting for io_uring completions failed: " + errno_text(-w), -w);
    }
  }
}

}  // namespace tandem::storage
