// The metadata superblock: identity, generation identifiers, flags and the
// geometry of the metadata area, in one checksummed 4 KiB block. Two slots
// alternate: an update writes the slot the current one is not in, with the
// next sequence number, so a torn write always leaves the previous state.
// Encoding and decoding are pure; docs/on-disk-format.md lists every byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "storage/md_geometry.h"

namespace tandem::storage {

inline constexpr uint32_t kMdFormatVersion = 1;
inline constexpr uint32_t kByteOrderMark = 0x0A0B0C0DU;
inline constexpr uint32_t kNoNodeId = 0xFFFFFFFFU;

// Superblock flags (DRBD semantics).
inline constexpr uint32_t kFlagConsistent = 1U << 0;      // data is not mid-resync
inline constexpr uint32_t kFlagWasUpToDate = 1U << 1;     // was UpToDate at last change
inline constexpr uint32_t kFlagPrimary = 1U << 2;         // node was primary
inline constexpr uint32_t kFlagCrashedPrimary = 1U << 3;  // primary that did not shut down cleanly
inline constexpr uint32_t kFlagPeerOutdated = 1U << 4;    // peer known outdated (fencing)
inline constexpr uint32_t kFlagAlClean = 1U << 5;         // activity log needs no replay
inline constexpr uint32_t kKnownFlags = 0x3FU;

// "consistent,primary,..." for dumps.
std::string flag_names(uint32_t flags);

// Generation identifiers. The lowest bit of `current` is set while the node
// is primary, so that a peer comparing identifiers after a crash can tell.
struct GenerationIds {
  uint64_t current = 0;
  uint64_t bitmap = 0;
  std::array<uint64_t, 2> history{};
  bool operator==(const GenerationIds&) const = default;
};
// Identifier of metadata that was never connected or made primary.
inline constexpr uint64_t kGiJustCreated = 4;

using DeviceUuid = std::array<uint8_t, 16>;
std::string uuid_to_string(const DeviceUuid& uuid);

struct Superblock {
  uint64_t sequence = 0;  // increases with every write; picks the newer slot
  uint32_t flags = 0;
  uint32_t node_id = kNoNodeId;
  DeviceUuid device_uuid{};
  GenerationIds gi;
  Geometry geometry;
  bool operator==(const Superblock&) const = default;
};

// Why a slot does not hold a usable superblock.
enum class SlotProblem {
  kNone,
  kBlank,         // all zero: never written or wiped
  kForeign,       // no tandem magic: something else lives here
  kBadByteOrder,  // written by a machine with another byte order
  kBadVersion,    // a format version this tandem does not read
  kBadChecksum,   // torn or corrupted
  kInvalid        // checksum fine, contents inconsistent
};

struct DecodedSlot {
  SlotProblem problem = SlotProblem::kNone;
  std::string detail;  // what exactly was wrong, for the administrator
  std::optional<Superblock> superblock;
};

void encode_superblock(const Superblock& sb, std::span<std::byte> slot);
// `slot` must be kSuperblockSlotBytes long (shorter input is reported, not read).
DecodedSlot decode_superblock(std::span<const std::byte> slot);

}  // namespace tandem::storage
