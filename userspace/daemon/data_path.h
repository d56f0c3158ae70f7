// A resource's data I/O on its backing device, on the event loop's ring.
//
// The device is opened with O_DIRECT, so that a completed write is on the
// device (possibly in its volatile cache, which a flush empties) and reads
// do not go through the page cache: buffered writes on ext4 are handed by
// io_uring to a worker thread each (a thread switch per write), and a
// resync source's uncached buffered reads run an order of magnitude below
// the disk. When the file system refuses O_DIRECT (open fails with EINVAL)
// the data path is buffered, with one logged reason; durability then comes
// from flushes as before.
//
// O_DIRECT needs the offset, the length and the memory address aligned to
// the device's DIO alignment (statx STATX_DIOALIGN, the logical block size
// of a block device). Requests that are not aligned still work:
// - only the memory is misaligned (e.g. a buffer from malloc): the data is
//   copied through an aligned bounce buffer taken from a small pool;
// - the offset or length is misaligned (a 512-byte request on a device
//   with 4 KiB sectors): the request goes through a second, buffered file
//   descriptor. The kernel keeps the two coherent as long as they never
//   run at the same time on the same pages (a direct write writes back
//   and drops the cached pages of its range before and after it), so a
//   buffered request waits until no direct one is in flight and direct
//   ones wait while buffered ones run. Such requests are rare; this costs
//   them (and whoever arrives behind them) some parallelism, nothing else.
//
// A write with `fua` is RWF_DSYNC (a FUA write on an O_DIRECT file); a
// flush is fdatasync, which covers the pages of the buffered descriptor too
// (it syncs the file, not the descriptor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/event_loop.h"
#include "storage/aligned_buffer.h"

namespace tandem::daemon {

class DataPath {
 public:
  enum class Direct {
    kPrefer,  // O_DIRECT, or buffered with a logged reason when refused
    kOff,     // buffered (tests of the fallback)
  };
  // Opens `path` read-write. `who` prefixes errors and the log line.
  static Result<std::unique_ptr<DataPath>> open(EventLoop& loop, const std::string& path,
                                                const std::string& who,
                                                Direct direct = Direct::kPrefer);
  // Syncs the file (fdatasync) and closes it. Requests still in flight keep
  // their bounce buffers alive until they complete; requests still held
  // back (never issued) complete with -EIO from the loop.
  ~DataPath();
  DataPath(const DataPath&) = delete;
  DataPath& operator=(const DataPath&) = delete;

  // Same contract as EventLoop::submit_io: `callback` gets bytes
  // transferred or -errno; `data` stays valid until it runs.
  void submit(EventLoop::FileOp op, std::byte* data, uint32_t length, uint64_t offset, bool fua,
              EventLoop::IoCallback callback);

  bool direct() const { return direct_fd_ >= 0; }
  // Alignment O_DIRECT requests need (1 when buffered).
  uint32_t alignment() const { return alignment_; }
  // The descriptor of the data path (the O_DIRECT one when direct).
  int fd() const { return direct() ? direct_fd_ : buffered_fd_; }

  struct Counters {
    uint64_t direct = 0;    // O_DIRECT with the caller's memory
    uint64_t bounced = 0;   // O_DIRECT through a bounce buffer
    uint64_t buffered = 0;  // through the page cache
    uint64_t held = 0;      // waited for the other kind to finish
  };
  const Counters& counters() const { return counters_; }
  size_t in_flight() const { return direct_in_flight_ + buffered_in_flight_; }

 private:
  struct Request {
    EventLoop::FileOp op = EventLoop::FileOp::kRead;
    std::byte* data = nullptr;
    uint32_t length = 0;
    uint64_t offset = 0;
    bool fua = false;
    bool buffered = false;
    EventLoop::IoCallback callback;
  };
  DataPath(EventLoop& loop) : loop_(loop) {}
  bool aligned(uint64_t value) const { return value % alignment_ == 0; }
  bool may_start(const Request& r) const;
  void start(Request&& r);
  void finished(bool buffered);
  std::shared_ptr<storage::AlignedBuffer> take_bounce(uint32_t length);
  void give_back(std::shared_ptr<storage::AlignedBuffer>&& buffer);

  EventLoop& loop_;
  std::string path_;
  int direct_fd_ = -1;    // O_DIRECT, -1 when refused
  int buffered_fd_ = -1;  // page cache: the whole data path, or misaligned requests
  uint32_t alignment_ = 1;
  uint32_t direct_in_flight_ = 0;
  uint32_t buffered_in_flight_ = 0;
  std::deque<Request> held_;  // in arrival order, behind the other kind
  std::vector<std::shared_ptr<storage::AlignedBuffer>> spare_bounce_;
  Counters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tandem::daemon
