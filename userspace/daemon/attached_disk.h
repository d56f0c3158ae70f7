// A resource's backing device while attached: the data device opened for
// the data path, and the metadata (superblock, quick-sync bitmap) read
// through the storage layer's MetadataStore.
//
// Data I/O is buffered (page cache) and runs on the event loop's own ring
// (EventLoop::submit_io); FUA becomes RWF_DSYNC and a flush fdatasync, so
// completed writes are durable exactly when the core asked for it. The
// metadata uses its own synchronous handle: it is touched at attach, at
// state changes (generation identifiers, flags) and at detach, never per
// write.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "storage/metadata_store.h"
#include "storage/sync_bitmap.h"
#include "storage/uring_backing.h"

namespace tandem::daemon {

class AttachedDisk {
 public:
  // Opens the volume's backing device and reads its metadata. Errors name
  // the resource and device and say what to do (e.g. run create-md).
  static Result<std::unique_ptr<AttachedDisk>> open(const std::string& resource,
                                                    const config::ResolvedVolume& volume,
                                                    bool md_flushes);
  ~AttachedDisk();
  AttachedDisk(const AttachedDisk&) = delete;
  AttachedDisk& operator=(const AttachedDisk&) = delete;

  int data_fd() const { return data_fd_; }
  const std::string& path() const { return path_; }
  // Bytes available for data (the backing device minus internal metadata).
  uint64_t usable_bytes() const { return store_->geometry().usable_size; }
  const storage::Superblock& superblock() const { return store_->superblock(); }
  storage::SyncBitmap& bitmap() { return *bitmap_; }

  // Writes new generation identifiers and flags (atomically, two slots).
  Result<void> write_superblock(const storage::Superblock& next);
  // Writes the bitmap pages changed since the last call.
  Result<void> write_dirty_bitmap();

 private:
  AttachedDisk() = default;

  std::string resource_;
  std::string path_;
  int data_fd_ = -1;
  std::unique_ptr<storage::UringBacking> md_device_;
  std::unique_ptr<storage::UringBacking> external_md_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<storage::SyncBitmap> bitmap_;
};

}  // namespace tandem::daemon
