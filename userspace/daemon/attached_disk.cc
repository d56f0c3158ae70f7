#include "daemon/attached_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::daemon {
namespace {

storage::MetaDiskSpec spec_of(const config::MetaDisk& md) {
  storage::MetaDiskSpec spec;
  if (md.internal) {
    spec.kind = storage::MetaDiskKind::kInternal;
  } else if (md.index) {
    spec.kind = storage::MetaDiskKind::kExternalIndexed;
    spec.index = *md.index;
  } else {
    spec.kind = storage::MetaDiskKind::kExternal;
  }
  return spec;
}

}  // namespace

Result<std::unique_ptr<AttachedDisk>> AttachedDisk::open(const std::string& resource,
                                                         const config::ResolvedVolume& volume,
                                                         bool md_flushes) {
  std::unique_ptr<AttachedDisk> d(new AttachedDisk());
  d->resource_ = resource;
  d->path_ = volume.disk;
  const std::string who = "resource " + resource + ": backing device " + volume.disk;
  if (volume.disk.empty() || volume.disk == "none") {
    return make_error("resource " + resource + ": no backing disk configured for this host");
  }
  storage::UringOptions opts;
  opts.queue_depth = 8;
  opts.direct = storage::DirectIo::kOff;
  auto md = storage::UringBacking::open(volume.disk, opts);
  if (!md) {
    return make_error(who + ": " + md.error().message, md.error().sys_errno);
  }
  d->md_device_ = std::move(md).value();
  storage::BlockDevice* md_dev = d->md_device_.get();
  if (!volume.meta_disk.internal) {
    auto ext = storage::UringBacking::open(volume.meta_disk.path, opts);
    if (!ext) {
      return make_error("resource " + resource + ": metadata device " + volume.meta_disk.path +
                            ": " + ext.error().message,
                        ext.error().sys_errno);
    }
    d->external_md_ = std::move(ext).value();
    md_dev = d->external_md_.get();
  }
  auto store =
      storage::MetadataStore::open(*md_dev, spec_of(volume.meta_disk), d->md_device_->size_bytes(),
                                   storage::StoreOptions{.flushes = md_flushes});
  if (!store) {
    const std::string& m = store.error().message;
    const bool hints = m.find("create-md") != std::string::npos;
    return make_error(
        who + ": " + m +
            (hints ? ""
                   : " (create the metadata first with `tandemadm create-md " + resource + "`)"),
        store.error().sys_errno);
  }
  d->store_ = std::make_unique<storage::MetadataStore>(std::move(store).value());
  auto bitmap = d->store_->read_bitmap();
  if (!bitmap) {
    return make_error(who + ": reading the quick-sync bitmap: " + bitmap.error().message);
  }
  d->bitmap_ = std::make_unique<storage::SyncBitmap>(std::move(bitmap).value());
  d->data_fd_ = ::open(volume.disk.c_str(), O_RDWR | O_CLOEXEC);
  if (d->data_fd_ < 0) {
    return make_error(who + ": cannot open for the data path: " + std::strerror(errno), errno);
  }
  return d;
}

AttachedDisk::~AttachedDisk() {
  if (data_fd_ >= 0) {
    fdatasync(data_fd_);
    close(data_fd_);
  }
}

Result<void> AttachedDisk::write_superblock(const storage::Superblock& next) {
  if (auto r = store_->write_superblock(next); !r) {
    return make_error("resource " + resource_ + ": writing metadata on " + path_ + ": " +
                      r.error().message);
  }
  return {};
}

Result<void> AttachedDisk::write_dirty_bitmap() {
  if (auto r = store_->write_dirty_bitmap(*bitmap_); !r) {
    return make_error("resource " + resource_ + ": writing the bitmap on " + path_ + ": " +
                      r.error().message);
  }
  return {};
}

}  // namespace tandem::daemon
