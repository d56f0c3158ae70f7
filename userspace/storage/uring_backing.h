// A backing device (block device or regular file) driven through io_uring:
// O_DIRECT when the device or file system supports it, the file and the
// caller's buffers registered with the ring, requests batched until kick()
// or reap(), and at most queue_depth requests outstanding.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/block_device.h"

namespace tandem::storage {

enum class DirectIo {
  kPrefer,   // O_DIRECT, or buffered I/O with a logged reason when refused
  kRequire,  // O_DIRECT or fail
  kOff       // buffered I/O (page cache); flushes still make writes durable
};

struct UringOptions {
  uint32_t queue_depth = 64;
  DirectIo direct = DirectIo::kPrefer;
  bool read_only = false;
  // Block devices only: O_EXCL, so that a device that is mounted or held by
  // another exclusive user is refused (EBUSY).
  bool exclusive = false;
  // Memory the caller owns and keeps alive; registered with the ring so that
  // requests naming it (IoRequest::buffer_index) skip per-I/O page pinning.
  std::vector<std::span<std::byte>> buffers{};
};

class UringBacking final : public BlockDevice {
 public:
  static Result<std::unique_ptr<UringBacking>> open(const std::string& path,
                                                    const UringOptions& options);
  ~UringBacking() override;
  UringBacking(const UringBacking&) = delete;
  UringBacking& operator=(const UringBacking&) = delete;

  const std::string& name() const override { return path_; }
  uint64_t size_bytes() const override { return size_; }
  uint32_t alignment() const override { return alignment_; }
  uint32_t queue_depth() const override { return depth_; }
  uint32_t outstanding() const override { return outstanding_; }
  Result<void> submit(const IoRequest& request) override;
  Result<void> kick() override;
  Result<size_t> reap(std::vector<IoCompletion>& out, uint32_t min_complete) override;

  bool direct_io() const { return direct_; }
  bool is_block_device() const { return block_device_; }

 private:
  struct Slot {
    IoOp op = IoOp::kRead;
    uint64_t offset = 0;
    uint32_t length = 0;
    uint64_t user_data = 0;
  };

  UringBacking() = default;
  Result<void> check_buffer(const IoRequest& request) const;
  void complete(const io_uring_cqe* cqe, std::vector<IoCompletion>& out);

  std::string path_;
  int fd_ = -1;
  bool ring_ready_ = false;
  io_uring ring_{};
  uint64_t size_ = 0;
  uint32_t alignment_ = 1;
  uint32_t depth_ = 0;
  uint32_t outstanding_ = 0;
  uint32_t queued_ = 0;  // prepared but not yet handed to the kernel
  bool direct_ = false;
  bool block_device_ = false;
  std::vector<std::span<std::byte>> buffers_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
};

}  // namespace tandem::storage
