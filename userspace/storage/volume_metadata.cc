#include "storage/volume_metadata.h"

#include <algorithm>
#include <cerrno>
#include <vector>

namespace tandem::storage {

Result<VolumeMetadata> VolumeMetadata::attach(BlockDevice& md, const MetaDiskSpec& spec,
                                              uint64_t backing_size, StoreOptions options) {
  auto store = MetadataStore::open(md, spec, backing_size, options);
  if (!store) {
    return store.error();
  }
  if ((store->superblock().flags & kFlagAlClean) == 0) {
    if (auto applied = store->apply_al(); !applied) {
      return applied.error();
    }
  }
  auto al_state = store->read_activity_log();
  if (!al_state) {
    return al_state.error();
  }
  auto bitmap = store->read_bitmap();
  if (!bitmap) {
    return bitmap.error();
  }
  const Geometry& g = store->geometry();
  // The log is empty after a clean shutdown or apply-al; only its number
  // carries over.
  ActivityLog al(g.al_extents, g.al_extent_count(), al_state->newest ? al_state->newest->number : 0,
                 {});
  Superblock in_use = store->superblock();
  in_use.flags &= ~kFlagAlClean;
  if (auto w = store->write_superblock(in_use); !w) {
    return w.error();
  }
  return VolumeMetadata(std::move(store).value(), std::move(bitmap).value(), std::move(al));
}

Result<void> VolumeMetadata::begin_write(uint64_t offset, uint64_t length) {
  const ActivityLog::Admission a = al_.begin_write(offset, length);
  if (a.status == ActivityLog::Status::kFull) {
    return make_error(store_.device().name() + ": activity log full (all " +
                          std::to_string(al_.capacity()) +
                          " hot extents have writes in flight); retry after some complete",
                      EAGAIN);
  }
  if (a.status == ActivityLog::Status::kReady) {
    return {};
  }
  ActivityLog::Prepared p = al_.prepare_transaction();
  std::vector<uint64_t> pages;
  for (uint32_t e : p.evicted) {
    pages.push_back(SyncBitmap::page_of_extent(e));
  }
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  auto fail = [&](const Error& e) {
    // The write will not happen; release what begin_write took.
    al_.end_write(offset, length);
    return e;
  };
  if (auto w = store_.write_bitmap_pages(bitmap_, pages); !w) {
    return fail(w.error());
  }
  if (auto w = store_.write_al_transaction(p.tx); !w) {
    return fail(w.error());
  }
  al_.transaction_durable(p.tx.number);
  return {};
}

Result<void> VolumeMetadata::detach_clean() {
  if (auto w = store_.write_dirty_bitmap(bitmap_); !w) {
    return w;
  }
  ActivityLog::Prepared clear = al_.prepare_clear();
  if (auto w = store_.write_al_transaction(clear.tx); !w) {
    return w;
  }
  al_.transaction_durable(clear.tx.number);
  Superblock clean = store_.superblock();
  clean.flags |= kFlagAlClean;
  return store_.write_superblock(clean);
}

}  // namespace tandem::storage
