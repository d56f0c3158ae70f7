#include "sim_metadata.h"

#include <algorithm>

#include "daemon/superblock_metadata.h"
#include "storage/md_geometry.h"
#include "storage/superblock.h"

namespace tandem::sim {
namespace {

constexpr uint64_t kMdDeviceBytes = 64 << 10;  // bitmap, activity log, superblocks
constexpr uint32_t kAlExtents = storage::kMinAlExtents;

}  // namespace

SimMetadata::SimMetadata(std::string node, uint64_t data_bytes)
    : node_(std::move(node)),
      data_bytes_(data_bytes),
      dev_(std::make_unique<storage::MemoryDevice>(node_ + "-md", kMdDeviceBytes)) {}

Result<void> SimMetadata::create(const core::Metadata& md) {
  auto g = storage::compute_geometry(storage::MetaDiskSpec{storage::MetaDiskKind::kExternal, 0},
                                     node_ + "-data", data_bytes_, node_ + "-md", kMdDeviceBytes,
                                     kAlExtents);
  if (!g) return g.error();
  storage::Superblock sb;
  sb.flags = storage::kFlagAlClean;
  daemon::apply_metadata(sb, md);
  auto store = storage::MetadataStore::create(*dev_, *g, sb);
  if (!store) return store.error();
  return {};
}

Result<SimMetadata::Loaded> SimMetadata::load() {
  close();
  auto store = storage::MetadataStore::open(
      *dev_, storage::MetaDiskSpec{storage::MetaDiskKind::kExternal, 0}, data_bytes_);
  if (!store) return store.error();
  store_ = std::make_unique<storage::MetadataStore>(std::move(store).value());
  auto applied = store_->apply_al();
  if (!applied) return applied.error();
  auto bitmap = store_->read_bitmap();
  if (!bitmap) return bitmap.error();
  bitmap_ = std::make_unique<storage::SyncBitmap>(std::move(bitmap).value());
  auto log = store_->read_activity_log();
  if (!log) return log.error();
  const uint64_t last = log->newest ? log->newest->number : 0;
  const storage::Geometry& g = store_->geometry();
  al_ = std::make_unique<storage::ActivityLog>(g.al_extents, g.al_extent_count(), last,
                                               std::vector<uint32_t>{});
  al_in_use_ = false;
  Loaded out;
  out.metadata = daemon::metadata_of(store_->superblock());
  out.unclean = !applied->was_clean;
  // Runs of set bits become byte ranges of the data area.
  const uint64_t bits = bitmap_->bits();
  for (uint64_t b = 0; b < bits;) {
    if (!bitmap_->test(b)) {
      ++b;
      continue;
    }
    uint64_t e = b;
    while (e < bits && bitmap_->test(e)) ++e;
    const uint64_t offset = b * storage::kBytesPerBitmapBit;
    out.out_of_sync.emplace_back(offset,
                                 std::min(e * storage::kBytesPerBitmapBit, data_bytes_) - offset);
    b = e;
  }
  return out;
}

void SimMetadata::mark_out_of_sync(uint64_t offset, uint64_t length) {
  if (bitmap_) bitmap_->mark_out_of_sync(offset, length);
}

void SimMetadata::mark_in_sync(uint64_t offset, uint64_t length) {
  if (bitmap_) bitmap_->mark_in_sync(offset, length);
}

Result<void> SimMetadata::persist(const core::Metadata& md) {
  if (!store_) return {};
  // As tandemd does: the bitmap pages first, then the superblock.
  if (auto r = store_->write_dirty_bitmap(*bitmap_); !r) return r.error();
  storage::Superblock sb = store_->superblock();
  daemon::apply_metadata(sb, md);
  return store_->write_superblock(sb);
}

Result<void> SimMetadata::begin_write(uint64_t offset, uint64_t length) {
  if (!store_) return {};
  const auto admission = al_->begin_write(offset, length);
  if (admission.status == storage::ActivityLog::Status::kReady) return {};
  if (admission.status == storage::ActivityLog::Status::kFull) {
    return make_error(node_ + ": activity log full");
  }
  if (!al_in_use_) {
    // From now on a power cut leaves hot extents to replay.
    storage::Superblock sb = store_->superblock();
    sb.flags &= ~storage::kFlagAlClean;
    if (auto r = store_->write_superblock(sb); !r) return r.error();
    al_in_use_ = true;
  }
  if (al_->transaction_pending()) {
    auto prepared = al_->prepare_transaction();
    if (!prepared.evicted.empty()) {
      std::vector<uint64_t> pages;
      for (uint32_t e : prepared.evicted) pages.push_back(storage::SyncBitmap::page_of_extent(e));
      if (auto r = store_->write_bitmap_pages(*bitmap_, pages); !r) return r.error();
    }
    if (auto r = store_->write_al_transaction(prepared.tx); !r) return r.error();
    al_->transaction_durable(prepared.tx.number);
  }
  return {};
}

void SimMetadata::end_write(uint64_t offset, uint64_t length) {
  if (al_) al_->end_write(offset, length);
}

Result<void> SimMetadata::detach_cleanly() {
  if (!store_) return {};
  if (auto r = store_->write_dirty_bitmap(*bitmap_); !r) return r.error();
  if (al_in_use_) {
    auto cleared = al_->prepare_clear();
    if (auto r = store_->write_al_transaction(cleared.tx); !r) return r.error();
    storage::Superblock sb = store_->superblock();
    sb.flags |= storage::kFlagAlClean;
    if (auto r = store_->write_superblock(sb); !r) return r.error();
  }
  close();
  return {};
}

void SimMetadata::close() {
  store_.reset();
  bitmap_.reset();
  al_.reset();
  al_in_use_ = false;
}

void SimMetadata::power_cut(const std::optional<core::Metadata>& in_flight, uint32_t torn_bytes) {
  if (in_flight && store_) {
    // The metadata write in flight is torn: the device loses power during
    // its next write, after `torn_bytes` of it.
    dev_->set_fault_plan(storage::FaultPlan::power_cut(dev_->writes_seen(), torn_bytes));
    (void)persist(*in_flight);
  }
  close();
  dev_ = dev_->reboot();
}

}  // namespace tandem::sim
