#include "nbd/block_volume.h"

namespace tandem::nbd {

const char* block_op_name(BlockOp op) {
  switch (op) {
    case BlockOp::kRead:
      return "read";
    case BlockOp::kWrite:
      return "write";
    case BlockOp::kFlush:
      return "flush";
    case BlockOp::kTrim:
      return "trim";
    case BlockOp::kWriteZeroes:
      return "write-zeroes";
  }
  return "unknown";
}

}  // namespace tandem::nbd
