#include "ublk/ublk_protocol.h"

#include <cerrno>
#include <climits>

namespace tandem::ublk {

ublksrv_ctrl_cmd control_command(uint32_t dev_id, const void* buffer, uint16_t length,
                                 uint64_t data0) {
  ublksrv_ctrl_cmd c{};
  c.dev_id = dev_id;
  c.queue_id = kNoQueue;
  c.len = length;
  c.addr = reinterpret_cast<uintptr_t>(buffer);
  c.data[0] = data0;
  return c;
}

ublksrv_ctrl_dev_info device_info(uint32_t dev_id, uint16_t depth, uint32_t max_io_bytes,
                                  int32_t pid) {
  ublksrv_ctrl_dev_info i{};
  i.nr_hw_queues = 1;
  i.queue_depth = depth;
  i.max_io_buf_bytes = max_io_bytes;
  i.dev_id = dev_id;
  i.ublksrv_pid = pid;
  i.flags = 0;  // data is copied through the buffers given with each fetch
  return i;
}

ublk_params device_params(uint64_t size_bytes, uint32_t max_io_bytes) {
  ublk_params p{};
  p.len = sizeof p;
  p.types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
  p.basic.attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
  p.basic.logical_bs_shift = 9;
  p.basic.physical_bs_shift = 12;
  p.basic.io_opt_shift = 12;
  p.basic.io_min_shift = 9;
  p.basic.max_sectors = max_io_bytes >> kSectorShift;
  p.basic.dev_sectors = size_bytes >> kSectorShift;
  p.discard.discard_granularity = 4096;
  p.discard.max_discard_sectors = max_io_bytes >> kSectorShift;
  p.discard.max_write_zeroes_sectors = max_io_bytes >> kSectorShift;
  p.discard.max_discard_segments = 1;
  return p;
}

ublksrv_io_cmd io_command(uint16_t queue, uint16_t tag, int32_t result, uint64_t buffer) {
  ublksrv_io_cmd c{};
  c.q_id = queue;
  c.tag = tag;
  c.result = result;
  c.addr = buffer;
  return c;
}

MappedIo map_descriptor(const ublksrv_io_desc& d, uint64_t size_bytes, uint32_t max_io_bytes) {
  MappedIo m;
  const uint8_t op = ublksrv_get_op(&d);
  const uint32_t flags = ublksrv_get_flags(&d);
  const uint64_t offset = d.start_sector << kSectorShift;
  const uint64_t length = uint64_t{d.nr_sectors} << kSectorShift;
  if (op == UBLK_IO_OP_FLUSH) {
    m.request.op = nbd::BlockOp::kFlush;
    return m;
  }
  if (d.start_sector > (UINT64_MAX >> kSectorShift) || offset > size_bytes ||
      length > size_bytes - offset) {
    m.error = EIO;  // the kernel checks the device size; never trust it blindly
    return m;
  }
  m.request.offset = offset;
  m.request.length = static_cast<uint32_t>(length);
  m.request.fua = (flags & (UBLK_IO_F_FUA >> 8)) != 0;
  switch (op) {
    case UBLK_IO_OP_READ:
    case UBLK_IO_OP_WRITE:
      if (length > max_io_bytes) {
        m.error = EINVAL;
        return m;
      }
      m.request.op = op == UBLK_IO_OP_READ ? nbd::BlockOp::kRead : nbd::BlockOp::kWrite;
      return m;
    case UBLK_IO_OP_DISCARD:
      // Discarded blocks may read back as anything: the data may stay.
      m.immediate = true;
      return m;
    case UBLK_IO_OP_WRITE_ZEROES:
      m.request.op = nbd::BlockOp::kWriteZeroes;
      m.request.no_hole = (flags & (UBLK_IO_F_NOUNMAP >> 8)) != 0;
      return m;
    default:
      m.error = EOPNOTSUPP;
      return m;
  }
}

int32_t commit_result(const nbd::BlockRequest& r, int error) {
  if (error != 0) return -error;
  if (r.op == nbd::BlockOp::kFlush) return 0;
  return r.length > static_cast<uint32_t>(INT32_MAX) ? INT32_MAX : static_cast<int32_t>(r.length);
}

}  // namespace tandem::ublk
