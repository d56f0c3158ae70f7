// A resource exported as one file in a FUSE mount (kmod-shim/fuse), driven
// by the daemon's event loop: the loop watches /dev/fuse, the server turns
// what the kernel sends into requests for the resource, and each request is
// answered when the resource completes it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "daemon/event_loop.h"
#include "fuse/fuse_file_server.h"

namespace tandem::daemon {

class FuseExport {
 public:
  using Submit = fuse::FuseFileServer::Submit;
  using Writable = fuse::FuseFileServer::Writable;

  static Result<std::unique_ptr<FuseExport>> start(EventLoop& loop, fuse::FileExportOptions options,
                                                   Submit submit, Writable writable);
  // Unmounts (see FuseFileServer).
  ~FuseExport();
  FuseExport(const FuseExport&) = delete;
  FuseExport& operator=(const FuseExport&) = delete;

  void complete(nbd::BlockRequest&& request, int error);
  size_t open_files() const { return server_->open_files(); }
  std::string file_path() const { return server_->file_path(); }

 private:
  explicit FuseExport(EventLoop& loop) : loop_(loop) {}
  void on_readable();

  EventLoop& loop_;
  std::unique_ptr<fuse::FuseFileServer> server_;
  EventLoop::WatchId watch_ = 0;
};

}  // namespace tandem::daemon
