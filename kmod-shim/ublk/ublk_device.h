// UblkDevice: a volume as the block device /dev/ublkbN, served through the
// kernel's ublk driver (ublk_drv, Linux 6.0+). One queue; every request
// slot (tag) has a buffer the kernel copies data through. Nothing blocks
// while running: the owner watches the two io_uring fds and calls
// on_queue_ready() / on_control_ready(), and answers each submitted request
// with complete(). Starting the device is asynchronous because the kernel
// reads the new disk (partition scan) before START_DEV returns, and those
// reads must be served by the same loop.
#pragma once

#include <liburing.h>
#include <linux/ublk_cmd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "nbd/block_volume.h"

namespace tandem::ublk {

struct UblkOptions {
  std::optional<uint32_t> dev_id;  // none: the kernel picks
  uint64_t size_bytes = 0;
  uint32_t max_io_bytes = 1u << 20;
  uint16_t depth = 32;
  std::string who;  // log prefix, e.g. "resource r0"
};

class UblkDevice {
 public:
  using Submit = std::function<void(nbd::BlockRequest&& request)>;

  // Adds the device, sets its parameters and queues a fetch per tag, then
  // asks the kernel to start it (finished later, see started()). Fails
  // with what is missing when /dev/ublk-control is absent.
  static Result<std::unique_ptr<UblkDevice>> create(UblkOptions options, Submit submit);
  // Fails what is in flight with EIO, stops and deletes the device.
  ~UblkDevice();
  UblkDevice(const UblkDevice&) = delete;
  UblkDevice& operator=(const UblkDevice&) = delete;

  int queue_fd() const { return queue_.ring_fd; }
  int control_fd() const { return control_.ring_fd; }
  void on_queue_ready();
  void on_control_ready();
  void complete(nbd::BlockRequest&& request, int error);

  std::string block_device() const { return "/dev/ublkb" + std::to_string(dev_id_); }
  bool started() const { return started_; }

 private:
  explicit UblkDevice(UblkOptions options, Submit submit)
      : options_(std::move(options)), submit_(std::move(submit)) {}
  Result<void> control_sync(uint32_t op, const ublksrv_ctrl_cmd& cmd, const char* what);
  void control_async(uint32_t op, const ublksrv_ctrl_cmd& cmd, uint64_t user_data);
  void queue_command(uint32_t op, uint16_t tag, int32_t result);
  void on_request(uint16_t tag);
  void stop();
  std::byte* buffer(uint16_t tag) { return buffers_ + size_t{tag} * options_.max_io_bytes; }

  UblkOptions options_;
  Submit submit_;
  io_uring control_{};
  io_uring queue_{};
  bool control_ready_ = false;
  bool queue_ready_ = false;
  int control_fd_ = -1;  // /dev/ublk-control
  int char_fd_ = -1;     // /dev/ublkcN
  uint32_t dev_id_ = 0;
  bool added_ = false;
  bool started_ = false;
  bool stopping_ = false;
  const ublksrv_io_desc* descriptors_ = nullptr;
  size_t descriptors_length_ = 0;
  std::byte* buffers_ = nullptr;
  size_t buffers_length_ = 0;
  std::vector<bool> in_flight_;  // tag handed to the owner, not yet completed
};

}  // namespace tandem::ublk
