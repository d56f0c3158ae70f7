// Every frontend of one resource, as the `device` line selects them: the
// NBD unix socket RUN_DIR/RESOURCE.nbd (always), NBD on TCP, the kernel nbd
// driver attached to one of our NBD sessions, one file in a FUSE mount, and
// a ublk block device. The resource sees one source of application
// requests: each carries a connection id that routes its completion back to
// the frontend it came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "daemon/event_loop.h"
#include "daemon/fuse_export.h"
#include "daemon/nbd_export.h"
#include "daemon/ublk_export.h"
#include "nbd/session.h"

namespace tandem::daemon {

struct DeviceExportOptions {
  std::string run_dir;
  std::string resource;
  config::Device device;
  nbd::ExportInfo info;  // size and limits of the resource
  std::string who;       // "resource r0"
};

class DeviceExport {
 public:
  using Submit = std::function<void(uint64_t connection, nbd::BlockRequest&& request)>;
  // Whether the resource takes writes now (Primary).
  using Writable = std::function<bool()>;

  // Starts every selected frontend, or none: the error names the frontend,
  // the resource and what to do.
  static Result<std::unique_ptr<DeviceExport>> start(EventLoop& loop, DeviceExportOptions options,
                                                     Submit submit, Writable writable);
  ~DeviceExport();
  DeviceExport(const DeviceExport&) = delete;
  DeviceExport& operator=(const DeviceExport&) = delete;

  void complete(uint64_t connection, nbd::BlockRequest&& request, int error);

  // The NBD unix socket.
  const std::string& path() const { return nbd_->path(); }
  // Users that would lose their device if the resource stopped being
  // writable: NBD clients and open handles of the FUSE file. The kernel
  // devices (nbd, ublk) are not counted: whether one is mounted cannot be
  // asked without I/O this loop would have to serve.
  size_t connection_count() const;
  // Those users in words, for refusals ("2 NBD client(s) on ...").
  std::string users() const;

  static std::string fuse_mount_point(const DeviceExportOptions& options);

 private:
  DeviceExport() = default;
  Result<void> attach_kernel_nbd(const std::string& device, const nbd::ExportInfo& info);
  size_t nbd_clients() const;  // without the kernel's connection

  std::unique_ptr<NbdExport> nbd_;
  std::unique_ptr<FuseExport> fuse_;
  std::unique_ptr<UblkExport> ublk_;
  // /dev/nbdN attached to one of our NBD connections, and that connection.
  std::string kernel_nbd_device_;
  uint64_t kernel_nbd_connection_ = 0;
};

}  // namespace tandem::daemon
