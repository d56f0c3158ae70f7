// How much resync (or online verify) data the source may issue, decided
// once per controller tick. Pure: the caller reports what happened since
// the previous tick; time exists only as the count of ticks.
//
// Fixed rate (c_plan_ahead 0): resync_rate_kib per second, spread over the
// ticks. Dynamic (c_plan_ahead > 0), in the spirit of DRBD's controller:
// it keeps a plan of corrections spread over the next c_plan_ahead ticks
// that steers the amount of resync data in flight towards a target: the
// fill target (c_fill_target_sectors) or, when that is 0, what the current
// rate delivers in c_delay_target. Each tick's grant is what arrived since
// the previous tick plus this tick's share of the plan, clamped to
// c_max_rate_kib, and to c_min_rate_kib while the application does I/O
// (c_min_rate_kib 0: never yield). The grant is at least c_min_rate_kib's
// share. With nothing in flight and nothing acked the plan starts from
// resync_rate_kib (DRBD's initial rate); with c_min_rate_kib 0 and no fill
// target that start is what gets a sync going, so it needs a
// resync_rate_kib above 0 (the config accepts no less than 1 KiB/s).
#pragma once

#include <cstdint>
#include <vector>

#include "core/replication_types.h"

namespace tandem::core {

struct ResyncTick {
  uint64_t acked_bytes = 0;      // resync bytes completed by the peer since the previous tick
  uint64_t in_flight_bytes = 0;  // issued and not completed yet
  uint64_t app_io_bytes = 0;     // application reads and writes since the previous tick
};

class ResyncController {
 public:
  // The core's resync timer period (TimerId::kResync).
  static constexpr uint32_t kTickMs = 100;
  static constexpr uint32_t kTicksPerSecond = 1000 / kTickMs;

  explicit ResyncController(const ResyncRate& rate);

  // No limit at all: no ticks are needed.
  bool unlimited() const { return rate_.c_plan_ahead == 0 && rate_.resync_rate_kib == 0; }
  bool dynamic() const { return rate_.c_plan_ahead > 0; }
  // A new sync or verify run starts: forget the plan.
  void reset();
  // Bytes the source may issue until the next tick.
  uint64_t on_tick(const ResyncTick& tick);

 private:
  uint64_t per_tick(uint32_t kib_per_second) const;

  ResyncRate rate_;
  std::vector<int64_t> plan_;  // corrections for the next ticks; plan_[head_] is due now
  size_t head_ = 0;
  int64_t planned_ = 0;  // sum of plan_
};

}  // namespace tandem::core
