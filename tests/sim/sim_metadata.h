// One simulated node's metadata in the real on-disk format: superblock,
// quick-sync bitmap and activity log written through storage::MetadataStore
// on an in-memory metadata device (storage::MemoryDevice, with its volatile
// cache, power cuts and torn writes). The simulated runtime uses it the way
// tandemd does: generation identifiers and flags at PersistMetadata, bitmap
// bits from MarkOutOfSync/ClearOutOfSync, an activity-log transaction
// before a write reaches a cold extent, and at attach the bitmap plus the
// hot extents of an unclean stop become DiskInfo::out_of_sync.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "core/replication_types.h"
#include "storage/activity_log.h"
#include "storage/memory_device.h"
#include "storage/metadata_store.h"
#include "storage/sync_bitmap.h"

namespace tandem::sim {

class SimMetadata {
 public:
  SimMetadata(std::string node, uint64_t data_bytes);

  // Fresh metadata (create-md) holding `md`.
  Result<void> create(const core::Metadata& md);

  // What attach finds: reads superblock, activity log and bitmap (replaying
  // the log of an unclean stop into the bitmap). An error means the
  // metadata is unreadable.
  struct Loaded {
    core::Metadata metadata;
    std::vector<std::pair<uint64_t, uint64_t>> out_of_sync;  // (offset, length)
    bool unclean = false;
  };
  Result<Loaded> load();
  bool loaded() const { return store_ != nullptr; }

  // ---- the runtime while attached
  void mark_out_of_sync(uint64_t offset, uint64_t length);
  void mark_in_sync(uint64_t offset, uint64_t length);
  Result<void> persist(const core::Metadata& md);
  // Before a data write is submitted: makes its extents hot (durably).
  Result<void> begin_write(uint64_t offset, uint64_t length);
  void end_write(uint64_t offset, uint64_t length);
  // Clean detach: empties the activity log and marks it clean.
  Result<void> detach_cleanly();
  // The node lost the disk (detach after an error): forget the open state.
  void close();

  // Power cut: only what reached the medium survives. With `tear_next`, the
  // metadata write that was in flight (`md` as for persist) is torn.
  void power_cut(const std::optional<core::Metadata>& in_flight, uint32_t torn_bytes);

 private:
  std::string node_;
  uint64_t data_bytes_;
  std::unique_ptr<storage::MemoryDevice> dev_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<storage::SyncBitmap> bitmap_;
  std::unique_ptr<storage::ActivityLog> al_;
  bool al_in_use_ = false;  // the al-clean flag was cleared since attach
};

}  // namespace tandem::sim
