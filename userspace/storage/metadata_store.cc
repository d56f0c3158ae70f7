#include "storage/metadata_store.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <stdexcept>

#include "common/log.h"
#include "storage/aligned_buffer.h"
#include "storage/sync_io.h"

namespace tandem::storage {
namespace {

constexpr uint64_t kChunk = 1ULL << 20;  // bitmap I/O in pieces of 1 MiB

std::string where(const BlockDevice& md, const MetaDiskSpec& spec) {
  std::string s = md.name() + " (" + kind_name(spec.kind) + " metadata";
  if (spec.kind == MetaDiskKind::kExternalIndexed) {
    s += " index " + std::to_string(spec.index);
  }
  return s + ")";
}

struct SlotRead {
  uint64_t area_end = 0;
  DecodedSlot slot[2];
};

Result<SlotRead> read_slots(BlockDevice& md, const MetaDiskSpec& spec) {
  auto bounds = locate_area(spec, md.name(), md.size_bytes());
  if (!bounds) {
    return bounds.error();
  }
  SlotRead r;
  r.area_end = bounds->offset + bounds->size;
  AlignedBuffer buf(kSuperblockAreaBytes);
  if (auto rd = read_sync(md, r.area_end - kSuperblockAreaBytes, buf.span()); !rd) {
    return make_error("cannot read the metadata superblock: " + rd.error().message,
                      rd.error().sys_errno);
  }
  for (size_t i = 0; i < 2; ++i) {
    r.slot[i] =
        decode_superblock(buf.span().subspan(i * kSuperblockSlotBytes, kSuperblockSlotBytes));
  }
  return r;
}

bool is_tandem(SlotProblem p) {
  return p != SlotProblem::kBlank && p != SlotProblem::kForeign;
}

void fill_random(void* p, size_t n) {
  auto* out = static_cast<unsigned char*>(p);
  while (n > 0) {
    const ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

}  // namespace

DeviceUuid random_device_uuid() {
  DeviceUuid u{};
  fill_random(u.data(), u.size());
  u[6] = static_cast<uint8_t>((u[6] & 0x0FU) | 0x40U);  // RFC 4122 version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3FU) | 0x80U);
  return u;
}

uint64_t random_generation_id() {
  uint64_t v = 0;
  while ((v & ~uint64_t{1}) == 0) {
    fill_random(&v, sizeof v);
  }
  return v & ~uint64_t{1};
}

MdProbe MetadataStore::probe(BlockDevice& md, const MetaDiskSpec& spec) {
  MdProbe p;
  auto slots = read_slots(md, spec);
  if (!slots) {
    p.found = MdProbe::Found::kNothing;
    p.detail = slots.error().message;
    return p;
  }
  const DecodedSlot& a = slots->slot[0];
  const DecodedSlot& b = slots->slot[1];
  if (a.problem == SlotProblem::kNone || b.problem == SlotProblem::kNone) {
    p.found = MdProbe::Found::kValid;
    p.detail = "valid tandem metadata";
  } else if (is_tandem(a.problem) || is_tandem(b.problem)) {
    p.found = MdProbe::Found::kDamaged;
    p.detail = "damaged tandem metadata (slot 0: " + a.detail + "; slot 1: " + b.detail + ")";
  } else if (a.problem == SlotProblem::kForeign || b.problem == SlotProblem::kForeign) {
    p.found = MdProbe::Found::kForeign;
    p.detail = "non-zero data that is not tandem metadata";
  } else {
    p.found = MdProbe::Found::kNothing;
    p.detail = "blank";
  }
  return p;
}

Result<MetadataStore> MetadataStore::open(BlockDevice& md, const MetaDiskSpec& spec,
                                          uint64_t backing_size, StoreOptions options) {
  const std::string loc = where(md, spec);
  auto slots = read_slots(md, spec);
  if (!slots) {
    return make_error(loc + ": " + slots.error().message, slots.error().sys_errno);
  }
  const DecodedSlot* best = nullptr;
  for (const DecodedSlot& s : slots->slot) {
    if (s.problem == SlotProblem::kNone &&
        (best == nullptr || s.superblock->sequence > best->superblock->sequence)) {
      best = &s;
    }
  }
  const DecodedSlot& s0 = slots->slot[0];
  const DecodedSlot& s1 = slots->slot[1];
  if (best == nullptr) {
    if (!is_tandem(s0.problem) && !is_tandem(s1.problem)) {
      return make_error(loc + ": no tandem metadata found (superblock slots at byte offset " +
                        std::to_string(slots->area_end - kSuperblockAreaBytes) + " are " +
                        (s0.problem == SlotProblem::kBlank && s1.problem == SlotProblem::kBlank
                             ? "blank"
                             : "not tandem metadata") +
                        "). Run 'tandemadm create-md' first, or check the meta-disk setting.");
    }
    return make_error(loc + ": metadata is unreadable: slot 0: " + s0.detail +
                      "; slot 1: " + s1.detail +
                      ". Restore it from a backup, or recreate it with 'tandemadm create-md "
                      "--force' (this forgets which blocks are out of sync).");
  }
  for (const DecodedSlot& s : slots->slot) {
    if (&s != best && s.problem != SlotProblem::kNone && s.problem != SlotProblem::kBlank) {
      TLOG(LOG_INFO, "%s: older superblock slot unusable (%s); using sequence %llu", loc.c_str(),
           s.detail.c_str(), static_cast<unsigned long long>(best->superblock->sequence));
    }
  }
  const Superblock& sb = *best->superblock;
  const Geometry& g = sb.geometry;
  if (g.kind != spec.kind ||
      (spec.kind == MetaDiskKind::kExternalIndexed && g.index != spec.index)) {
    return make_error(loc + ": the metadata found there was created as " + kind_name(g.kind) +
                      (g.kind == MetaDiskKind::kExternalIndexed
                           ? " index " + std::to_string(g.index)
                           : std::string()) +
                      " metadata; fix the meta-disk setting of the configuration");
  }
  if (g.area_offset + g.area_size != slots->area_end) {
    return make_error(loc + ": metadata area (offset " + std::to_string(g.area_offset) + ", size " +
                      std::to_string(g.area_size) + ") does not end at byte " +
                      std::to_string(slots->area_end) +
                      " where it was found; the device was resized or the superblock is wrong");
  }
  if (g.usable_size > backing_size) {
    return make_error(loc + ": metadata describes " + std::to_string(g.usable_size) +
                      " bytes of data but the backing device has only " +
                      std::to_string(backing_size) + "; was the device shrunk?");
  }
  return MetadataStore(md, sb, options);
}

Result<void> MetadataStore::flush() {
  if (!options_.flushes) return {};
  return flush_sync(*md_);
}

Result<MetadataStore> MetadataStore::create(BlockDevice& md, const Geometry& g,
                                            const Superblock& identity, StoreOptions options) {
  if (g.area_offset + g.area_size > md.size_bytes()) {
    return make_error(md.name() + ": metadata area ends beyond the device");
  }
  // Invalidate any old superblock first, so that a power cut during creation
  // leaves no metadata rather than old metadata over a half-new area.
  AlignedBuffer zero_sb(kSuperblockAreaBytes);
  if (auto w = write_sync(md, g.area_offset + g.superblock_offset(), zero_sb.span(), false); !w) {
    return w.error();
  }
  if (auto z = zero_sync(md, g.area_offset, g.superblock_offset()); !z) {
    // Some devices cannot zero without data; write zero pages instead.
    if (z.error().sys_errno != EOPNOTSUPP && z.error().sys_errno != EINVAL) {
      return z.error();
    }
    AlignedBuffer zeroes(kChunk);
    for (uint64_t off = 0; off < g.superblock_offset(); off += kChunk) {
      const uint64_t n = std::min(kChunk, g.superblock_offset() - off);
      if (auto w = write_sync(md, g.area_offset + off, zeroes.span().first(static_cast<size_t>(n)),
                              false);
          !w) {
        return w.error();
      }
    }
  }
  Superblock sb = identity;
  sb.geometry = g;
  sb.sequence = 0;
  MetadataStore store(md, sb, options);
  if (auto w = store.write_superblock(sb); !w) {
    return w.error();
  }
  return store;
}

Result<void> MetadataStore::write_superblock(Superblock next) {
  next.sequence = sb_.sequence + 1;
  next.geometry = sb_.geometry;
  AlignedBuffer buf(kSuperblockSlotBytes);
  encode_superblock(next, buf.span());
  if (auto f = flush(); !f) {
    return f;
  }
  const uint32_t slot = static_cast<uint32_t>(next.sequence % 2);
  if (auto w = write_sync(*md_, geometry().abs_superblock_slot(slot), buf.span(), options_.flushes);
      !w) {
    return make_error("cannot write the metadata superblock: " + w.error().message,
                      w.error().sys_errno);
  }
  sb_ = next;
  return {};
}

Result<MetadataStore::AlState> MetadataStore::read_activity_log() {
  const Geometry& g = geometry();
  AlignedBuffer buf(g.al_bytes());
  if (auto r = read_sync(*md_, g.abs_al_slot(0), buf.span()); !r) {
    return make_error("cannot read the activity log: " + r.error().message, r.error().sys_errno);
  }
  AlState st;
  for (uint32_t i = 0; i < g.al_ring_slots; ++i) {
    st.slots.push_back(decode_al_transaction(
        buf.span().subspan(i * g.al_tx_bytes(), g.al_tx_bytes()), g, sb_.device_uuid));
  }
  st.newest = newest_transaction(st.slots);
  return st;
}

Result<void> MetadataStore::write_al_transaction(const AlTransaction& tx) {
  const Geometry& g = geometry();
  AlignedBuffer buf(g.al_tx_bytes());
  encode_al_transaction(tx, g, sb_.device_uuid, buf.span());
  const auto slot = static_cast<uint32_t>((tx.number - 1) % g.al_ring_slots);
  if (auto w = write_sync(*md_, g.abs_al_slot(slot), buf.span(), options_.flushes); !w) {
    return make_error("cannot write activity-log transaction " + std::to_string(tx.number) + ": " +
                          w.error().message,
                      w.error().sys_errno);
  }
  return {};
}

Result<SyncBitmap> MetadataStore::read_bitmap() {
  const Geometry& g = geometry();
  SyncBitmap bm(g.bitmap_bits);
  AlignedBuffer buf(kChunk);
  for (uint64_t off = 0; off < g.bitmap_bytes; off += kChunk) {
    const uint64_t n = std::min(kChunk, g.bitmap_bytes - off);
    if (auto r = read_sync(*md_, g.abs_bitmap() + off, buf.span().first(static_cast<size_t>(n)));
        !r) {
      return make_error("cannot read the bitmap: " + r.error().message, r.error().sys_errno);
    }
    for (uint64_t p = 0; p < n / SyncBitmap::kPageBytes; ++p) {
      const uint64_t page = off / SyncBitmap::kPageBytes + p;
      if (page >= bm.pages()) break;
      bm.decode_page(page, buf.span().subspan(p * SyncBitmap::kPageBytes, SyncBitmap::kPageBytes));
    }
  }
  return bm;
}

Result<void> MetadataStore::write_bitmap_pages(SyncBitmap& bm, std::span<const uint64_t> pages) {
  const Geometry& g = geometry();
  AlignedBuffer buf(SyncBitmap::kPageBytes);
  for (uint64_t page : pages) {
    bm.encode_page(page, buf.span());
    if (auto w =
            write_sync(*md_, g.abs_bitmap() + page * SyncBitmap::kPageBytes, buf.span(), false);
        !w) {
      return make_error(
          "cannot write bitmap page " + std::to_string(page) + ": " + w.error().message,
          w.error().sys_errno);
    }
  }
  if (auto f = flush(); !f) {
    return f;
  }
  for (uint64_t page : pages) {
    bm.mark_page_clean(page);
  }
  return {};
}

Result<void> MetadataStore::write_dirty_bitmap(SyncBitmap& bm) {
  const auto pages = bm.dirty_pages();
  return write_bitmap_pages(bm, pages);
}

Result<MetadataStore::ApplyAlResult> MetadataStore::apply_al() {
  ApplyAlResult result;
  result.was_clean = (sb_.flags & kFlagAlClean) != 0;
  auto al = read_activity_log();
  if (!al) {
    return al.error();
  }
  const Geometry& g = geometry();
  uint64_t last_number = 0;
  if (al->newest) {
    last_number = al->newest->number;
    if (!result.was_clean) {
      result.extents = al->newest->hot;
    }
  }
  // Extents are 1024 bits = 128 bytes of bitmap, 32 to a page: update each
  // affected page once.
  std::map<uint64_t, std::vector<uint32_t>> by_page;
  for (uint32_t e : result.extents) {
    by_page[SyncBitmap::page_of_extent(e)].push_back(e);
  }
  AlignedBuffer buf(SyncBitmap::kPageBytes);
  for (const auto& [page, extents] : by_page) {
    const uint64_t at = g.abs_bitmap() + page * SyncBitmap::kPageBytes;
    if (auto r = read_sync(*md_, at, buf.span()); !r) {
      return r.error();
    }
    SyncBitmap one(
        std::min(g.bitmap_bits - page * SyncBitmap::kBitsPerPage, SyncBitmap::kBitsPerPage));
    one.decode_page(0, buf.span());
    for (uint32_t e : extents) {
      const uint64_t first =
          uint64_t{e} * SyncBitmap::kBitsPerExtent - page * SyncBitmap::kBitsPerPage;
      one.set_bits(first, first + SyncBitmap::kBitsPerExtent);
    }
    one.encode_page(0, buf.span());
    if (auto w = write_sync(*md_, at, buf.span(), false); !w) {
      return w.error();
    }
  }
  if (auto f = flush(); !f) {
    return f.error();
  }
  if (!result.was_clean || (al->newest && !al->newest->hot.empty())) {
    // An empty transaction, so that the extents are not applied again.
    AlTransaction empty{.number = last_number + 1,
                        .hot = {},
                        .added = 0,
                        .evicted = static_cast<uint32_t>(result.extents.size())};
    if (auto w = write_al_transaction(empty); !w) {
      return w.error();
    }
  }
  if (!result.was_clean) {
    Superblock next = sb_;
    next.flags |= kFlagAlClean;
    if (auto w = write_superblock(next); !w) {
      return w.error();
    }
  }
  return result;
}

Result<void> MetadataStore::wipe(BlockDevice& md, const MetaDiskSpec& spec) {
  const std::string loc = where(md, spec);
  auto slots = read_slots(md, spec);
  if (!slots) {
    return make_error(loc + ": " + slots.error().message);
  }
  const DecodedSlot& a = slots->slot[0];
  const DecodedSlot& b = slots->slot[1];
  if (!is_tandem(a.problem) && !is_tandem(b.problem)) {
    return make_error(loc + ": no tandem metadata to wipe (nothing was written)");
  }
  // With a readable geometry also clear the activity log, so that no
  // stale transaction outlives the metadata.
  const DecodedSlot* good = a.problem == SlotProblem::kNone   ? &a
                            : b.problem == SlotProblem::kNone ? &b
                                                              : nullptr;
  if (good != nullptr) {
    const Geometry& g = good->superblock->geometry;
    AlignedBuffer zero(g.al_bytes());
    if (auto w = write_sync(md, g.abs_al_slot(0), zero.span(), false); !w) {
      return w.error();
    }
  }
  AlignedBuffer zero_sb(kSuperblockAreaBytes);
  if (auto w = write_sync(md, slots->area_end - kSuperblockAreaBytes, zero_sb.span(), false); !w) {
    return w.error();
  }
  return flush_sync(md);
}

}  // namespace tandem::storage
