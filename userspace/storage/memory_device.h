// An in-memory block device with a volatile write cache and injected
// faults, for tests and the simulator. It models what a real disk may do:
//
// - a completed write sits in the volatile cache until a flush (or it was a
//   FUA write); a power cut loses every write still in the cache;
// - the write in flight when the power fails is torn: only its first
//   `torn_bytes` reach the medium;
// - chosen requests fail with an errno (EIO by default) or complete short.
//
// Storage is sparse (4 KiB pages allocated on first write), so devices of
// many terabytes cost only what is written.
//
// By default every request completes as it is submitted. In deferred mode
// (for a simulator) requests stay in flight until complete() executes them,
// in any order the caller picks, and power_cut() can strike while several
// are in flight.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "storage/block_device.h"

namespace tandem::storage {

struct FaultPlan {
  // Requests (numbered from 0 in submission order, every operation counted)
  // that fail with the given errno.
  std::map<uint64_t, int> fail_requests;
  // Requests that complete with only this many bytes transferred.
  std::map<uint64_t, uint32_t> short_requests;
  // Called for every request with its number; a non-zero return value is the
  // errno it fails with. Lets a test fail e.g. every write to one region.
  std::function<int(const IoRequest&, uint64_t number)> fail_if;
  // The power fails while write number N (counting writes and write-zeroes
  // from 0) is in flight: writes 0..N-1 completed, write N is torn.
  std::optional<uint64_t> power_cut_at_write;
  // Bytes of the torn write that reach the medium (rounded down to 512).
  uint32_t torn_bytes = 0;

  static FaultPlan power_cut(uint64_t at_write, uint32_t torn_bytes) {
    FaultPlan p;
    p.power_cut_at_write = at_write;
    p.torn_bytes = torn_bytes;
    return p;
  }
};

class MemoryDevice final : public BlockDevice {
 public:
  MemoryDevice(std::string name, uint64_t size_bytes, uint32_t alignment = 512,
               uint32_t queue_depth = 64);

  const std::string& name() const override { return name_; }
  uint64_t size_bytes() const override { return size_; }
  uint32_t alignment() const override { return alignment_; }
  uint32_t queue_depth() const override { return depth_; }
  uint32_t outstanding() const override {
    return static_cast<uint32_t>(done_.size() + in_flight_.size());
  }
  Result<void> submit(const IoRequest& request) override;
  Result<void> kick() override { return {}; }
  Result<size_t> reap(std::vector<IoCompletion>& out, uint32_t min_complete) override;

  void set_fault_plan(FaultPlan plan) { plan_ = std::move(plan); }

  // Deferred mode: submit() only queues; complete(i) executes the i-th
  // request in flight (0 = oldest) and makes its completion reapable.
  // reap() never waits in this mode.
  void set_deferred(bool deferred) { deferred_ = deferred; }
  size_t in_flight() const { return in_flight_.size(); }
  void complete(size_t index);
  // Cuts the power now: unflushed writes are lost, the oldest write in
  // flight is torn after `torn_bytes`, the other requests in flight are
  // lost and fail with EIO.
  void power_cut(uint32_t torn_bytes);
  bool powered_off() const { return powered_off_; }
  uint64_t requests_seen() const { return requests_; }
  uint64_t writes_seen() const { return writes_; }

  // A device holding only what reached the medium, as the machine would see
  // it after power returns. Works whether or not the power was cut (then
  // unflushed writes are lost as if it had been).
  std::unique_ptr<MemoryDevice> reboot() const;

  // Direct access for tests: what a read would return / a durable write.
  void peek(uint64_t offset, std::span<std::byte> out) const;
  void poke(uint64_t offset, std::span<const std::byte> data);

 private:
  static constexpr uint64_t kPage = 4096;
  using Page = std::array<std::byte, kPage>;
  // A null page pointer stands for a page of zeroes.
  using PageMap = std::map<uint64_t, std::shared_ptr<Page>>;

  void write_bytes(PageMap& map, const PageMap* below, uint64_t offset,
                   std::span<const std::byte> data, bool zero);
  void read_bytes(uint64_t offset, std::span<std::byte> out) const;
  void execute(const IoRequest& r, IoCompletion& c);
  void tear(const IoRequest& r, uint32_t torn_bytes);

  std::string name_;
  uint64_t size_;
  uint32_t alignment_;
  uint32_t depth_;
  PageMap durable_;  // the medium
  PageMap cache_;    // completed writes not yet flushed (over durable_)
  std::vector<IoCompletion> done_;
  std::vector<IoRequest> in_flight_;
  bool deferred_ = false;
  FaultPlan plan_;
  uint64_t requests_ = 0;
  uint64_t writes_ = 0;
  bool powered_off_ = false;
};

}  // namespace tandem::storage
