#include "storage/block_device.h"

#include <cstring>

namespace tandem::storage {

const char* op_name(IoOp op) {
  switch (op) {
    case IoOp::kRead:
      return "read";
    case IoOp::kWrite:
      return "write";
    case IoOp::kFlush:
      return "flush";
    case IoOp::kWriteZeroes:
      return "write-zeroes";
  }
  return "unknown operation";
}

std::string describe_failure(const BlockDevice& device, const IoCompletion& c) {
  std::string what = std::string(op_name(c.op));
  if (c.op != IoOp::kFlush) {
    what += " of " + std::to_string(c.length) + " bytes at offset " + std::to_string(c.offset);
  }
  what += " on " + device.name() + ": ";
  if (c.error != 0) {
    what += std::strerror(c.error);
  } else if (c.short_io()) {
    what += "short I/O, only " + std::to_string(c.transferred) + " of " + std::to_string(c.length) +
            " bytes transferred";
  } else {
    what += "succeeded";
  }
  return what;
}

Result<void> validate_request(const BlockDevice& device, const IoRequest& r) {
  if (r.op == IoOp::kFlush) {
    return {};
  }
  const std::string where = std::string(op_name(r.op)) + " of " + std::to_string(r.length) +
                            " bytes at offset " + std::to_string(r.offset) + " on " + device.name();
  const uint64_t align = device.alignment();
  if (r.length == 0) {
    return make_error(where + ": empty request");
  }
  if (r.offset % align != 0 || r.length % align != 0) {
    return make_error(where + ": offset and length must be multiples of " + std::to_string(align));
  }
  if (r.offset > device.size_bytes() || r.length > device.size_bytes() - r.offset) {
    return make_error(where + ": beyond the end of the device (" +
                      std::to_string(device.size_bytes()) + " bytes)");
  }
  if (r.op != IoOp::kWriteZeroes) {
    if (r.data == nullptr) {
      return make_error(where + ": no data buffer");
    }
    if (reinterpret_cast<uintptr_t>(r.data) % align != 0) {
      return make_error(where + ": buffer address not aligned to " + std::to_string(align));
    }
  }
  return {};
}

}  // namespace tandem::storage
