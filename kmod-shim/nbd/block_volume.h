// The volume a frontend shows to clients. The replication engine implements
// it for a resource (writes go through the replication path; a secondary is
// read-only); FileVolume implements it for a plain file or block device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/io_buffer.h"

namespace tandem::nbd {

enum class BlockOp : uint8_t { kRead, kWrite, kFlush, kTrim, kWriteZeroes };

const char* block_op_name(BlockOp op);

struct BlockRequest {
  uint64_t id = 0;      // assigned by the frontend session, unique while in flight
  uint64_t cookie = 0;  // the client's handle, echoed in the reply
  BlockOp op = BlockOp::kRead;
  uint64_t offset = 0;
  uint32_t length = 0;
  bool fua = false;      // complete only once the data is on stable storage
  bool no_hole = false;  // write-zeroes must leave the range allocated
  // kWrite: the data (length bytes). kRead: the volume fills it with length
  // bytes on success.
  IoBuffer data;  // page-aligned: the O_DIRECT data path uses it as it is
};

// Block size constraints advertised to clients.
struct BlockLimits {
  uint32_t minimum = 1;          // alignment of offsets and lengths; power of two
  uint32_t preferred = 4096;     // power of two, >= max(minimum, 512)
  uint32_t maximum = 32u << 20;  // largest read or write; a multiple of minimum
};

class BlockVolume {
 public:
  // Called exactly once per submitted request with the request (read data
  // filled in) and 0 or a positive errno. May run on any thread, and may run
  // before submit() returns.
  using Completion = std::function<void(BlockRequest request, int error)>;

  virtual ~BlockVolume() = default;

  virtual uint64_t size() const = 0;
  virtual bool read_only() const = 0;
  virtual BlockLimits limits() const { return {}; }
  // True when a flush or FUA on one connection makes every completed write of
  // every connection durable and visible (one shared cache or none).
  virtual bool flush_covers_all_connections() const = 0;
  // Names the volume in log lines, e.g. "file /srv/disk.img".
  virtual std::string describe() const = 0;

  // Requests arrive already checked against size(), read_only() and
  // limits(); a volume still refuses what it cannot do with an errno.
  virtual void submit(BlockRequest request, Completion done) = 0;
};

}  // namespace tandem::nbd
