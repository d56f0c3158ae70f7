// How operations on the exported file become volume requests: sans-I/O, so
// that the rules (alignment, end of file, O_DSYNC -> FUA, fallocate modes)
// are unit-tested without a mount.
//
// The file behaves like the block device it stands for: reads may start and
// end anywhere (the request is widened to whole sectors and the reply cut
// back), writes must cover whole sectors (EINVAL otherwise, as O_DIRECT on a
// disk), nothing is written past the end (ENOSPC) and the size never
// changes. A punched hole must read back as zeros, which an NBD-style trim
// does not promise, so both punch-hole and zero-range become write-zeroes;
// only zero-range insists that the range stays allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nbd/block_volume.h"

namespace tandem::fuse {

struct FileGeometry {
  uint64_t size = 0;
  uint32_t sector = 512;           // power of two
  uint32_t max_request = 1 << 20;  // largest read or write the volume takes
};

struct MappedRequest {
  int error = 0;  // positive errno: answer at once with this error
  // Nothing to ask the volume: answer at once with success (an empty read
  // at or past the end, allocating already allocated space).
  bool immediate = false;
  nbd::BlockRequest request;  // when neither error nor immediate
  // Reads: the reply is request.data[skip, skip + reply_length).
  uint32_t skip = 0;
  uint32_t reply_length = 0;
};

MappedRequest map_read(const FileGeometry& g, uint64_t offset, uint64_t length);
// `open_flags` are the flags of the write (the file's open flags, plus
// O_DSYNC for an RWF_DSYNC write): O_DSYNC or O_SYNC make it a FUA write.
MappedRequest map_write(const FileGeometry& g, uint64_t offset, std::span<const std::byte> data,
                        int open_flags);
MappedRequest map_fallocate(const FileGeometry& g, int mode, uint64_t offset, uint64_t length);
// fsync, fdatasync and the flush at close.
MappedRequest map_flush();

}  // namespace tandem::fuse
