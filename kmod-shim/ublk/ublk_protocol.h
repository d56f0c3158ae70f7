// The ublk driver's command and descriptor formats (linux/ublk_cmd.h), as
// pure functions: control commands to /dev/ublk-control, per-request
// commands to /dev/ublkcN, device parameters, and the mapping of a request
// descriptor to a volume request. ublk_device.h sends them over io_uring.
//
// Opcodes are the driver's original numbers (UBLK_CMD_ADD_DEV, ...), which
// every ublk kernel accepts unless built without
// CONFIG_BLKDEV_UBLK_LEGACY_OPCODES.
#pragma once

#include <linux/ublk_cmd.h>

#include <cstdint>
#include <optional>

#include "nbd/block_volume.h"

namespace tandem::ublk {

inline constexpr uint32_t kAnyDevice = UINT32_MAX;  // ADD_DEV: the kernel picks
inline constexpr uint16_t kNoQueue = UINT16_MAX;    // control commands of no queue
inline constexpr uint32_t kSectorShift = 9;

// A control command for the 80-byte command area of a 128-byte SQE.
ublksrv_ctrl_cmd control_command(uint32_t dev_id, const void* buffer, uint16_t length,
                                 uint64_t data0 = 0);

// ADD_DEV's device description: one queue of `depth` requests of at most
// `max_io_bytes` each, served by process `pid`.
ublksrv_ctrl_dev_info device_info(uint32_t dev_id, uint16_t depth, uint32_t max_io_bytes,
                                  int32_t pid);

// SET_PARAMS: size, 512-byte logical blocks, a volatile cache with FUA (so
// that flushes and FUA writes reach us), discard and write-zeroes.
ublk_params device_params(uint64_t size_bytes, uint32_t max_io_bytes);

// FETCH_REQ (result ignored) or COMMIT_AND_FETCH_REQ for one tag.
ublksrv_io_cmd io_command(uint16_t queue, uint16_t tag, int32_t result, uint64_t buffer);

// Bytes of the descriptor area for one queue, as mmap()ed from the char
// device (rounded to pages by the caller).
inline constexpr uint64_t descriptor_bytes(uint16_t depth) {
  return uint64_t{depth} * sizeof(ublksrv_io_desc);
}

// What a descriptor asks for.
struct MappedIo {
  int error = 0;           // positive errno: answer at once with it
  bool immediate = false;  // answer at once with success (discard: a hint)
  nbd::BlockRequest request;
};
MappedIo map_descriptor(const ublksrv_io_desc& d, uint64_t size_bytes, uint32_t max_io_bytes);

// The COMMIT result for a finished request: bytes done, or -errno.
int32_t commit_result(const nbd::BlockRequest& r, int error);

}  // namespace tandem::ublk
