// Fuzzes everything that reads metadata bytes from a disk: the superblock
// decoder, the activity-log decoder and the metadata store's open/apply-al
// path over a device image built from the input. Must never crash, leak or
// write outside the device; errors are fine.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/byte_order.h"
#include "common/crc32c.h"
#include "storage/al_transaction.h"
#include "storage/memory_device.h"
#include "storage/metadata_store.h"
#include "storage/superblock.h"

using namespace tandem::storage;
using tandem::store_le;

namespace {

// Random bytes almost never carry a valid checksum; recomputing it lets the
// fuzzer reach the content checks behind it.
void reseal_superblock(std::span<std::byte> slot) {
  store_le<uint32_t>(
      slot, kSuperblockSlotBytes - 4,
      tandem::crc32c(std::span<const std::byte>(slot.data(), kSuperblockSlotBytes - 4)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span<const uint8_t>(data, size));

  // 1. The superblock decoder on the first 4 KiB (zero padded).
  std::vector<std::byte> slot(kSuperblockSlotBytes);
  std::copy_n(input.begin(), std::min(size, slot.size()), slot.begin());
  const bool reseal = size > 0 && (data[size - 1] & 1U) != 0;
  if (reseal) reseal_superblock(slot);
  DecodedSlot d = decode_superblock(slot);
  (void)decode_superblock(input);  // any length

  // 2. The activity-log decoder with the decoded geometry, or a default one.
  Geometry g;
  DeviceUuid uuid{};
  if (d.superblock) {
    g = d.superblock->geometry;
    uuid = d.superblock->device_uuid;
  } else {
    auto def = compute_geometry({}, "fuzz", 64ULL << 20, "fuzz", 64ULL << 20, 61);
    if (!def.ok()) return 0;
    g = *def;
  }
  if (g.al_tx_bytes() <= (1U << 20)) {
    std::vector<std::byte> tx(static_cast<size_t>(g.al_tx_bytes()));
    if (size > kSuperblockSlotBytes) {
      std::copy_n(input.begin() + kSuperblockSlotBytes,
                  std::min(size - kSuperblockSlotBytes, tx.size()), tx.begin());
    }
    if (reseal) {
      store_le<uint32_t>(tx, tx.size() - 4,
                         tandem::crc32c(std::span<const std::byte>(tx.data(), tx.size() - 4)));
    }
    (void)decode_al_transaction(tx, g, uuid);
  }

  // 3. A whole metadata area: the input is laid at the end of an 8 MiB
  //    device (where internal metadata lives), then opened and replayed.
  constexpr uint64_t kDevice = 8ULL << 20;
  MemoryDevice dev("fuzz", kDevice);
  const size_t n = std::min<size_t>(size, 1U << 20);
  const uint64_t start = kDevice - ((n + 4095) / 4096 * 4096);
  std::vector<std::byte> image((n + 4095) / 4096 * 4096);
  // The input's first bytes land in the superblock slots at the very end.
  const size_t lead = std::min(n, static_cast<size_t>(kSuperblockAreaBytes));
  std::copy_n(
      input.begin(), lead,
      image.end() - static_cast<std::ptrdiff_t>(std::min(image.size(), kSuperblockAreaBytes)));
  if (n > lead) {
    std::copy_n(input.begin() + static_cast<std::ptrdiff_t>(lead), n - lead, image.begin());
  }
  if (reseal && image.size() >= kSuperblockAreaBytes) {
    auto slots = std::span<std::byte>(image).last(kSuperblockAreaBytes);
    reseal_superblock(slots.first(kSuperblockSlotBytes));
    reseal_superblock(slots.last(kSuperblockSlotBytes));
  }
  if (!image.empty()) dev.poke(start, image);
  for (MetaDiskKind kind : {MetaDiskKind::kInternal, MetaDiskKind::kExternal}) {
    auto store = MetadataStore::open(dev, {kind, 0}, kDevice);
    if (!store.ok()) continue;
    // Bitmaps of huge claimed sizes cannot pass open() on an 8 MiB device.
    (void)store->read_activity_log();
    (void)store->read_bitmap();
    (void)store->apply_al();
  }
  (void)MetadataStore::probe(dev, {});
  return 0;
}
