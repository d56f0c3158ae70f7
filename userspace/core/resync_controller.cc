#include "core/resync_controller.h"

#include <algorithm>

namespace tandem::core {

ResyncController::ResyncController(const ResyncRate& rate) : rate_(rate) {
  reset();
}

void ResyncController::reset() {
  plan_.assign(std::max<uint32_t>(rate_.c_plan_ahead, 1), 0);
  head_ = 0;
  planned_ = 0;
}

uint64_t ResyncController::per_tick(uint32_t kib_per_second) const {
  return uint64_t{kib_per_second} * 1024 / kTicksPerSecond;
}

uint64_t ResyncController::on_tick(const ResyncTick& tick) {
  if (!dynamic()) return per_tick(rate_.resync_rate_kib);

  const auto steps = static_cast<int64_t>(plan_.size());
  const auto acked = static_cast<int64_t>(tick.acked_bytes);
  // What should be in flight. With nothing in flight and nothing acked (a
  // sync starting, or resuming after a pause) the plan is resync-rate's
  // share on every tick of the horizon, so resync-rate is where the
  // dynamic controller starts, as in DRBD. Otherwise (and without a
  // resync-rate) the fill target, or the data that the rate just observed
  // moves within the delay target.
  int64_t want = 0;
  if (tick.in_flight_bytes == 0 && acked == 0 && rate_.resync_rate_kib > 0) {
    want = static_cast<int64_t>(per_tick(rate_.resync_rate_kib)) * steps;
  } else if (rate_.c_fill_target_sectors > 0) {
    want = int64_t{rate_.c_fill_target_sectors} * 512;
  } else {
    want = acked * int64_t{rate_.c_delay_target};
  }
  const int64_t correction = want - static_cast<int64_t>(tick.in_flight_bytes) - planned_;
  // Spread the correction over the planning horizon (the remainder goes
  // into the slot due now, so that nothing is lost to rounding).
  const int64_t share = correction / steps;
  for (auto& slot : plan_) slot += share;
  plan_[head_] += correction - share * steps;
  planned_ += correction;

  const int64_t due = plan_[head_];
  plan_[head_] = 0;
  planned_ -= due;
  head_ = (head_ + 1) % plan_.size();

  int64_t grant = std::max<int64_t>(acked + due, 0);
  const auto max_grant = static_cast<int64_t>(per_tick(rate_.c_max_rate_kib));
  const auto min_grant = static_cast<int64_t>(per_tick(rate_.c_min_rate_kib));
  if (max_grant > 0) grant = std::min(grant, max_grant);
  if (tick.app_io_bytes > 0 && min_grant > 0) grant = std::min(grant, min_grant);
  grant = std::max(grant, std::min(min_grant, max_grant > 0 ? max_grant : min_grant));
  return static_cast<uint64_t>(grant);
}

}  // namespace tandem::core
