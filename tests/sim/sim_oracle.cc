#include "sim_oracle.h"

#include <algorithm>
#include <cstring>

namespace tandem::sim {

uint64_t WriteOracle::begin_write(uint64_t offset, uint32_t length, uint64_t now) {
  writes_.push_back(WriteRecord{offset, length, now, kNever});
  return writes_.size() - 1;
}

void WriteOracle::end_write(uint64_t id, int error, uint64_t now) {
  WriteRecord& w = writes_.at(id);
  w.completed = now;
  if (error != 0) return;
  ++acknowledged_;
  w.acked = true;
  w.ack_serial = acknowledged_;
  for (uint64_t s = w.offset / kSector; s < (w.offset + w.length) / kSector; ++s) {
    if (w.submitted > max_acked_submit_[s]) max_acked_submit_[s] = w.submitted;
  }
}

void WriteOracle::stamp(uint64_t id, uint64_t offset, std::span<std::byte> buffer) {
  for (size_t pos = 0; pos + kSector <= buffer.size(); pos += kSector) {
    const uint64_t sector = (offset + pos) / kSector;
    std::memcpy(buffer.data() + pos, &id, sizeof id);
    std::memcpy(buffer.data() + pos + 8, &sector, sizeof sector);
    // The rest of the sector: a pattern of the write and the sector, so that
    // replicas compared byte for byte differ wherever their writes differ.
    const uint64_t word = (id * 0x9E3779B97F4A7C15ULL) ^ (sector * 0xC2B2AE3D27D4EB4FULL);
    for (size_t i = 16; i < kSector; i += sizeof word) {
      std::memcpy(buffer.data() + pos + i, &word, sizeof word);
    }
  }
}

uint64_t WriteOracle::sector_id(std::span<const std::byte> disk, uint64_t sector) {
  uint64_t id = 0;
  std::memcpy(&id, disk.data() + sector * kSector, sizeof id);
  return id;
}

std::string WriteOracle::verdict(uint64_t sector, uint64_t found, uint64_t floor) const {
  if (found >= writes_.size()) {
    return "sector " + std::to_string(sector) + " holds garbage (id " + std::to_string(found) + ")";
  }
  if (floor == 0) return "";
  if (found == 0 || writes_[found].completed < floor) {
    return "sector " + std::to_string(sector) + " holds write #" + std::to_string(found) +
           " but an acknowledged write submitted at t" + std::to_string(floor) +
           " is newer (lost acknowledged write)";
  }
  return "";
}

std::string WriteOracle::check_range(std::span<const std::byte> data, uint64_t offset,
                                     const std::vector<uint64_t>& floor) const {
  for (uint64_t i = 0; i < data.size() / kSector; ++i) {
    const uint64_t sector = offset / kSector + i;
    const uint64_t f = floor.empty() ? max_acked_submit_[sector] : floor[i];
    std::string v = verdict(sector, sector_id(data, i), f);
    if (!v.empty()) return v;
  }
  return "";
}

std::string WriteOracle::check_disk(std::span<const std::byte> disk) const {
  return check_range(disk, 0, {});
}

std::vector<uint64_t> WriteOracle::floor_snapshot(uint64_t offset, uint32_t length) const {
  return {max_acked_submit_.begin() + static_cast<std::ptrdiff_t>(offset / kSector),
          max_acked_submit_.begin() + static_cast<std::ptrdiff_t>((offset + length) / kSector)};
}

void WriteOracle::floor_snapshot(uint64_t offset, uint32_t length,
                                 std::vector<uint64_t>& out) const {
  out.assign(max_acked_submit_.begin() + static_cast<std::ptrdiff_t>(offset / kSector),
             max_acked_submit_.begin() + static_cast<std::ptrdiff_t>((offset + length) / kSector));
}

void WriteOracle::rebase(std::span<const std::byte> disk) {
  // What the chosen disk holds becomes the floor: each sector's write counts
  // as acknowledged at its submission, older ones may no longer reappear.
  for (uint64_t s = 0; s < max_acked_submit_.size(); ++s) {
    const uint64_t id = sector_id(disk, s);
    max_acked_submit_[s] = id < writes_.size() ? writes_[id].submitted : 0;
  }
  rebase_floor_ = max_acked_submit_;
  rebase_serial_ = acknowledged_;
}

size_t WriteOracle::forgive_missing(std::span<const std::byte> disk) {
  std::vector<uint64_t> missing;
  for (uint64_t id = 1; id < writes_.size(); ++id) {
    const WriteRecord& w = writes_[id];
    if (!w.acked || w.ack_serial <= rebase_serial_) continue;
    for (uint64_t s = w.offset / kSector; s < (w.offset + w.length) / kSector; ++s) {
      if (!verdict(s, sector_id(disk, s), w.submitted).empty()) {
        missing.push_back(id);
        break;
      }
    }
  }
  forgive(missing);
  return missing.size();
}

void WriteOracle::forgive(std::span<const uint64_t> ids) {
  bool any = false;
  for (uint64_t id : ids) {
    if (id < writes_.size() && writes_[id].acked) {
      writes_[id].acked = false;
      any = true;
    }
  }
  if (!any) return;
  // Recomputed from the last rebase and the acknowledgements since.
  if (rebase_floor_.empty()) {
    std::fill(max_acked_submit_.begin(), max_acked_submit_.end(), 0);
  } else {
    max_acked_submit_ = rebase_floor_;
  }
  for (const WriteRecord& w : writes_) {
    if (!w.acked || w.ack_serial <= rebase_serial_) continue;
    for (uint64_t s = w.offset / kSector; s < (w.offset + w.length) / kSector; ++s) {
      max_acked_submit_[s] = std::max(max_acked_submit_[s], w.submitted);
    }
  }
}

}  // namespace tandem::sim
