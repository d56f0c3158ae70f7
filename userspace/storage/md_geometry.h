// Where tandem's metadata lives and how big each part is. Pure arithmetic,
// no I/O. docs/on-disk-format.md draws the layout.
//
// A metadata area holds, from its start: the quick-sync bitmap, the
// activity-log ring, and at its very end two 4 KiB superblock slots. The
// superblock is found from the end of the area alone, so a reader needs no
// geometry to locate it:
//   internal          the area ends at the end of the backing device (rounded
//                     down to 4 KiB); the data area shrinks by its size
//   external          the area is the whole metadata device
//   external indexed  the area is the INDEX-th 128 MiB slice of the device
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tandem::storage {

inline constexpr uint64_t kMdBlockBytes = 4096;
inline constexpr uint64_t kBytesPerBitmapBit = 4096;
inline constexpr uint64_t kAlExtentBytes = 4ULL << 20;
inline constexpr uint32_t kAlRingSlots = 8;
inline constexpr uint32_t kMinAlExtents = 7;
inline constexpr uint32_t kMaxAlExtents = 65534;
inline constexpr uint64_t kIndexedAreaBytes = 128ULL << 20;
inline constexpr uint64_t kSuperblockSlotBytes = 4096;
inline constexpr uint64_t kSuperblockAreaBytes = 2 * kSuperblockSlotBytes;
// Internal metadata leaves at least this much room for data.
inline constexpr uint64_t kMinUsableBytes = 64 * 1024;
// Activity-log transaction header and trailer, see al_transaction.h.
inline constexpr uint64_t kAlTxHeaderBytes = 64;
inline constexpr uint64_t kAlTxTrailerBytes = 4;

enum class MetaDiskKind : uint32_t { kInternal = 0, kExternal = 1, kExternalIndexed = 2 };

const char* kind_name(MetaDiskKind kind);

struct MetaDiskSpec {
  MetaDiskKind kind = MetaDiskKind::kInternal;
  uint32_t index = 0;  // kExternalIndexed only
};

struct Geometry {
  MetaDiskKind kind = MetaDiskKind::kInternal;
  uint32_t index = 0;
  uint64_t area_offset = 0;  // byte offset of the metadata area in the metadata device
  uint64_t area_size = 0;
  uint64_t usable_size = 0;    // bytes of the backing device available for data
  uint64_t bitmap_offset = 0;  // relative to area_offset
  uint64_t bitmap_bits = 0;    // one per 4 KiB of usable_size, rounded up
  uint64_t bitmap_bytes = 0;   // on disk, a multiple of 4 KiB
  uint64_t al_offset = 0;      // relative to area_offset
  uint32_t al_extents = 0;     // hot extents at most
  uint32_t al_ring_slots = 0;  // transactions in the ring
  uint32_t al_tx_blocks = 0;   // 4 KiB blocks per transaction

  uint64_t al_tx_bytes() const { return uint64_t{al_tx_blocks} * kMdBlockBytes; }
  uint64_t al_bytes() const { return al_tx_bytes() * al_ring_slots; }
  uint64_t superblock_offset() const { return area_size - kSuperblockAreaBytes; }
  // Absolute offsets in the metadata device.
  uint64_t abs_bitmap() const { return area_offset + bitmap_offset; }
  uint64_t abs_al_slot(uint32_t slot) const {
    return area_offset + al_offset + uint64_t{slot} * al_tx_bytes();
  }
  uint64_t abs_superblock_slot(uint32_t slot) const {
    return area_offset + superblock_offset() + uint64_t{slot} * kSuperblockSlotBytes;
  }
  uint64_t al_extent_count() const { return (usable_size + kAlExtentBytes - 1) / kAlExtentBytes; }
  bool operator==(const Geometry&) const = default;
};

// 4 KiB blocks one transaction needs to record `al_extents` hot extents.
uint32_t al_tx_blocks_for(uint32_t al_extents);
uint64_t bitmap_bytes_for(uint64_t usable_size);

// Bytes internal metadata needs on a backing device of `backing_size` bytes.
uint64_t internal_md_bytes(uint64_t backing_size, uint32_t al_extents);

// The layout for new metadata. `backing_size` is the size of the data
// device; `md_device_size` that of the metadata device (equal to
// backing_size for internal metadata). Errors name the devices and say how
// much space is missing.
Result<Geometry> compute_geometry(const MetaDiskSpec& spec, const std::string& backing_name,
                                  uint64_t backing_size, const std::string& md_name,
                                  uint64_t md_device_size, uint32_t al_extents);

// Byte range [offset, offset + size) of the metadata area in a metadata
// device of `md_device_size` bytes, found without reading anything.
struct AreaBounds {
  uint64_t offset = 0;
  uint64_t size = 0;
};
Result<AreaBounds> locate_area(const MetaDiskSpec& spec, const std::string& md_name,
                               uint64_t md_device_size);

// Checks that a geometry read from disk is self-consistent and fits in an
// area of `area_size` bytes; names what is wrong.
Result<void> validate_geometry(const Geometry& g);

}  // namespace tandem::storage
