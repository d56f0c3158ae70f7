#include "storage/sync_io.h"

#include <algorithm>
#include <stdexcept>

namespace tandem::storage {
namespace {

Result<void> run_one(BlockDevice& device, const IoRequest& request) {
  if (device.outstanding() != 0) {
    throw std::logic_error("sync I/O on " + device.name() + " while requests are outstanding");
  }
  if (auto r = device.submit(request); !r) {
    return r;
  }
  std::vector<IoCompletion> done;
  auto reaped = device.reap(done, 1);
  if (!reaped) {
    return reaped.error();
  }
  if (done.size() != 1) {
    return make_error(device.name() + ": expected one completion, got " +
                      std::to_string(done.size()));
  }
  if (!done[0].ok()) {
    return make_error(describe_failure(device, done[0]), done[0].error != 0 ? done[0].error : 0);
  }
  return {};
}

}  // namespace

Result<void> read_sync(BlockDevice& device, uint64_t offset, std::span<std::byte> buffer) {
  return run_one(device, IoRequest{.op = IoOp::kRead,
                                   .offset = offset,
                                   .data = buffer.data(),
                                   .length = static_cast<uint32_t>(buffer.size())});
}

Result<void> write_sync(BlockDevice& device, uint64_t offset, std::span<const std::byte> data,
                        bool fua) {
  // The request interface carries one pointer for both directions; a write
  // never modifies the buffer.
  return run_one(device, IoRequest{.op = IoOp::kWrite,
                                   .offset = offset,
                                   .data = const_cast<std::byte*>(data.data()),
                                   .length = static_cast<uint32_t>(data.size()),
                                   .fua = fua});
}

Result<void> flush_sync(BlockDevice& device) {
  return run_one(device, IoRequest{.op = IoOp::kFlush});
}

Result<void> zero_sync(BlockDevice& device, uint64_t offset, uint64_t length) {
  constexpr uint64_t kPiece = 1ULL << 30;
  while (length > 0) {
    const uint64_t n = std::min(length, kPiece);
    auto r = run_one(
        device,
        IoRequest{.op = IoOp::kWriteZeroes, .offset = offset, .length = static_cast<uint32_t>(n)});
    if (!r) {
      return r;
    }
    offset += n;
    length -= n;
  }
  return {};
}

}  // namespace tandem::storage
