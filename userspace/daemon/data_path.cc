#include "daemon/data_path.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::daemon {
namespace {

// Spare bounce buffers kept for reuse, and the largest one kept: enough for
// the requests in flight of one resource without holding memory for
// rare huge requests.
constexpr size_t kMaxSpareBounce = 32;
constexpr size_t kMaxKeptBounceBytes = 4u << 20;

// The alignment O_DIRECT requests on `fd` need (offset, length and memory
// address alike): what statx reports (Linux 6.1+ for files, 6.11+ for
// block devices), else a block device's logical block size, else 4 KiB,
// which every file system accepts.
uint32_t dio_alignment(int fd, bool block_device) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0) {
    return std::max(stx.stx_dio_offset_align, stx.stx_dio_mem_align);
  }
  int sector = 0;
  if (block_device && ioctl(fd, BLKSSZGET, &sector) == 0 && sector > 0) {
    return static_cast<uint32_t>(sector);
  }
  return 4096;
}

bool power_of_two(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

Result<std::unique_ptr<DataPath>> DataPath::open(EventLoop& loop, const std::string& path,
                                                 const std::string& who, Direct direct) {
  std::unique_ptr<DataPath> p(new DataPath(loop));
  p->path_ = path;
  p->buffered_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (p->buffered_fd_ < 0) {
    const int err = errno;
    return make_error(who + ": cannot open " + path + " for the data path: " + std::strerror(err),
                      err);
  }
  if (direct == Direct::kOff) return p;
  p->direct_fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
  if (p->direct_fd_ < 0) {
    const int err = errno;
    if (err != EINVAL) {
      return make_error(who + ": cannot open " + path + " with O_DIRECT: " + std::strerror(err),
                        err);
    }
    TLOG(LOG_WARNING,
         "%s: the file system of %s refuses O_DIRECT: data I/O goes through the page cache "
         "(flushes still make writes durable)",
         who.c_str(), path.c_str());
    return p;
  }
  struct stat st {};
  const bool block_device = fstat(p->direct_fd_, &st) == 0 && S_ISBLK(st.st_mode);
  const uint32_t alignment = dio_alignment(p->direct_fd_, block_device);
  if (!power_of_two(alignment) || alignment > storage::kIoAlignment) {
    // Bounce buffers are aligned to kIoAlignment; a device that needs more
    // is not worth a second allocator.
    TLOG(LOG_WARNING,
         "%s: %s needs O_DIRECT requests aligned to %u bytes (more than %zu): data I/O goes "
         "through the page cache",
         who.c_str(), path.c_str(), alignment, storage::kIoAlignment);
    close(p->direct_fd_);
    p->direct_fd_ = -1;
    return p;
  }
  p->alignment_ = alignment;
  TLOG(LOG_DEBUG, "%s: data path on %s: O_DIRECT, alignment %u", who.c_str(), path.c_str(),
       alignment);
  return p;
}

DataPath::~DataPath() {
  *alive_ = false;
  // Requests still waiting for the other kind to finish never reached the
  // device: they fail, from the loop rather than inside this destructor.
  for (Request& r : held_) {
    loop_.add_timer(std::chrono::milliseconds(0), [cb = std::move(r.callback)] { cb(-EIO); });
  }
  // Writes completed on an O_DIRECT descriptor may still sit in the
  // device's volatile cache, buffered ones in the page cache.
  fdatasync(buffered_fd_);
  if (direct_fd_ >= 0) close(direct_fd_);
  close(buffered_fd_);
}

void DataPath::submit(EventLoop::FileOp op, std::byte* data, uint32_t length, uint64_t offset,
                      bool fua, EventLoop::IoCallback callback) {
  if (op == EventLoop::FileOp::kFsync) {
    // fdatasync syncs the file whichever descriptor names it; it needs no
    // ordering against requests still in flight (the caller only counts on
    // writes that completed before it).
    loop_.submit_io(op, fd(), nullptr, 0, 0, false, std::move(callback));
    return;
  }
  if (!direct()) {
    ++counters_.buffered;
    loop_.submit_io(op, buffered_fd_, data, length, offset, fua, std::move(callback));
    return;
  }
  Request r{
      op, data, length, offset, fua, !aligned(offset) || !aligned(length), std::move(callback)};
  if (!held_.empty() || !may_start(r)) {
    // Behind whatever already waits, so that nothing is overtaken.
    ++counters_.held;
    held_.push_back(std::move(r));
    return;
  }
  start(std::move(r));
}

bool DataPath::may_start(const Request& r) const {
  return r.buffered ? direct_in_flight_ == 0 : buffered_in_flight_ == 0;
}

void DataPath::start(Request&& r) {
  std::weak_ptr<bool> alive = alive_;
  if (r.buffered) {
    ++counters_.buffered;
    ++buffered_in_flight_;
    loop_.submit_io(r.op, buffered_fd_, r.data, r.length, r.offset, r.fua,
                    [this, alive, cb = std::move(r.callback)](int32_t res) {
                      if (!alive.expired()) finished(true);
                      cb(res);
                    });
    return;
  }
  ++direct_in_flight_;
  if (aligned(reinterpret_cast<uintptr_t>(r.data))) {
    ++counters_.direct;
    loop_.submit_io(r.op, direct_fd_, r.data, r.length, r.offset, r.fua,
                    [this, alive, cb = std::move(r.callback)](int32_t res) {
                      if (!alive.expired()) finished(false);
                      cb(res);
                    });
    return;
  }
  ++counters_.bounced;
  std::shared_ptr<storage::AlignedBuffer> bounce = take_bounce(r.length);
  const bool is_read = r.op == EventLoop::FileOp::kRead;
  if (!is_read) std::memcpy(bounce->data(), r.data, r.length);
  // The callback owns the bounce buffer: the kernel may still write into it
  // after this object is gone.
  loop_.submit_io(r.op, direct_fd_, bounce->data(), r.length, r.offset, r.fua,
                  [this, alive, is_read, dest = r.data, bounce,
                   cb = std::move(r.callback)](int32_t res) mutable {
                    if (is_read && res > 0)
                      std::memcpy(dest, bounce->data(), static_cast<size_t>(res));
                    if (!alive.expired()) {
                      give_back(std::move(bounce));
                      finished(false);
                    }
                    cb(res);
                  });
}

void DataPath::finished(bool buffered) {
  if (buffered) {
    --buffered_in_flight_;
  } else {
    --direct_in_flight_;
  }
  while (!held_.empty() && may_start(held_.front())) {
    Request r = std::move(held_.front());
    held_.pop_front();
    start(std::move(r));
  }
}

std::shared_ptr<storage::AlignedBuffer> DataPath::take_bounce(uint32_t length) {
  // The smallest spare that fits.
  auto best = spare_bounce_.end();
  for (auto it = spare_bounce_.begin(); it != spare_bounce_.end(); ++it) {
    if ((*it)->size() >= length && (best == spare_bounce_.end() || (*it)->size() < (*best)->size()))
      best = it;
  }
  if (best != spare_bounce_.end()) {
    std::shared_ptr<storage::AlignedBuffer> b = std::move(*best);
    spare_bounce_.erase(best);
    return b;
  }
  return std::make_shared<storage::AlignedBuffer>(length);
}

void DataPath::give_back(std::shared_ptr<storage::AlignedBuffer>&& buffer) {
  if (spare_bounce_.size() >= kMaxSpareBounce || buffer->size() > kMaxKeptBounceBytes) return;
  spare_bounce_.push_back(std::move(buffer));
}

}  // namespace tandem::daemon
