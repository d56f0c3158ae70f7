#include "daemon/fuse_export.h"

#include <poll.h>

namespace tandem::daemon {

Result<std::unique_ptr<FuseExport>> FuseExport::start(EventLoop& loop,
                                                      fuse::FileExportOptions options,
                                                      Submit submit, Writable writable) {
  auto server =
      fuse::FuseFileServer::mount(std::move(options), std::move(submit), std::move(writable));
  if (!server) return server.error();
  std::unique_ptr<FuseExport> e(new FuseExport(loop));
  e->server_ = std::move(server).value();
  FuseExport* self = e.get();
  e->watch_ = loop.watch(e->server_->fd(), POLLIN, [self](uint32_t) { self->on_readable(); });
  return e;
}

FuseExport::~FuseExport() {
  if (watch_ != 0) loop_.unwatch(watch_);
  server_.reset();
}

void FuseExport::on_readable() {
  if (server_->on_readable()) return;
  // Unmounted from outside: nothing more will arrive. The server object
  // stays until the export is stopped, so late completions still find it.
  loop_.unwatch(watch_);
  watch_ = 0;
}

void FuseExport::complete(nbd::BlockRequest&& request, int error) {
  server_->complete(std::move(request), error);
}

}  // namespace tandem::daemon
