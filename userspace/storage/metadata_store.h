// Reads and writes tandem metadata on a BlockDevice (synchronously: the
// admin verbs, start-up and shutdown use it; the data path drives the
// ActivityLog and SyncBitmap state machines and writes through the same
// primitives). Every update is ordered so that a power cut at any point
// leaves the previous or the new state:
//   superblock   flush earlier writes, then write the other slot with FUA
//   AL           flush evicted extents' bitmap pages, then the transaction
//                with FUA into the next ring slot
//   bitmap       pages written, then flushed
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/al_transaction.h"
#include "storage/block_device.h"
#include "storage/md_geometry.h"
#include "storage/superblock.h"
#include "storage/sync_bitmap.h"

namespace tandem::storage {

// What a metadata location holds before create-md touches it.
struct MdProbe {
  enum class Found { kNothing, kValid, kDamaged, kForeign };
  Found found = Found::kNothing;
  std::string detail;
};

struct StoreOptions {
  // md-flushes: with false, metadata writes are neither flushed nor FUA
  // (only safe with a battery-backed write cache).
  bool flushes = true;
};

class MetadataStore {
 public:
  // Reads the superblock at `spec`'s location on `md`. `backing_size` is
  // the data device's size (for internal metadata the same device). Errors
  // name the device and what was wrong; nothing is written.
  static Result<MetadataStore> open(BlockDevice& md, const MetaDiskSpec& spec,
                                    uint64_t backing_size, StoreOptions options = {});

  // Writes fresh metadata: zeroed bitmap, empty activity log, superblock with
  // `identity`'s flags, node id, UUID and generation identifiers.
  static Result<MetadataStore> create(BlockDevice& md, const Geometry& geometry,
                                      const Superblock& identity, StoreOptions options = {});

  static MdProbe probe(BlockDevice& md, const MetaDiskSpec& spec);

  // Zeroes the superblock slots (and the activity log when the geometry is
  // readable). Refuses when the location holds no tandem metadata at all.
  static Result<void> wipe(BlockDevice& md, const MetaDiskSpec& spec);

  const Superblock& superblock() const { return sb_; }
  const Geometry& geometry() const { return sb_.geometry; }
  BlockDevice& device() { return *md_; }

  // Writes `next` (its sequence is set here) atomically.
  Result<void> write_superblock(Superblock next);

  // Decodes every ring slot; `newest` is the transaction in force.
  struct AlState {
    std::vector<DecodedAlSlot> slots;
    std::optional<AlTransaction> newest;
  };
  Result<AlState> read_activity_log();
  Result<void> write_al_transaction(const AlTransaction& tx);

  Result<SyncBitmap> read_bitmap();
  // Writes the listed pages (or every dirty one), flushes, marks them clean.
  Result<void> write_bitmap_pages(SyncBitmap& bitmap, std::span<const uint64_t> pages);
  Result<void> write_dirty_bitmap(SyncBitmap& bitmap);

  // Marks every extent of the newest activity-log transaction out of sync
  // in the on-disk bitmap, empties the log and sets the al-clean flag.
  struct ApplyAlResult {
    bool was_clean = false;
    std::vector<uint32_t> extents;  // extents marked out of sync
  };
  Result<ApplyAlResult> apply_al();

 private:
  MetadataStore(BlockDevice& md, Superblock sb, StoreOptions options)
      : md_(&md), sb_(std::move(sb)), options_(options) {}
  Result<void> flush();

  BlockDevice* md_;
  Superblock sb_;
  StoreOptions options_;
};

// Random identifiers (from the kernel's random pool).
DeviceUuid random_device_uuid();
uint64_t random_generation_id();  // never 0, lowest bit clear

}  // namespace tandem::storage
