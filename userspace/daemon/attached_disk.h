// A resource's backing device while attached: its metadata (superblock,
// activity log, quick-sync bitmap) read and written through the storage
// layer's MetadataStore. The data I/O has its own descriptors (DataPath,
// owned by the resource next to this object).
//
// Metadata I/O is O_DIRECT where the file system allows it, like the data
// path: a completed write is on the device (possibly in its volatile cache;
// `md-flushes` adds the flushes). The MetadataStore's synchronous handle
// serves the superblock and the bitmap; activity-log transactions on the
// data path are written asynchronously by ActivityLogGate through md_fd(),
// opened in the same mode as that handle so that no page cache holds stale
// copies of blocks the other one wrote.
//
// Crash safety (docs/admin-guide.md, "Activity log"): at open, metadata
// that was not closed cleanly (al-clean flag clear) has every extent of its
// newest activity-log transaction marked out of sync, and al-clean is
// cleared while attached. A set bit reaches the disk before the activity
// log lets its extent go cold (eviction writes the pages first), or at once
// when the extent is not hot; cleared bits are written lazily.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "storage/activity_log.h"
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

  const std::string& path() const { return path_; }
  // Bytes available for data (the backing device minus internal metadata).
  uint64_t usable_bytes() const { return store_->geometry().usable_size; }
  const storage::Superblock& superblock() const { return store_->superblock(); }
  const storage::SyncBitmap& bitmap() const { return *bitmap_; }
  storage::SyncBitmap& bitmap() { return *bitmap_; }

  // Writes new generation identifiers and flags (atomically, two slots).
  Result<void> write_superblock(const storage::Superblock& next);
  // Writes the bitmap pages changed since the last call.
  Result<void> write_dirty_bitmap();
  // The same without a flush, for the periodic write of cleared bits while
  // no set bit waits to become durable (bitmap_write_due() is false): a
  // lost clear only costs resync work, and a flush of the device every
  // second stalled the event loop for up to ~200 ms during a resync on a
  // busy disk. Set bits in such a write are not relied on until a later
  // flush (range_marked_on_disk() ignores them).
  Result<void> write_dirty_bitmap_unflushed();
  Result<void> write_bitmap_pages(std::span<const uint64_t> pages);

  // ---- crash recovery, found at open
  // The metadata was not closed cleanly (crash or kill -9 while attached,
  // as primary or secondary): the hot extents were added to the bitmap.
  bool unclean() const { return unclean_; }
  const std::vector<uint32_t>& recovered_extents() const { return recovered_; }
  // The data ranges (offset, length) whose bits are set, clamped to `size`.
  std::vector<std::pair<uint64_t, uint64_t>> out_of_sync_ranges(uint64_t size) const;
  // The peer and this node have compared data since the unclean open (the
  // sync handshake ran): a clean close may now set al-clean again.
  void mark_recovered() { unclean_ = false; }

  // ---- bitmap updates from the core
  // Sets the bits; when the extents are not hot in the activity log a crash
  // would lose them, so bitmap_write_due() turns true.
  void mark_out_of_sync(uint64_t offset, uint64_t length);
  // Clears the bits; written lazily (a lost clear costs only resync work).
  void mark_in_sync(uint64_t offset, uint64_t length);
  bool bitmap_write_due() const { return bitmap_write_due_; }
  bool bitmap_dirty() const { return bitmap_dirty_; }
  // Every block of the range is marked out of sync in the bitmap as it is
  // on disk: a write there needs no activity-log protection, a crash
  // resyncs it anyway.
  bool range_marked_on_disk(uint64_t offset, uint64_t length) const;

  // ---- activity log (driven by ActivityLogGate)
  storage::ActivityLog& activity_log() { return *al_; }
  int md_fd() const { return md_fd_; }
  bool md_flushes() const { return md_flushes_; }
  uint64_t al_transaction_bytes() const;
  uint64_t al_transaction_offset(uint64_t number) const;
  void encode_al_transaction(const storage::AlTransaction& tx, std::span<std::byte> out) const;

  // Orderly close (every write finished): dirty bitmap pages, an empty
  // activity-log transaction, then al-clean unless an unclean open is not
  // resolved yet (so that the next open still reports it).
  Result<void> close_clean();

 private:
  AttachedDisk() = default;
  Result<void> recover_and_open_log();
  void note_written(std::span<const uint64_t> pages);

  std::string resource_;
  std::string path_;
  std::unique_ptr<storage::UringBacking> md_device_;
  std::unique_ptr<storage::UringBacking> external_md_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<storage::SyncBitmap> bitmap_;
  // The bitmap as it is on disk (updated after each successful write):
  // what range_marked_on_disk() may rely on.
  std::unique_ptr<storage::SyncBitmap> on_disk_;
  std::unique_ptr<storage::ActivityLog> al_;
  int md_fd_ = -1;
  bool md_flushes_ = true;
  bool unclean_ = false;
  std::vector<uint32_t> recovered_;
  bool bitmap_write_due_ = false;
  bool bitmap_dirty_ = false;
  bool closed_clean_ = false;
};

}  // namespace tandem::daemon
