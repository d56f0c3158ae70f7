// The activity log's in-memory state machine (pure, no I/O). A write may
// only reach the disk once every 4 MiB extent it touches is "hot", i.e.
// recorded in a durable activity-log transaction; after a crash only hot
// extents need resyncing. At most `capacity` (al-extents) extents are hot;
// making room evicts the least recently used idle extent, whose bitmap bits
// must be written back before the transaction that drops it.
//
// Protocol for the runtime:
//   1. begin_write(): kReady -> submit the write now. kNeedsTransaction ->
//      the write waits until transaction durable_after is durable; if
//      transaction_pending(), prepare_transaction(), write back the bitmap
//      pages of the evicted extents, then write the transaction (FUA) and
//      call transaction_durable(). kFull -> retry after some end_write().
//   2. end_write() when the write completed (or was abandoned).
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "storage/al_transaction.h"

namespace tandem::storage {

class ActivityLog {
 public:
  // `extent_count` = extents of the data area; `hot` = recovered hot set
  // (empty after apply-al), `last_number` = number of the newest transaction.
  ActivityLog(uint32_t capacity, uint64_t extent_count, uint64_t last_number,
              std::span<const uint32_t> hot);

  enum class Status { kReady, kNeedsTransaction, kFull };
  struct Admission {
    Status status = Status::kReady;
    uint64_t durable_after = 0;  // transaction that must be durable first
  };
  Admission begin_write(uint64_t offset, uint64_t length);
  void end_write(uint64_t offset, uint64_t length);

  bool transaction_pending() const { return staged_ > 0; }
  struct Prepared {
    AlTransaction tx;
    std::vector<uint32_t> evicted;  // write back their bitmap pages before tx
  };
  Prepared prepare_transaction();
  void transaction_durable(uint64_t number);

  uint64_t durable_number() const { return durable_; }
  uint64_t last_number() const { return prepared_; }
  uint32_t capacity() const { return capacity_; }
  // Extents in the durable or in-flight hot set plus staged ones, ascending.
  std::vector<uint32_t> extents() const;
  bool is_hot(uint32_t extent) const;  // in a durable transaction
  // A transaction that empties the log (clean shutdown); every extent must be
  // idle. Returns the evicted extents like prepare_transaction().
  Prepared prepare_clear();

 private:
  enum class State { kStaged, kWriting, kHot };
  struct Entry {
    State state = State::kHot;
    uint64_t tx = 0;  // transaction that makes it hot
    uint32_t refs = 0;
    uint64_t last_use = 0;
  };
  std::pair<uint32_t, uint32_t> extent_range(uint64_t offset, uint64_t length) const;
  AlTransaction snapshot(uint64_t number, uint32_t added, uint32_t evicted) const;

  uint32_t capacity_;
  uint64_t extent_count_;
  uint64_t prepared_;  // newest transaction number handed out
  uint64_t durable_;   // newest transaction known durable
  uint64_t clock_ = 0;
  uint32_t staged_ = 0;
  uint32_t idle_ = 0;  // entries with refs == 0 (evictable unless staged)
  std::unordered_map<uint32_t, Entry> entries_;
};

}  // namespace tandem::storage
