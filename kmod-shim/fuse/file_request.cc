#include "fuse/file_request.h"

#include <fcntl.h>
#include <linux/falloc.h>

#include <algorithm>
#include <cerrno>

namespace tandem::fuse {

namespace {

MappedRequest fail(int error) {
  MappedRequest m;
  m.error = error;
  return m;
}

MappedRequest done() {
  MappedRequest m;
  m.immediate = true;
  return m;
}

uint64_t round_down(uint64_t v, uint32_t to) {
  return v & ~(static_cast<uint64_t>(to) - 1);
}

}  // namespace

MappedRequest map_read(const FileGeometry& g, uint64_t offset, uint64_t length) {
  if (offset >= g.size || length == 0) return done();  // end of file
  uint64_t end = std::min(g.size, offset + std::min<uint64_t>(length, g.max_request));
  const uint64_t first = round_down(offset, g.sector);
  // Widening to whole sectors must not make the request too large: read
  // less (a short read), never more than the volume takes.
  end = std::min(end, first + g.max_request);
  const uint64_t last = std::min(g.size, round_down(end + g.sector - 1, g.sector));
  if (end <= offset) return fail(EINVAL);  // max_request below one sector
  MappedRequest m;
  m.request.op = nbd::BlockOp::kRead;
  m.request.offset = first;
  m.request.length = static_cast<uint32_t>(last - first);
  m.skip = static_cast<uint32_t>(offset - first);
  m.reply_length = static_cast<uint32_t>(end - offset);
  return m;
}

MappedRequest map_write(const FileGeometry& g, uint64_t offset, std::span<const std::byte> data,
                        int open_flags) {
  if (data.empty()) return done();
  if (offset % g.sector != 0 || data.size() % g.sector != 0) return fail(EINVAL);
  if (data.size() > g.max_request) return fail(EINVAL);
  if (offset >= g.size || data.size() > g.size - offset) return fail(ENOSPC);
  MappedRequest m;
  m.request.op = nbd::BlockOp::kWrite;
  m.request.offset = offset;
  m.request.length = static_cast<uint32_t>(data.size());
  m.request.fua = (open_flags & (O_DSYNC | O_SYNC)) != 0;
  m.request.data.assign(data.begin(), data.end());
  return m;
}

MappedRequest map_fallocate(const FileGeometry& g, int mode, uint64_t offset, uint64_t length) {
  constexpr int kPunch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  const bool punch = mode == kPunch;
  const bool zero =
      mode == FALLOC_FL_ZERO_RANGE || mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
  const bool allocate = mode == 0 || mode == FALLOC_FL_KEEP_SIZE;
  if (!punch && !zero && !allocate) return fail(EOPNOTSUPP);
  if (length == 0) return fail(EINVAL);
  if (offset >= g.size || length > g.size - offset) {
    // The file cannot grow; keep-size modes past the end touch nothing.
    if ((mode & FALLOC_FL_KEEP_SIZE) != 0 && offset >= g.size) return done();
    if ((mode & FALLOC_FL_KEEP_SIZE) != 0) {
      length = g.size - offset;
    } else {
      return fail(ENOSPC);
    }
  }
  if (allocate) return done();  // every byte of the volume exists already
  if (offset % g.sector != 0 || length % g.sector != 0) return fail(EINVAL);
  if (length > UINT32_MAX - (g.sector - 1)) {
    // BlockRequest lengths are 32-bit; the caller's volume splits
    // write-zeroes, so cap to what one request can carry.
    return fail(EFBIG);
  }
  MappedRequest m;
  m.request.op = nbd::BlockOp::kWriteZeroes;
  m.request.offset = offset;
  m.request.length = static_cast<uint32_t>(length);
  m.request.no_hole = zero;
  return m;
}

MappedRequest map_flush() {
  MappedRequest m;
  m.request.op = nbd::BlockOp::kFlush;
  return m;
}

}  // namespace tandem::fuse
