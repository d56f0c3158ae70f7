#include "daemon/attached_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "storage/aligned_buffer.h"
#include "storage/sync_io.h"

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
  // O_DIRECT like the data path (DataPath), so that no page cache sits
  // between the metadata handles and the data writes to the same device; the
  // activity-log descriptor below follows whatever this one got.
  opts.direct = storage::DirectIo::kPrefer;
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
  const std::string& md_path = volume.meta_disk.internal ? volume.disk : volume.meta_disk.path;
  // The same mode as the MetadataStore's handle on this device: two
  // handles on the same blocks, one cached and one not, would need the
  // kernel's cache invalidation to stay coherent.
  const bool md_direct = md_dev->alignment() > 1;
  d->md_fd_ = ::open(md_path.c_str(), O_RDWR | O_CLOEXEC | (md_direct ? O_DIRECT : 0));
  if (d->md_fd_ < 0) {
    return make_error("resource " + resource + ": metadata device " + md_path +
                          ": cannot open for activity-log writes: " + std::strerror(errno),
                      errno);
  }
  d->md_flushes_ = md_flushes;
  if (auto r = d->recover_and_open_log(); !r) {
    return make_error(who + ": " + r.error().message, r.error().sys_errno);
  }
  return d;
}

Result<void> AttachedDisk::recover_and_open_log() {
  auto al_state = store_->read_activity_log();
  if (!al_state) return al_state.error();
  const storage::Geometry& g = store_->geometry();
  const uint64_t last_number = al_state->newest ? al_state->newest->number : 0;
  unclean_ = (store_->superblock().flags & storage::kFlagAlClean) == 0;
  std::vector<uint32_t> hot;
  if (unclean_ && al_state->newest) {
    // Writes to these extents may have reached this disk and not the peer's
    // (or the reverse): they are out of sync until a resync says otherwise.
    for (uint32_t e : al_state->newest->hot) {
      if (e < g.al_extent_count()) hot.push_back(e);
    }
    for (uint32_t e : hot) bitmap_->set_extent(e);
    if (auto r = store_->write_dirty_bitmap(*bitmap_); !r) {
      return make_error("writing the recovered activity-log extents into the bitmap: " +
                        r.error().message);
    }
  }
  recovered_ = hot;
  on_disk_ = std::make_unique<storage::SyncBitmap>(*bitmap_);
  // The recovered extents stay hot (they are in the newest transaction on
  // disk) until the log needs their slots.
  al_ = std::make_unique<storage::ActivityLog>(g.al_extents, g.al_extent_count(), last_number,
                                               std::span<const uint32_t>(hot));
  if (!unclean_) {
    // From now on a crash must be noticed at the next open.
    storage::Superblock in_use = store_->superblock();
    in_use.flags &= ~storage::kFlagAlClean;
    if (auto r = store_->write_superblock(in_use); !r) return r;
  }
  return {};
}

AttachedDisk::~AttachedDisk() {
  if (md_fd_ >= 0) close(md_fd_);
}

std::vector<std::pair<uint64_t, uint64_t>> AttachedDisk::out_of_sync_ranges(uint64_t size) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (bitmap_->count() == 0) return out;
  constexpr uint64_t kBlock = 4096;
  const uint64_t bits = bitmap_->bits();
  uint64_t bit = 0;
  while (bit < bits) {
    if (!bitmap_->test(bit)) {
      ++bit;
      continue;
    }
    const uint64_t first = bit;
    while (bit < bits && bitmap_->test(bit)) ++bit;
    const uint64_t offset = first * kBlock;
    if (offset >= size) break;
    out.emplace_back(offset, std::min(bit * kBlock, size) - offset);
  }
  return out;
}

void AttachedDisk::mark_out_of_sync(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  bitmap_->mark_out_of_sync(offset, length);
  bitmap_dirty_ = true;
  if (bitmap_write_due_) return;
  const uint64_t first = offset / storage::kAlExtentBytes;
  const uint64_t last = (offset + length - 1) / storage::kAlExtentBytes;
  for (uint64_t e = first; e <= last; ++e) {
    if (!al_->is_hot(static_cast<uint32_t>(e))) {
      bitmap_write_due_ = true;
      return;
    }
  }
}

void AttachedDisk::mark_in_sync(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  bitmap_->mark_in_sync(offset, length);
  bitmap_dirty_ = true;
}

bool AttachedDisk::range_marked_on_disk(uint64_t offset, uint64_t length) const {
  if (length == 0) return false;
  constexpr uint64_t kBlock = 4096;
  const uint64_t first = offset / kBlock;
  const uint64_t end = (offset + length - 1) / kBlock + 1;
  if (end > on_disk_->bits()) return false;
  for (uint64_t bit = first; bit < end; ++bit) {
    if (!on_disk_->test(bit)) return false;
  }
  return true;
}

void AttachedDisk::note_written(std::span<const uint64_t> pages) {
  storage::AlignedBuffer page(storage::SyncBitmap::kPageBytes);
  for (uint64_t p : pages) {
    bitmap_->encode_page(p, page.span());
    on_disk_->decode_page(p, page.span());
  }
}

uint64_t AttachedDisk::al_transaction_bytes() const {
  return store_->geometry().al_tx_bytes();
}

uint64_t AttachedDisk::al_transaction_offset(uint64_t number) const {
  const storage::Geometry& g = store_->geometry();
  return g.abs_al_slot(static_cast<uint32_t>((number - 1) % g.al_ring_slots));
}

void AttachedDisk::encode_al_transaction(const storage::AlTransaction& tx,
                                         std::span<std::byte> out) const {
  storage::encode_al_transaction(tx, store_->geometry(), store_->superblock().device_uuid, out);
}

Result<void> AttachedDisk::write_bitmap_pages(std::span<const uint64_t> pages) {
  if (auto r = store_->write_bitmap_pages(*bitmap_, pages); !r) {
    return make_error("resource " + resource_ + ": writing the bitmap on " + path_ + ": " +
                      r.error().message);
  }
  note_written(pages);
  return {};
}

Result<void> AttachedDisk::close_clean() {
  if (closed_clean_) return {};
  if (auto r = write_dirty_bitmap(); !r) return r;
  storage::ActivityLog::Prepared clear = al_->prepare_clear();
  if (auto r = store_->write_al_transaction(clear.tx); !r) {
    return make_error("resource " + resource_ + ": emptying the activity log on " + path_ + ": " +
                      r.error().message);
  }
  al_->transaction_durable(clear.tx.number);
  closed_clean_ = true;
  if (unclean_) {
    // Not resolved with the peer yet: the next open must still say unclean
    // (the bitmap already holds the recovered extents).
    return {};
  }
  storage::Superblock clean = store_->superblock();
  clean.flags |= storage::kFlagAlClean;
  return write_superblock(clean);
}

Result<void> AttachedDisk::write_superblock(const storage::Superblock& next) {
  if (auto r = store_->write_superblock(next); !r) {
    return make_error("resource " + resource_ + ": writing metadata on " + path_ + ": " +
                      r.error().message);
  }
  return {};
}

Result<void> AttachedDisk::write_dirty_bitmap_unflushed() {
  if (bitmap_write_due_) return write_dirty_bitmap();
  const storage::Geometry& g = store_->geometry();
  storage::AlignedBuffer page(storage::SyncBitmap::kPageBytes);
  storage::AlignedBuffer known(storage::SyncBitmap::kPageBytes);
  for (uint64_t p : bitmap_->dirty_pages()) {
    bitmap_->encode_page(p, page.span());
    if (auto r = storage::write_sync(store_->device(),
                                     g.abs_bitmap() + p * storage::SyncBitmap::kPageBytes,
                                     page.span(), false);
        !r) {
      return make_error("resource " + resource_ + ": writing bitmap page " + std::to_string(p) +
                        " on " + path_ + ": " + r.error().message);
    }
    bitmap_->mark_page_clean(p);
    // Not durable yet: only the cleared bits may be believed (a bit that is
    // clear in memory is never trusted to be set on disk).
    on_disk_->encode_page(p, known.span());
    for (size_t i = 0; i < known.size(); ++i) known.data()[i] &= page.data()[i];
    on_disk_->decode_page(p, known.span());
  }
  bitmap_dirty_ = false;
  return {};
}

Result<void> AttachedDisk::write_dirty_bitmap() {
  const std::vector<uint64_t> pages = bitmap_->dirty_pages();
  if (auto r = write_bitmap_pages(pages); !r) {
    return r;
  }
  bitmap_write_due_ = false;
  bitmap_dirty_ = false;
  return {};
}

}  // namespace tandem::daemon
