// Activity-log transactions: each one records the complete set of hot
// extents after a batch of changes, so recovery needs only the newest
// transaction that is intact. Transactions go round a ring of slots; a torn
// or stale slot is skipped, leaving the previous transaction in force.
// Encoding, decoding and picking the newest are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/superblock.h"

namespace tandem::storage {

struct AlTransaction {
  uint64_t number = 0;        // 1, 2, 3, ... ; slot = (number - 1) % ring slots
  std::vector<uint32_t> hot;  // extents hot after this transaction, ascending
  uint32_t added = 0;         // extents that became hot in it (informational)
  uint32_t evicted = 0;       // extents that went cold in it (informational)
  bool operator==(const AlTransaction&) const = default;
};

// Writes `tx` into `out` (g.al_tx_bytes() long). `tx.hot` must be sorted,
// unique and at most g.al_extents long.
void encode_al_transaction(const AlTransaction& tx, const Geometry& g, const DeviceUuid& uuid,
                           std::span<std::byte> out);

enum class AlSlotState { kValid, kBlank, kInvalid };

struct DecodedAlSlot {
  AlSlotState state = AlSlotState::kBlank;
  std::string detail;
  std::optional<AlTransaction> tx;
};

// Accepts only a transaction of this metadata (same device UUID and
// geometry) whose checksum and contents are valid.
DecodedAlSlot decode_al_transaction(std::span<const std::byte> in, const Geometry& g,
                                    const DeviceUuid& uuid);

// The newest valid transaction among decoded ring slots (none if all are
// blank or invalid).
std::optional<AlTransaction> newest_transaction(std::span<const DecodedAlSlot> slots);

}  // namespace tandem::storage
