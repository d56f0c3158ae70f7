// The simulator's model of what the application was promised. Every write
// stamps each of its sectors with its own id, so the id found in a sector
// says which write put it there. A sector may hold write W only when no
// acknowledged write to that sector was submitted after W had already
// completed (W is then strictly older than data the application was told
// is safe). Concurrent writes, torn in-flight writes and failed writes are
// all covered by that one rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace tandem::sim {

inline constexpr uint32_t kSector = 512;
inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

class WriteOracle {
 public:
  explicit WriteOracle(uint64_t disk_bytes) : max_acked_submit_(disk_bytes / kSector, 0) {}

  // A new application write: returns its id; fill its buffer with stamp().
  uint64_t begin_write(uint64_t offset, uint32_t length, uint64_t now);
  // The application saw the write complete (error 0: acknowledged).
  void end_write(uint64_t id, int error, uint64_t now);
  static void stamp(uint64_t id, uint64_t offset, std::span<std::byte> buffer);
  static uint64_t sector_id(std::span<const std::byte> disk, uint64_t sector);

  // "" when every sector of [offset, offset+length) of `data` (which holds
  // that range) is allowed given the acknowledgements in `floor` (a
  // snapshot of floor_snapshot(), or the current state when empty).
  std::string check_range(std::span<const std::byte> data, uint64_t offset,
                          const std::vector<uint64_t>& floor) const;
  std::string check_disk(std::span<const std::byte> disk) const;
  // One sector of a whole disk image against the current acknowledgements.
  std::string check_sector(std::span<const std::byte> disk, uint64_t sector) const {
    return verdict(sector, sector_id(disk, sector), max_acked_submit_[sector]);
  }
  std::vector<uint64_t> floor_snapshot(uint64_t offset, uint32_t length) const;
  // The same into `out`, reusing its storage.
  void floor_snapshot(uint64_t offset, uint32_t length, std::vector<uint64_t>& out) const;

  // The administrator declared `disk` the data of record (a stale node was
  // promoted): acknowledgements it lacks are given up on purpose.
  void rebase(std::span<const std::byte> disk);
  // The application's promise is withdrawn for these acknowledged writes
  // (protocol A: a primary lost power while they were still on the way to
  // the peer). They may now be found or not.
  void forgive(std::span<const uint64_t> ids);
  // Forgives every acknowledged write that `disk` lacks (a primary lost
  // power under protocol A or B and its peer takes over without them).
  // Returns how many.
  size_t forgive_missing(std::span<const std::byte> disk);
  bool acknowledged(uint64_t id) const { return id < writes_.size() && writes_[id].acked; }
  uint64_t acknowledged() const { return acknowledged_; }

 private:
  struct WriteRecord {
    uint64_t offset = 0;
    uint32_t length = 0;
    uint64_t submitted = 0;
    uint64_t completed = kNever;
    bool acked = false;
    uint64_t ack_serial = 0;  // order of acknowledgement, for forgive()
  };
  std::string verdict(uint64_t sector, uint64_t found, uint64_t floor) const;

  std::vector<WriteRecord> writes_{WriteRecord{}};  // id 0: the initial zeroes
  std::vector<uint64_t> max_acked_submit_;          // per sector
  std::vector<uint64_t> rebase_floor_;              // per sector, set by rebase()
  uint64_t rebase_serial_ = 0;  // acknowledgements up to this one are in rebase_floor_
  uint64_t acknowledged_ = 0;
};

}  // namespace tandem::sim
