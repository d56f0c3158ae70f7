// The abstract block device every storage component talks to. Requests are
// queued with submit(), handed to the device in one batch by kick() (or by
// reap()), and their results come back from reap() as IoCompletion values;
// nothing is retried behind the caller's back.
//
// Implementations: UringBacking (a file or block device through io_uring),
// MemoryDevice (in memory, with injected faults and power cuts, for tests and
// the simulator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::storage {

enum class IoOp : uint8_t {
  kRead,
  kWrite,
  kFlush,       // makes every completed write durable (offset/length ignored)
  kWriteZeroes  // zeroes [offset, offset + length) without a data buffer
};

const char* op_name(IoOp op);

struct IoRequest {
  IoOp op = IoOp::kRead;
  uint64_t offset = 0;
  void* data = nullptr;  // read target or write source
  uint32_t length = 0;
  bool fua = false;  // write: durable when it completes (forced unit access)
  // Index of a buffer registered with the device that contains `data`, or -1.
  int buffer_index = -1;
  uint64_t user_data = 0;  // returned unchanged in the completion
};

struct IoCompletion {
  uint64_t user_data = 0;
  IoOp op = IoOp::kRead;
  uint64_t offset = 0;
  uint32_t length = 0;       // bytes requested
  uint32_t transferred = 0;  // bytes actually read or written
  int error = 0;             // errno (EIO, ENOSPC, ...), 0 on success

  bool ok() const { return error == 0 && transferred == length; }
  bool short_io() const { return error == 0 && transferred != length; }
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  // Path or other name used in every message about this device.
  virtual const std::string& name() const = 0;
  virtual uint64_t size_bytes() const = 0;
  // Offsets, lengths and buffer addresses must be multiples of this.
  virtual uint32_t alignment() const = 0;
  // Requests that may be queued or in flight at once.
  virtual uint32_t queue_depth() const = 0;
  // Requests submitted and not yet returned by reap().
  virtual uint32_t outstanding() const = 0;

  // Queues a request. Fails (and queues nothing) when the request is
  // malformed, beyond the end of the device, or the queue is full
  // (outstanding() == queue_depth(): reap first).
  virtual Result<void> submit(const IoRequest& request) = 0;
  // Hands every queued request to the device.
  virtual Result<void> kick() = 0;
  // Kicks, then appends completions to `out`, waiting until at least
  // `min_complete` (capped at outstanding()) have arrived. Returns how many
  // were appended.
  virtual Result<size_t> reap(std::vector<IoCompletion>& out, uint32_t min_complete) = 0;
};

// "write of 4096 bytes at offset 8192 on /dev/sdb: Input/output error".
std::string describe_failure(const BlockDevice& device, const IoCompletion& completion);

// Checks a request against the device's size and alignment rules; the
// message names the device and the offending value.
Result<void> validate_request(const BlockDevice& device, const IoRequest& request);

}  // namespace tandem::storage
