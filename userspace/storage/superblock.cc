#include "storage/superblock.h"

#include <algorithm>
#include <cstring>

#include "common/byte_order.h"
#include "common/crc32c.h"

namespace tandem::storage {
namespace {

constexpr char kMagic[8] = {'T', 'A', 'N', 'D', 'E', 'M', 'M', 'D'};
constexpr size_t kCrcOffset = kSuperblockSlotBytes - 4;

// Field offsets; docs/on-disk-format.md has the same table.
enum : size_t {
  kOffMagic = 0,
  kOffVersion = 8,
  kOffByteOrder = 12,
  kOffSequence = 16,
  kOffFlags = 24,
  kOffNodeId = 28,
  kOffDeviceUuid = 32,
  kOffGiCurrent = 48,
  kOffGiBitmap = 56,
  kOffGiHistory0 = 64,
  kOffGiHistory1 = 72,
  kOffKind = 80,
  kOffIndex = 84,
  kOffAreaOffset = 88,
  kOffAreaSize = 96,
  kOffUsableSize = 104,
  kOffBitmapOffset = 112,
  kOffBitmapBits = 120,
  kOffBitmapBytes = 128,
  kOffAlOffset = 136,
  kOffAlExtents = 144,
  kOffAlRingSlots = 148,
  kOffAlTxBlocks = 152,
  kOffBytesPerBit = 156,
  kOffAlExtentBytes = 160,
  kOffBlockBytes = 164,
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

std::string flag_names(uint32_t flags) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {kFlagConsistent, "consistent"},
      {kFlagWasUpToDate, "was-up-to-date"},
      {kFlagPrimary, "primary"},
      {kFlagCrashedPrimary, "crashed-primary"},
      {kFlagPeerOutdated, "peer-outdated"},
      {kFlagAlClean, "al-clean"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((flags & bit) != 0) {
      if (!out.empty()) out += ",";
      out += name;
    }
  }
  if ((flags & ~kKnownFlags) != 0) {
    if (!out.empty()) out += ",";
    out += "unknown:" + hex32(flags & ~kKnownFlags);
  }
  return out.empty() ? "none" : out;
}

std::string uuid_to_string(const DeviceUuid& u) {
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return buf;
}

void encode_superblock(const Superblock& sb, std::span<std::byte> out) {
  std::fill(out.begin(), out.begin() + kSuperblockSlotBytes, std::byte{0});
  std::memcpy(out.data() + kOffMagic, kMagic, sizeof kMagic);
  store_le<uint32_t>(out, kOffVersion, kMdFormatVersion);
  store_le<uint32_t>(out, kOffByteOrder, kByteOrderMark);
  store_le<uint64_t>(out, kOffSequence, sb.sequence);
  store_le<uint32_t>(out, kOffFlags, sb.flags);
  store_le<uint32_t>(out, kOffNodeId, sb.node_id);
  std::memcpy(out.data() + kOffDeviceUuid, sb.device_uuid.data(), sb.device_uuid.size());
  store_le<uint64_t>(out, kOffGiCurrent, sb.gi.current);
  store_le<uint64_t>(out, kOffGiBitmap, sb.gi.bitmap);
  store_le<uint64_t>(out, kOffGiHistory0, sb.gi.history[0]);
  store_le<uint64_t>(out, kOffGiHistory1, sb.gi.history[1]);
  const Geometry& g = sb.geometry;
  store_le<uint32_t>(out, kOffKind, static_cast<uint32_t>(g.kind));
  store_le<uint32_t>(out, kOffIndex, g.index);
  store_le<uint64_t>(out, kOffAreaOffset, g.area_offset);
  store_le<uint64_t>(out, kOffAreaSize, g.area_size);
  store_le<uint64_t>(out, kOffUsableSize, g.usable_size);
  store_le<uint64_t>(out, kOffBitmapOffset, g.bitmap_offset);
  store_le<uint64_t>(out, kOffBitmapBits, g.bitmap_bits);
  store_le<uint64_t>(out, kOffBitmapBytes, g.bitmap_bytes);
  store_le<uint64_t>(out, kOffAlOffset, g.al_offset);
  store_le<uint32_t>(out, kOffAlExtents, g.al_extents);
  store_le<uint32_t>(out, kOffAlRingSlots, g.al_ring_slots);
  store_le<uint32_t>(out, kOffAlTxBlocks, g.al_tx_blocks);
  store_le<uint32_t>(out, kOffBytesPerBit, static_cast<uint32_t>(kBytesPerBitmapBit));
  store_le<uint32_t>(out, kOffAlExtentBytes, static_cast<uint32_t>(kAlExtentBytes));
  store_le<uint32_t>(out, kOffBlockBytes, static_cast<uint32_t>(kMdBlockBytes));
  const std::span<const std::byte> covered(out.data(), kCrcOffset);
  store_le<uint32_t>(out, kCrcOffset, crc32c(covered));
}

DecodedSlot decode_superblock(std::span<const std::byte> in) {
  DecodedSlot d;
  if (in.size() != kSuperblockSlotBytes) {
    d.problem = SlotProblem::kInvalid;
    d.detail = "superblock slot is " + std::to_string(in.size()) + " bytes, expected 4096";
    return d;
  }
  if (std::all_of(in.begin(), in.end(), [](std::byte b) { return b == std::byte{0}; })) {
    d.problem = SlotProblem::kBlank;
    d.detail = "slot is blank (all zero)";
    return d;
  }
  if (std::memcmp(in.data() + kOffMagic, kMagic, sizeof kMagic) != 0) {
    d.problem = SlotProblem::kForeign;
    d.detail = "no tandem metadata magic";
    return d;
  }
  const auto bom = load_le<uint32_t>(in, kOffByteOrder);
  if (bom != kByteOrderMark) {
    d.problem = SlotProblem::kBadByteOrder;
    d.detail = "byte-order mark is " + hex32(bom) + ", expected " + hex32(kByteOrderMark) +
               " (little-endian)";
    return d;
  }
  const auto version = load_le<uint32_t>(in, kOffVersion);
  if (version != kMdFormatVersion) {
    d.problem = SlotProblem::kBadVersion;
    d.detail = "metadata format version " + std::to_string(version) +
               " is not supported (this tandem reads version " + std::to_string(kMdFormatVersion) +
               ")";
    return d;
  }
  const auto stored_crc = load_le<uint32_t>(in, kCrcOffset);
  const uint32_t actual_crc = crc32c(in.first(kCrcOffset));
  if (stored_crc != actual_crc) {
    d.problem = SlotProblem::kBadChecksum;
    d.detail =
        "checksum mismatch (stored " + hex32(stored_crc) + ", computed " + hex32(actual_crc) + ")";
    return d;
  }
  Superblock sb;
  sb.sequence = load_le<uint64_t>(in, kOffSequence);
  sb.flags = load_le<uint32_t>(in, kOffFlags);
  sb.node_id = load_le<uint32_t>(in, kOffNodeId);
  std::memcpy(sb.device_uuid.data(), in.data() + kOffDeviceUuid, sb.device_uuid.size());
  sb.gi.current = load_le<uint64_t>(in, kOffGiCurrent);
  sb.gi.bitmap = load_le<uint64_t>(in, kOffGiBitmap);
  sb.gi.history[0] = load_le<uint64_t>(in, kOffGiHistory0);
  sb.gi.history[1] = load_le<uint64_t>(in, kOffGiHistory1);
  Geometry& g = sb.geometry;
  const auto kind = load_le<uint32_t>(in, kOffKind);
  g.index = load_le<uint32_t>(in, kOffIndex);
  g.area_offset = load_le<uint64_t>(in, kOffAreaOffset);
  g.area_size = load_le<uint64_t>(in, kOffAreaSize);
  g.usable_size = load_le<uint64_t>(in, kOffUsableSize);
  g.bitmap_offset = load_le<uint64_t>(in, kOffBitmapOffset);
  g.bitmap_bits = load_le<uint64_t>(in, kOffBitmapBits);
  g.bitmap_bytes = load_le<uint64_t>(in, kOffBitmapBytes);
  g.al_offset = load_le<uint64_t>(in, kOffAlOffset);
  g.al_extents = load_le<uint32_t>(in, kOffAlExtents);
  g.al_ring_slots = load_le<uint32_t>(in, kOffAlRingSlots);
  g.al_tx_blocks = load_le<uint32_t>(in, kOffAlTxBlocks);

  d.problem = SlotProblem::kInvalid;
  if (kind > static_cast<uint32_t>(MetaDiskKind::kExternalIndexed)) {
    d.detail = "unknown meta-disk kind " + std::to_string(kind);
    return d;
  }
  g.kind = static_cast<MetaDiskKind>(kind);
  if (load_le<uint32_t>(in, kOffBytesPerBit) != kBytesPerBitmapBit ||
      load_le<uint32_t>(in, kOffAlExtentBytes) != kAlExtentBytes ||
      load_le<uint32_t>(in, kOffBlockBytes) != kMdBlockBytes) {
    d.detail = "unsupported bitmap granularity, activity-log extent or block size";
    return d;
  }
  if ((sb.flags & ~kKnownFlags) != 0) {
    d.detail = "unknown flags " + hex32(sb.flags & ~kKnownFlags);
    return d;
  }
  if (auto v = validate_geometry(g); !v) {
    d.detail = v.error().message;
    return d;
  }
  d.problem = SlotProblem::kNone;
  d.superblock = sb;
  return d;
}

}  // namespace tandem::storage
