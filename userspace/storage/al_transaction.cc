#include "storage/al_transaction.h"

#include <algorithm>
#include <cstring>

#include "common/byte_order.h"
#include "common/crc32c.h"

namespace tandem::storage {
namespace {

constexpr char kMagic[8] = {'T', 'A', 'N', 'D', 'E', 'M', 'A', 'L'};
constexpr uint32_t kAlVersion = 1;

enum : size_t {
  kOffMagic = 0,
  kOffVersion = 8,
  kOffTxBlocks = 12,
  kOffNumber = 16,
  kOffDeviceUuid = 24,
  kOffAlExtents = 40,
  kOffHotCount = 44,
  kOffAdded = 48,
  kOffEvicted = 52,
  kOffHot = kAlTxHeaderBytes,
};

}  // namespace

void encode_al_transaction(const AlTransaction& tx, const Geometry& g, const DeviceUuid& uuid,
                           std::span<std::byte> out) {
  const size_t size = static_cast<size_t>(g.al_tx_bytes());
  std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size), std::byte{0});
  std::memcpy(out.data() + kOffMagic, kMagic, sizeof kMagic);
  store_le<uint32_t>(out, kOffVersion, kAlVersion);
  store_le<uint32_t>(out, kOffTxBlocks, g.al_tx_blocks);
  store_le<uint64_t>(out, kOffNumber, tx.number);
  std::memcpy(out.data() + kOffDeviceUuid, uuid.data(), uuid.size());
  store_le<uint32_t>(out, kOffAlExtents, g.al_extents);
  store_le<uint32_t>(out, kOffHotCount, static_cast<uint32_t>(tx.hot.size()));
  store_le<uint32_t>(out, kOffAdded, tx.added);
  store_le<uint32_t>(out, kOffEvicted, tx.evicted);
  for (size_t i = 0; i < tx.hot.size(); ++i) {
    store_le<uint32_t>(out, kOffHot + 4 * i, tx.hot[i]);
  }
  const size_t crc_at = size - kAlTxTrailerBytes;
  store_le<uint32_t>(out, crc_at, crc32c(std::span<const std::byte>(out.data(), crc_at)));
}

DecodedAlSlot decode_al_transaction(std::span<const std::byte> in, const Geometry& g,
                                    const DeviceUuid& uuid) {
  DecodedAlSlot d;
  const uint64_t size = g.al_tx_bytes();
  if (in.size() != size || size < kAlTxHeaderBytes + kAlTxTrailerBytes) {
    d.state = AlSlotState::kInvalid;
    d.detail = "transaction buffer is " + std::to_string(in.size()) + " bytes, expected " +
               std::to_string(size);
    return d;
  }
  if (std::all_of(in.begin(), in.end(), [](std::byte b) { return b == std::byte{0}; })) {
    d.state = AlSlotState::kBlank;
    return d;
  }
  d.state = AlSlotState::kInvalid;
  if (std::memcmp(in.data() + kOffMagic, kMagic, sizeof kMagic) != 0) {
    d.detail = "no activity-log magic";
    return d;
  }
  const size_t crc_at = static_cast<size_t>(size - kAlTxTrailerBytes);
  if (load_le<uint32_t>(in, crc_at) != crc32c(in.first(crc_at))) {
    d.detail = "checksum mismatch (torn or corrupted transaction)";
    return d;
  }
  if (load_le<uint32_t>(in, kOffVersion) != kAlVersion) {
    d.detail = "unsupported activity-log version";
    return d;
  }
  if (std::memcmp(in.data() + kOffDeviceUuid, uuid.data(), uuid.size()) != 0) {
    d.detail = "transaction belongs to other (older) metadata";
    return d;
  }
  if (load_le<uint32_t>(in, kOffTxBlocks) != g.al_tx_blocks ||
      load_le<uint32_t>(in, kOffAlExtents) != g.al_extents) {
    d.detail = "transaction geometry does not match the superblock";
    return d;
  }
  AlTransaction tx;
  tx.number = load_le<uint64_t>(in, kOffNumber);
  const auto count = load_le<uint32_t>(in, kOffHotCount);
  tx.added = load_le<uint32_t>(in, kOffAdded);
  tx.evicted = load_le<uint32_t>(in, kOffEvicted);
  if (tx.number == 0) {
    d.detail = "transaction number 0";
    return d;
  }
  if (count > g.al_extents) {
    d.detail = "hot extent count " + std::to_string(count) + " exceeds al-extents " +
               std::to_string(g.al_extents);
    return d;
  }
  const uint64_t extents = g.al_extent_count();
  tx.hot.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const auto e = load_le<uint32_t>(in, kOffHot + 4 * size_t{i});
    if (e >= extents || (!tx.hot.empty() && e <= tx.hot.back())) {
      d.detail = "hot extent list is out of range or not strictly ascending";
      return d;
    }
    tx.hot.push_back(e);
  }
  d.state = AlSlotState::kValid;
  d.tx = std::move(tx);
  return d;
}

std::optional<AlTransaction> newest_transaction(std::span<const DecodedAlSlot> slots) {
  const AlTransaction* best = nullptr;
  for (const DecodedAlSlot& s : slots) {
    if (s.state == AlSlotState::kValid && s.tx &&
        (best == nullptr || s.tx->number > best->number)) {
      best = &*s.tx;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

}  // namespace tandem::storage
