#include "daemon/device_export.h"

#include "common/log.h"
#include "config/device_statement.h"

namespace tandem::daemon {

namespace {
// Connection ids of NBD clients count up from 1; the other frontends use
// ids far above them.
constexpr uint64_t kFuseConnection = uint64_t{1} << 62;
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
  std::unique_ptr<DeviceExport> e(new DeviceExport(loop));
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
  return e;
}

DeviceExport::~DeviceExport() {
  fuse_.reset();
  nbd_.reset();
}

void DeviceExport::complete(uint64_t connection, nbd::BlockRequest&& request, int error) {
  if (connection == kFuseConnection) {
    if (fuse_) fuse_->complete(std::move(request), error);
    return;
  }
  if (nbd_) nbd_->complete(connection, std::move(request), error);
}

size_t DeviceExport::connection_count() const {
  return nbd_->connection_count() + (fuse_ ? fuse_->open_files() : 0);
}

std::string DeviceExport::users() const {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : " and ") + part; };
  if (nbd_->connection_count() > 0) {
    add(std::to_string(nbd_->connection_count()) + " NBD client(s) are connected to " +
        nbd_->path() + (nbd_->tcp_label().empty() ? "" : " or " + nbd_->tcp_label()));
  }
  if (fuse_ && fuse_->open_files() > 0) {
    add(fuse_->file_path() + " is open " + std::to_string(fuse_->open_files()) +
        " time(s) (close it; detach a loop device on it with losetup -d)");
  }
  return out;
}

}  // namespace tandem::daemon
