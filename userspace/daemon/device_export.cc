#include "daemon/device_export.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "config/device_statement.h"
#include "nbd/kernel_nbd.h"
#include "nbd/protocol.h"

namespace tandem::daemon {

namespace {
// Connection ids of NBD clients count up from 1; the other frontends use
// ids far above them.
constexpr uint64_t kFuseConnection = uint64_t{1} << 62;
constexpr uint64_t kUblkConnection = uint64_t{1} << 61;
}  // namespace

std::string DeviceExport::fuse_mount_point(const DeviceExportOptions& options) {
  if (!options.device.fuse_mount.empty()) return options.device.fuse_mount;
  std::string dir = options.run_dir;
  if (dir.empty() || dir.back() != '/') dir += '/';
  return dir + options.resource + ".fuse";
}

Result<std::unique_ptr<DeviceExport>> DeviceExport::start(EventLoop& loop,
                                                          DeviceExportOptions options,
                                                          Submit submit, Writable writable) {
  std::unique_ptr<DeviceExport> e(new DeviceExport());
  std::string dir = options.run_dir;
  if (dir.empty() || dir.back() != '/') dir += '/';
  auto nbd =
      NbdExport::start(loop, dir + options.resource + ".nbd", options.info, options.who, submit);
  if (!nbd) return nbd.error();
  e->nbd_ = std::move(nbd).value();
  const config::Device& d = options.device;
  if (d.nbd_tcp) {
    auto port = e->nbd_->listen_tcp(nbd::TcpAddress{d.nbd_tcp->host, d.nbd_tcp->port});
    if (!port) return port.error();
  }
  if (!d.nbd_kernel_device.empty()) {
    if (auto r = e->attach_kernel_nbd(d.nbd_kernel_device, options.info); !r) {
      return make_error(options.who + ": " + r.error().message);
    }
  }
  if (d.fuse) {
    fuse::FileExportOptions fo;
    fo.mount_point = fuse_mount_point(options);
    fo.file_name = options.resource;
    fo.geometry.size = options.info.size;
    fo.geometry.sector = options.info.limits.minimum;
    fo.geometry.max_request = options.info.limits.maximum;
    fo.who = options.who;
    fo.fs_name = "tandem:" + options.resource;
    auto fuse = FuseExport::start(
        loop, std::move(fo),
        [submit](nbd::BlockRequest&& r) { submit(kFuseConnection, std::move(r)); }, writable);
    if (!fuse) return fuse.error();
    e->fuse_ = std::move(fuse).value();
  }
  if (d.ublk) {
    ublk::UblkOptions uo;
    uo.dev_id = d.ublk_id;
    uo.size_bytes = options.info.size;
    uo.max_io_bytes = options.info.limits.maximum;
    uo.who = options.who;
    auto ublk = UblkExport::start(loop, std::move(uo), [submit](nbd::BlockRequest&& r) {
      submit(kUblkConnection, std::move(r));
    });
    if (!ublk) return ublk.error();
    e->ublk_ = std::move(ublk).value();
  }
  return e;
}

Result<void> DeviceExport::attach_kernel_nbd(const std::string& device,
                                             const nbd::ExportInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return make_error("kernel nbd " + device + ": socketpair: " + std::strerror(errno));
  }
  // Our end speaks only the transmission phase: the kernel never does the
  // handshake itself.
  kernel_nbd_connection_ = nbd_->serve_connected(fds[0], "kernel " + device, true);
  if (kernel_nbd_connection_ == 0) {
    close(fds[1]);
    return make_error("kernel nbd " + device + ": cannot serve the socket");
  }
  nbd::KernelNbdConnect c;
  c.device = device;
  c.socket_fd = fds[1];
  c.size_bytes = info.size;
  c.block_size = std::max<uint32_t>(512, info.limits.minimum);
  c.transmission_flags = nbd::kTxHasFlags | nbd::kTxSendFlush | nbd::kTxSendFua | nbd::kTxSendTrim |
                         nbd::kTxSendWriteZeroes;
  auto r = nbd::kernel_nbd_connect(c);
  close(fds[1]);  // the kernel holds its own reference
  if (!r) return r.error();
  kernel_nbd_device_ = device;
  TLOG(LOG_INFO, "%s: attached as %s (kernel nbd)", info.description.c_str(), device.c_str());
  return {};
}

DeviceExport::~DeviceExport() {
  ublk_.reset();
  fuse_.reset();
  if (!kernel_nbd_device_.empty()) {
    // Requests the kernel still has fail; a file system mounted on the
    // device sees I/O errors from here on.
    if (auto r = nbd::kernel_nbd_disconnect(kernel_nbd_device_); !r) {
      TLOG(LOG_WARNING, "%s", r.error().message.c_str());
    }
  }
  nbd_.reset();
}

void DeviceExport::complete(uint64_t connection, nbd::BlockRequest&& request, int error) {
  if (connection == kUblkConnection) {
    if (ublk_) ublk_->complete(std::move(request), error);
    return;
  }
  if (connection == kFuseConnection) {
    if (fuse_) fuse_->complete(std::move(request), error);
    return;
  }
  if (nbd_) nbd_->complete(connection, std::move(request), error);
}

size_t DeviceExport::nbd_clients() const {
  const bool kernel = kernel_nbd_connection_ != 0 && nbd_->has_connection(kernel_nbd_connection_);
  return nbd_->connection_count() - (kernel ? 1 : 0);
}

size_t DeviceExport::connection_count() const {
  return nbd_clients() + (fuse_ ? fuse_->open_files() : 0);
}

std::string DeviceExport::users() const {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : " and ") + part; };
  if (nbd_clients() > 0) {
    add(std::to_string(nbd_clients()) + " NBD client(s) are connected to " + nbd_->path() +
        (nbd_->tcp_label().empty() ? "" : " or " + nbd_->tcp_label()));
  }
  if (fuse_ && fuse_->open_files() > 0) {
    add(fuse_->file_path() + " is open " + std::to_string(fuse_->open_files()) +
        " time(s) (close it; detach a loop device on it with losetup -d)");
  }
  return out;
}

}  // namespace tandem::daemon
