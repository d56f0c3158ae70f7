// A volume's metadata while the volume is attached: the metadata store, the
// activity log and the in-memory bitmap, kept in the order that makes every
// power cut recoverable (see docs/on-disk-format.md, "Ordering rules").
// Blocking: for start-up, shutdown, tools and tests. An asynchronous data
// path drives ActivityLog the same way with its own I/O.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "storage/activity_log.h"
#include "storage/metadata_store.h"
#include "storage/sync_bitmap.h"

namespace tandem::storage {

class VolumeMetadata {
 public:
  // Opens the metadata; after an unclean shutdown replays the activity log
  // into the bitmap first. Loads the bitmap and clears al-clean, so that a
  // crash from now on is detected.
  static Result<VolumeMetadata> attach(BlockDevice& md, const MetaDiskSpec& spec,
                                       uint64_t backing_size, StoreOptions options = {});

  // Returns once every extent of the range is hot (durable in the log),
  // writing a transaction (and first the bitmap pages of the extents it
  // evicts) when needed. Fails with EAGAIN when every hot extent is busy.
  Result<void> begin_write(uint64_t offset, uint64_t length);
  void end_write(uint64_t offset, uint64_t length) { al_.end_write(offset, length); }

  // In memory; written back when the extent goes cold or at detach.
  void mark_out_of_sync(uint64_t offset, uint64_t length) {
    bitmap_.mark_out_of_sync(offset, length);
  }
  void mark_in_sync(uint64_t offset, uint64_t length) { bitmap_.mark_in_sync(offset, length); }

  // Clean shutdown: dirty bitmap pages, an empty log, then al-clean.
  Result<void> detach_clean();

  const SyncBitmap& bitmap() const { return bitmap_; }
  const ActivityLog& activity_log() const { return al_; }
  MetadataStore& store() { return store_; }

 private:
  VolumeMetadata(MetadataStore store, SyncBitmap bitmap, ActivityLog al)
      : store_(std::move(store)), bitmap_(std::move(bitmap)), al_(std::move(al)) {}

  MetadataStore store_;
  SyncBitmap bitmap_;
  ActivityLog al_;
};

}  // namespace tandem::storage
