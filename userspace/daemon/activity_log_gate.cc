#include "daemon/activity_log_gate.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "storage/aligned_buffer.h"
#include "storage/sync_bitmap.h"

namespace tandem::daemon {

ActivityLogGate::ActivityLogGate(EventLoop& loop, AttachedDisk& disk, std::string who, Issue issue,
                                 Fail fail)
    : loop_(loop),
      disk_(disk),
      who_(std::move(who)),
      issue_(std::move(issue)),
      fail_(std::move(fail)) {}

ActivityLogGate::~ActivityLogGate() {
  *alive_ = false;
}

void ActivityLogGate::submit_write(const core::SubmitIo& io) {
  ++counters_.writes;
  if (disk_.range_marked_on_disk(io.offset, io.length)) {
    ++counters_.skipped;
    issue_(io, false);
    return;
  }
  if (!full_.empty()) {
    // Keep the order in which writes wait for room.
    full_.push_back(io);
    return;
  }
  admit(io);
}

void ActivityLogGate::admit(const core::SubmitIo& io) {
  storage::ActivityLog& al = disk_.activity_log();
  const storage::ActivityLog::Admission a = al.begin_write(io.offset, io.length);
  switch (a.status) {
    case storage::ActivityLog::Status::kReady:
      ++held_;
      issue_(io, true);
      return;
    case storage::ActivityLog::Status::kNeedsTransaction:
      waiting_.push_back({io, a.durable_after});
      start_transaction();
      return;
    case storage::ActivityLog::Status::kFull:
      ++counters_.waited_for_room;
      full_.push_back(io);
      return;
  }
}

void ActivityLogGate::start_transaction() {
  storage::ActivityLog& al = disk_.activity_log();
  if (tx_in_flight_ || !al.transaction_pending()) return;
  storage::ActivityLog::Prepared p = al.prepare_transaction();
  if (!p.evicted.empty()) {
    std::vector<uint64_t> pages;
    for (uint32_t e : p.evicted) pages.push_back(storage::SyncBitmap::page_of_extent(e));
    std::sort(pages.begin(), pages.end());
    pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
    if (auto r = disk_.write_bitmap_pages(pages); !r) {
      // The transaction must not drop extents whose bits are not on disk.
      TLOG(LOG_ERR, "%s: %s; writes waiting for activity-log transaction %llu fail", who_.c_str(),
           r.error().message.c_str(), static_cast<unsigned long long>(p.tx.number));
      on_transaction_written(p.tx.number, -EIO);
      return;
    }
  }
  auto buffer = std::make_shared<storage::AlignedBuffer>(disk_.al_transaction_bytes());
  disk_.encode_al_transaction(p.tx, buffer->span());
  tx_in_flight_ = true;
  ++counters_.transactions;
  const uint64_t number = p.tx.number;
  std::weak_ptr<bool> alive = alive_;
  loop_.submit_io(EventLoop::FileOp::kWrite, disk_.md_fd(), buffer->data(),
                  static_cast<uint32_t>(buffer->size()), disk_.al_transaction_offset(number),
                  disk_.md_flushes(), [this, alive, buffer, number](int32_t result) {
                    if (alive.expired()) return;
                    on_transaction_written(number, result);
                  });
}

void ActivityLogGate::on_transaction_written(uint64_t number, int32_t result) {
  tx_in_flight_ = false;
  const bool ok = result >= 0 && static_cast<uint64_t>(result) == disk_.al_transaction_bytes();
  std::vector<Waiting> ready;
  if (ok) {
    disk_.activity_log().transaction_durable(number);
    std::erase_if(waiting_, [&](const Waiting& w) {
      if (w.durable_after > number) return false;
      ready.push_back(w);
      return true;
    });
  } else {
    const int error = result < 0 ? -result : EIO;
    TLOG(LOG_ERR, "%s: writing activity-log transaction %llu on %s failed: %s", who_.c_str(),
         static_cast<unsigned long long>(number), disk_.path().c_str(), std::strerror(error));
    // The extents stay in the log's "being written" state; the next
    // transaction includes them again. The writes waiting for this one fail.
    std::vector<Waiting> failed;
    std::erase_if(waiting_, [&](const Waiting& w) {
      if (w.durable_after > number) return false;
      failed.push_back(w);
      return true;
    });
    for (const Waiting& w : failed) {
      disk_.activity_log().end_write(w.io.offset, w.io.length);
      fail_(w.io.io_id, EIO);
    }
  }
  for (const Waiting& w : ready) {
    ++held_;
    issue_(w.io, true);
  }
  start_transaction();
  if (!ok) retry_full();
}

void ActivityLogGate::write_done(uint64_t offset, uint32_t length, bool al_held) {
  if (!al_held) return;
  disk_.activity_log().end_write(offset, length);
  --held_;
  retry_full();
}

void ActivityLogGate::retry_full() {
  if (retrying_full_) return;
  retrying_full_ = true;
  while (!full_.empty()) {
    const core::SubmitIo io = full_.front();
    const auto a = disk_.activity_log().begin_write(io.offset, io.length);
    if (a.status == storage::ActivityLog::Status::kFull) break;
    full_.pop_front();
    if (a.status == storage::ActivityLog::Status::kReady) {
      ++held_;
      issue_(io, true);
    } else {
      waiting_.push_back({io, a.durable_after});
    }
  }
  retrying_full_ = false;
  start_transaction();
}

}  // namespace tandem::daemon
