#include "daemon/ublk_export.h"

#include <poll.h>

namespace tandem::daemon {

Result<std::unique_ptr<UblkExport>> UblkExport::start(EventLoop& loop, ublk::UblkOptions options,
                                                      ublk::UblkDevice::Submit submit) {
  auto device = ublk::UblkDevice::create(std::move(options), std::move(submit));
  if (!device) return device.error();
  std::unique_ptr<UblkExport> e(new UblkExport(loop));
  e->device_ = std::move(device).value();
  ublk::UblkDevice* d = e->device_.get();
  e->queue_watch_ = loop.watch(d->queue_fd(), POLLIN, [d](uint32_t) { d->on_queue_ready(); });
  e->control_watch_ = loop.watch(d->control_fd(), POLLIN, [d](uint32_t) { d->on_control_ready(); });
  return e;
}

UblkExport::~UblkExport() {
  if (queue_watch_ != 0) loop_.unwatch(queue_watch_);
  if (control_watch_ != 0) loop_.unwatch(control_watch_);
  device_.reset();
}

void UblkExport::complete(nbd::BlockRequest&& request, int error) {
  device_->complete(std::move(request), error);
}

}  // namespace tandem::daemon
