// A resource as a ublk block device (kmod-shim/ublk), driven by the
// daemon's event loop: the loop watches the device's two io_uring fds.
#pragma once

#include <memory>

#include "common/result.h"
#include "daemon/event_loop.h"
#include "ublk/ublk_device.h"

namespace tandem::daemon {

class UblkExport {
 public:
  static Result<std::unique_ptr<UblkExport>> start(EventLoop& loop, ublk::UblkOptions options,
                                                   ublk::UblkDevice::Submit submit);
  // Stops and deletes the device.
  ~UblkExport();
  UblkExport(const UblkExport&) = delete;
  UblkExport& operator=(const UblkExport&) = delete;

  void complete(nbd::BlockRequest&& request, int error);
  std::string block_device() const { return device_->block_device(); }

 private:
  explicit UblkExport(EventLoop& loop) : loop_(loop) {}

  EventLoop& loop_;
  std::unique_ptr<ublk::UblkDevice> device_;
  EventLoop::WatchId queue_watch_ = 0;
  EventLoop::WatchId control_watch_ = 0;
};

}  // namespace tandem::daemon
