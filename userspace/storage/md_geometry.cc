#include "storage/md_geometry.h"

namespace tandem::storage {
namespace {

constexpr uint64_t align_down(uint64_t v, uint64_t a) {
  return v / a * a;
}
constexpr uint64_t div_round_up(uint64_t v, uint64_t a) {
  return v / a + (v % a != 0 ? 1 : 0);
}

// Rounded up, so that "needs X" is never an understatement.
std::string mib(uint64_t bytes) {
  if (bytes < (1ULL << 20)) {
    return std::to_string(div_round_up(bytes, 1024)) + " KiB";
  }
  const uint64_t tenths = div_round_up(bytes * 10, 1ULL << 20);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
}

Result<void> check_al_extents(uint32_t al_extents) {
  if (al_extents < kMinAlExtents || al_extents > kMaxAlExtents) {
    return make_error("al-extents " + std::to_string(al_extents) + " is out of range (" +
                      std::to_string(kMinAlExtents) + ".." + std::to_string(kMaxAlExtents) + ")");
  }
  return {};
}

}  // namespace

const char* kind_name(MetaDiskKind kind) {
  switch (kind) {
    case MetaDiskKind::kInternal:
      return "internal";
    case MetaDiskKind::kExternal:
      return "external";
    case MetaDiskKind::kExternalIndexed:
      return "external-indexed";
  }
  return "unknown";
}

uint32_t al_tx_blocks_for(uint32_t al_extents) {
  const uint64_t bytes = kAlTxHeaderBytes + 4ULL * al_extents + kAlTxTrailerBytes;
  return static_cast<uint32_t>(div_round_up(bytes, kMdBlockBytes));
}

uint64_t bitmap_bytes_for(uint64_t usable_size) {
  const uint64_t bits = div_round_up(usable_size, kBytesPerBitmapBit);
  return div_round_up(div_round_up(bits, 8), kMdBlockBytes) * kMdBlockBytes;
}

namespace {
uint64_t fixed_md_bytes(uint32_t al_extents) {
  return uint64_t{al_tx_blocks_for(al_extents)} * kMdBlockBytes * kAlRingSlots +
         kSuperblockAreaBytes;
}
}  // namespace

uint64_t internal_md_bytes(uint64_t backing_size, uint32_t al_extents) {
  const uint64_t total = align_down(backing_size, kMdBlockBytes);
  // The bitmap only covers the data area, which shrinks by the metadata.
  // Start from a bitmap covering everything, then take a smaller size only
  // while it still covers what is left for data.
  auto need = [&](uint64_t md_size) {
    return fixed_md_bytes(al_extents) + bitmap_bytes_for(md_size < total ? total - md_size : 0);
  };
  uint64_t md = need(0);
  for (int i = 0; i < 8; ++i) {
    const uint64_t smaller = need(md);
    if (smaller >= md || need(smaller) > smaller) break;
    md = smaller;
  }
  return md;
}

Result<AreaBounds> locate_area(const MetaDiskSpec& spec, const std::string& md_name,
                               uint64_t md_device_size) {
  const uint64_t end = align_down(md_device_size, kMdBlockBytes);
  switch (spec.kind) {
    case MetaDiskKind::kInternal:
    case MetaDiskKind::kExternal:
      if (end < kSuperblockAreaBytes) {
        return make_error(md_name + " is too small to hold tandem metadata (" +
                          std::to_string(md_device_size) + " bytes)");
      }
      // For internal metadata the area's start depends on the geometry; the
      // superblock sits at the end either way.
      return AreaBounds{0, end};
    case MetaDiskKind::kExternalIndexed: {
      const uint64_t offset = uint64_t{spec.index} * kIndexedAreaBytes;
      if (offset + kIndexedAreaBytes > md_device_size) {
        return make_error(md_name + " has " + mib(md_device_size) + "; metadata index " +
                          std::to_string(spec.index) + " needs the device to have at least " +
                          mib(offset + kIndexedAreaBytes) + " (128 MiB per index)");
      }
      return AreaBounds{offset, kIndexedAreaBytes};
    }
  }
  return make_error("unknown meta-disk kind");
}

Result<Geometry> compute_geometry(const MetaDiskSpec& spec, const std::string& backing_name,
                                  uint64_t backing_size, const std::string& md_name,
                                  uint64_t md_device_size, uint32_t al_extents) {
  if (auto r = check_al_extents(al_extents); !r) {
    return make_error(backing_name + ": " + r.error().message);
  }
  Geometry g;
  g.kind = spec.kind;
  g.index = spec.kind == MetaDiskKind::kExternalIndexed ? spec.index : 0;
  g.al_extents = al_extents;
  g.al_ring_slots = kAlRingSlots;
  g.al_tx_blocks = al_tx_blocks_for(al_extents);

  if (spec.kind == MetaDiskKind::kInternal) {
    const uint64_t total = align_down(backing_size, kMdBlockBytes);
    const uint64_t md = internal_md_bytes(backing_size, al_extents);
    if (total < md + kMinUsableBytes) {
      return make_error(backing_name + " has " + std::to_string(backing_size) + " bytes (" +
                        mib(backing_size) + "); internal metadata with al-extents " +
                        std::to_string(al_extents) + " needs " + mib(md) +
                        " at the end of the device plus at least " + mib(kMinUsableBytes) +
                        " of data (" + mib(md + kMinUsableBytes) +
                        " in all). Use a larger device or external metadata (meta-disk PATH).");
    }
    g.area_size = md;
    g.area_offset = total - md;
    g.usable_size = total - md;
  } else {
    auto bounds = locate_area(spec, md_name, md_device_size);
    if (!bounds) {
      return bounds.error();
    }
    g.area_offset = bounds->offset;
    g.area_size = bounds->size;
    g.usable_size = align_down(backing_size, kMdBlockBytes);
    if (g.usable_size == 0) {
      return make_error(backing_name + " is smaller than 4 KiB and cannot hold data");
    }
    const uint64_t need = fixed_md_bytes(al_extents) + bitmap_bytes_for(g.usable_size);
    if (need > g.area_size) {
      return make_error(
          md_name + ": metadata for " + backing_name + " (" + mib(backing_size) + ") needs " +
          mib(need) + " but the " +
          (spec.kind == MetaDiskKind::kExternalIndexed ? "indexed slot" : "metadata device") +
          " has " + mib(g.area_size) +
          ". Use a larger metadata device or flexible external metadata "
          "(meta-disk PATH without an index).");
    }
  }
  g.bitmap_offset = 0;
  g.bitmap_bits = div_round_up(g.usable_size, kBytesPerBitmapBit);
  g.bitmap_bytes = bitmap_bytes_for(g.usable_size);
  g.al_offset = g.bitmap_bytes;
  if (auto v = validate_geometry(g); !v) {
    return make_error(md_name + ": " + v.error().message);
  }
  return g;
}

Result<void> validate_geometry(const Geometry& g) {
  if (auto r = check_al_extents(g.al_extents); !r) {
    return r;
  }
  if (g.al_ring_slots < 2 || g.al_ring_slots > 1024) {
    return make_error("activity-log ring of " + std::to_string(g.al_ring_slots) +
                      " transactions is out of range (2..1024)");
  }
  if (g.al_tx_blocks != al_tx_blocks_for(g.al_extents)) {
    return make_error("activity-log transaction size " + std::to_string(g.al_tx_blocks) +
                      " blocks does not match al-extents " + std::to_string(g.al_extents));
  }
  if (g.area_size % kMdBlockBytes != 0 || g.area_offset % kMdBlockBytes != 0 ||
      g.area_size < kSuperblockAreaBytes) {
    return make_error("metadata area (offset " + std::to_string(g.area_offset) + ", size " +
                      std::to_string(g.area_size) + ") is not 4 KiB aligned or too small");
  }
  if (g.area_offset > UINT64_MAX - g.area_size) {
    return make_error("metadata area extends beyond 2^64 bytes");
  }
  // The usable size is bounded so that the bitmap arithmetic cannot overflow.
  if (g.usable_size % kMdBlockBytes != 0 || g.usable_size == 0 || g.usable_size > (1ULL << 60)) {
    return make_error("usable size " + std::to_string(g.usable_size) +
                      " is zero, not a multiple of 4 KiB or beyond 1 EiB");
  }
  if (g.bitmap_bits != div_round_up(g.usable_size, kBytesPerBitmapBit) ||
      g.bitmap_bytes != bitmap_bytes_for(g.usable_size)) {
    return make_error("bitmap size does not match the usable size " +
                      std::to_string(g.usable_size));
  }
  const uint64_t sb = g.superblock_offset();
  if (g.bitmap_offset % kMdBlockBytes != 0 || g.al_offset % kMdBlockBytes != 0 ||
      g.bitmap_offset > sb || g.bitmap_bytes > sb - g.bitmap_offset || g.al_offset > sb ||
      g.al_bytes() > sb - g.al_offset) {
    return make_error("bitmap or activity log lies outside the metadata area");
  }
  const bool bitmap_before_al = g.bitmap_offset + g.bitmap_bytes <= g.al_offset;
  const bool al_before_bitmap = g.al_offset + g.al_bytes() <= g.bitmap_offset;
  if (!bitmap_before_al && !al_before_bitmap) {
    return make_error("bitmap and activity log overlap");
  }
  if (g.kind == MetaDiskKind::kInternal && g.area_offset != g.usable_size) {
    return make_error("internal metadata area does not start where the data area ends");
  }
  return {};
}

}  // namespace tandem::storage
