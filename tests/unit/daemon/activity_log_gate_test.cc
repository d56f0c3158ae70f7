// The daemon's activity-log path with real files: writes wait for a durable
// transaction only when their extent is cold, a crash (the objects simply
// dropped without an orderly close, as kill -9 does) brings the hot extents
// back as out of sync, an orderly close does not, and set bits outside hot
// extents reach the disk at once.
#include "daemon/activity_log_gate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "storage/md_geometry.h"
#include "storage/metadata_store.h"
#include "storage/uring_backing.h"

namespace tandem::daemon {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t kFileBytes = 64ULL << 20;
constexpr uint64_t kExtent = 4ULL << 20;

class ActivityLogGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-algate-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/disk.img";
    std::ofstream(path_).close();
    std::filesystem::resize_file(path_, kFileBytes);
    create_md(/*al_extents=*/7);
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    volume_.disk = path_;
    volume_.meta_disk.internal = true;
  }
  void TearDown() override {
    gate_.reset();
    disk_.reset();
    std::filesystem::remove_all(dir_);
  }

  void create_md(uint32_t al_extents) {
    storage::UringOptions o;
    o.direct = storage::DirectIo::kOff;
    auto dev = storage::UringBacking::open(path_, o);
    ASSERT_TRUE(dev.ok()) << dev.error().message;
    auto g = storage::compute_geometry({}, path_, kFileBytes, path_, kFileBytes, al_extents);
    ASSERT_TRUE(g.ok()) << g.error().message;
    storage::Superblock sb;
    sb.flags = storage::kFlagAlClean;
    sb.gi.current = storage::kGiJustCreated;
    sb.device_uuid.fill(7);
    auto store = storage::MetadataStore::create(**dev, *g, sb);
    ASSERT_TRUE(store.ok()) << store.error().message;
  }

  void open_disk() {
    gate_.reset();
    disk_.reset();
    auto d = AttachedDisk::open("r0", volume_, true);
    ASSERT_TRUE(d.ok()) << d.error().message;
    disk_ = std::move(d).value();
    gate_ = std::make_unique<ActivityLogGate>(
        *loop_, *disk_, "resource r0",
        [this](const core::SubmitIo& io, bool held) {
          issued_.push_back({io, held});
        },
        [this](uint64_t id, int error) {
          failed_.push_back({id, error});
        });
  }

  core::SubmitIo write_at(uint64_t offset, uint32_t length) {
    core::SubmitIo io;
    io.io_id = next_id_++;
    io.kind = core::LocalIoKind::kWrite;
    io.offset = offset;
    io.length = length;
    return io;
  }

  // Runs the loop until `n` writes were issued (at most 2 s).
  bool wait_issued(size_t n) {
    const auto deadline = Clock::now() + 2s;
    while (issued_.size() < n && Clock::now() < deadline) {
      EXPECT_TRUE(loop_->run_once(20ms).ok());
    }
    return issued_.size() >= n;
  }

  // The write completed on the device.
  void complete_all() {
    for (const auto& [io, held] : issued_) gate_->write_done(io.offset, io.length, held);
    issued_.clear();
  }

  std::string dir_, path_;
  config::ResolvedVolume volume_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<AttachedDisk> disk_;
  std::unique_ptr<ActivityLogGate> gate_;
  std::vector<std::pair<core::SubmitIo, bool>> issued_;
  std::vector<std::pair<uint64_t, int>> failed_;
  uint64_t next_id_ = 1;
};

TEST_F(ActivityLogGateTest, ColdExtentWaitsForOneTransactionHotExtentGoesAtOnce) {
  open_disk();
  EXPECT_FALSE(disk_->unclean());
  EXPECT_EQ(disk_->superblock().flags & storage::kFlagAlClean, 0u)
      << "al-clean must be cleared while attached, or a crash goes unnoticed";
  gate_->submit_write(write_at(kExtent, 4096));
  gate_->submit_write(write_at(kExtent + 8192, 4096));  // same extent, same transaction
  EXPECT_TRUE(issued_.empty()) << "a write to a cold extent went out before its transaction";
  ASSERT_TRUE(wait_issued(2));
  EXPECT_TRUE(issued_[0].second && issued_[1].second);
  EXPECT_EQ(gate_->counters().transactions, 1u);
  complete_all();
  gate_->submit_write(write_at(kExtent + 65536, 4096));
  EXPECT_EQ(issued_.size(), 1u) << "a write to a hot extent waited";
  EXPECT_EQ(gate_->counters().transactions, 1u);
  complete_all();
  EXPECT_TRUE(gate_->idle());
}

TEST_F(ActivityLogGateTest, CrashBringsHotExtentsBackAsOutOfSync) {
  open_disk();
  gate_->submit_write(write_at(2 * kExtent + 4096, 4096));
  gate_->submit_write(write_at(9 * kExtent, 8192));
  ASSERT_TRUE(wait_issued(2));
  complete_all();
  // kill -9: nothing orderly happens; the objects just go away.
  open_disk();
  EXPECT_TRUE(disk_->unclean());
  EXPECT_EQ(disk_->recovered_extents(), (std::vector<uint32_t>{2, 9}));
  const auto ranges = disk_->out_of_sync_ranges(kFileBytes);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], (std::pair<uint64_t, uint64_t>{2 * kExtent, kExtent}));
  EXPECT_EQ(ranges[1], (std::pair<uint64_t, uint64_t>{9 * kExtent, kExtent}));
}

TEST_F(ActivityLogGateTest, OrderlyCloseIsCleanAndForgetsTheLog) {
  open_disk();
  gate_->submit_write(write_at(3 * kExtent, 4096));
  ASSERT_TRUE(wait_issued(1));
  complete_all();
  ASSERT_TRUE(disk_->close_clean().ok());
  open_disk();
  EXPECT_FALSE(disk_->unclean());
  EXPECT_TRUE(disk_->out_of_sync_ranges(kFileBytes).empty());
}

TEST_F(ActivityLogGateTest, UncleanStaysUncleanUntilResolvedWithThePeer) {
  open_disk();
  gate_->submit_write(write_at(0, 4096));
  ASSERT_TRUE(wait_issued(1));
  complete_all();
  open_disk();  // crash
  ASSERT_TRUE(disk_->unclean());
  ASSERT_TRUE(disk_->close_clean().ok());  // stopped before it ever connected
  open_disk();
  EXPECT_TRUE(disk_->unclean()) << "the crash was forgotten before any resync";
  EXPECT_EQ(disk_->out_of_sync_ranges(kFileBytes).size(), 1u);
  disk_->mark_recovered();  // the sync handshake ran
  ASSERT_TRUE(disk_->close_clean().ok());
  open_disk();
  EXPECT_FALSE(disk_->unclean());
}

TEST_F(ActivityLogGateTest, BitsOutsideHotExtentsAreWrittenAtOnce) {
  open_disk();
  disk_->mark_out_of_sync(5 * kExtent, 12288);  // extent 5 is cold
  EXPECT_TRUE(disk_->bitmap_write_due());
  ASSERT_TRUE(disk_->write_dirty_bitmap().ok());
  EXPECT_FALSE(disk_->bitmap_write_due());
  // A write into a hot extent whose bits are set needs no immediate write.
  gate_->submit_write(write_at(kExtent, 4096));
  ASSERT_TRUE(wait_issued(1));
  disk_->mark_out_of_sync(kExtent, 4096);
  EXPECT_FALSE(disk_->bitmap_write_due());
  complete_all();
  open_disk();  // crash
  const auto ranges = disk_->out_of_sync_ranges(kFileBytes);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], (std::pair<uint64_t, uint64_t>{kExtent, kExtent}));  // hot extent
  EXPECT_EQ(ranges[1], (std::pair<uint64_t, uint64_t>{5 * kExtent, 12288}));
}

TEST_F(ActivityLogGateTest, UnflushedBitmapWritesClearBitsButNeverVouchForSetOnes) {
  open_disk();
  disk_->mark_out_of_sync(5 * kExtent, 2 * 4096);  // cold: written (flushed) at once
  ASSERT_TRUE(disk_->write_dirty_bitmap().ok());
  EXPECT_TRUE(disk_->range_marked_on_disk(5 * kExtent, 2 * 4096));
  // A hot extent's bit (no write due), and one cleared bit.
  gate_->submit_write(write_at(kExtent, 4096));
  ASSERT_TRUE(wait_issued(1));
  complete_all();
  disk_->mark_out_of_sync(kExtent, 4096);
  disk_->mark_in_sync(5 * kExtent, 4096);
  ASSERT_FALSE(disk_->bitmap_write_due());
  ASSERT_TRUE(disk_->write_dirty_bitmap_unflushed().ok());
  EXPECT_FALSE(disk_->bitmap_dirty());
  // The set bit went out without a flush: writes there must still go
  // through the activity log. The cleared bit is believed at once.
  EXPECT_FALSE(disk_->range_marked_on_disk(kExtent, 4096));
  EXPECT_FALSE(disk_->range_marked_on_disk(5 * kExtent, 4096));
  EXPECT_TRUE(disk_->range_marked_on_disk(5 * kExtent + 4096, 4096));
  // Both reached the file (a crash without power loss keeps them).
  open_disk();
  const auto ranges = disk_->out_of_sync_ranges(kFileBytes);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], (std::pair<uint64_t, uint64_t>{kExtent, kExtent}));  // hot extent
  EXPECT_EQ(ranges[1], (std::pair<uint64_t, uint64_t>{5 * kExtent + 4096, 4096}));
}

TEST_F(ActivityLogGateTest, WritesToRangesMarkedOnDiskSkipTheLog) {
  open_disk();
  disk_->mark_out_of_sync(6 * kExtent, kExtent);
  // Not yet on disk: the log still protects the write.
  gate_->submit_write(write_at(6 * kExtent, 4096));
  ASSERT_TRUE(wait_issued(1));
  EXPECT_TRUE(issued_[0].second);
  complete_all();
  ASSERT_TRUE(disk_->write_dirty_bitmap().ok());
  gate_->submit_write(write_at(6 * kExtent + 65536, 65536));
  ASSERT_EQ(issued_.size(), 1u);
  EXPECT_FALSE(issued_[0].second);
  EXPECT_EQ(gate_->counters().skipped, 1u);
  complete_all();
  // A resync clearing part of the same bitmap page (not yet written back)
  // does not make the rest of the page need the log.
  disk_->mark_in_sync(6 * kExtent, 65536);
  gate_->submit_write(write_at(6 * kExtent + 131072, 4096));
  ASSERT_EQ(issued_.size(), 1u);
  EXPECT_FALSE(issued_[0].second);
  complete_all();
  // The cleared part is no longer covered once it is on disk... and not
  // before either: the on-disk bits are what counts.
  gate_->submit_write(write_at(6 * kExtent, 4096));
  ASSERT_EQ(issued_.size(), 1u);
  EXPECT_FALSE(issued_[0].second);
  complete_all();
  ASSERT_TRUE(disk_->write_dirty_bitmap().ok());
  gate_->submit_write(write_at(6 * kExtent, 4096));
  ASSERT_TRUE(wait_issued(1));
  EXPECT_TRUE(issued_[0].second) << "a write to an in-sync range skipped the log";
  complete_all();
}

TEST_F(ActivityLogGateTest, FullLogMakesWritesWaitForRoomNotFail) {
  open_disk();  // 7 extents of log
  for (uint64_t e = 0; e < 7; ++e) gate_->submit_write(write_at(e * kExtent, 4096));
  ASSERT_TRUE(wait_issued(7));
  auto held = issued_;
  issued_.clear();
  gate_->submit_write(write_at(10 * kExtent, 4096));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_->run_once(10ms).ok());
  EXPECT_TRUE(issued_.empty()) << "an 8th extent became hot while 7 were busy";
  EXPECT_EQ(gate_->counters().waited_for_room, 1u);
  gate_->write_done(held[3].first.offset, held[3].first.length, held[3].second);
  ASSERT_TRUE(wait_issued(1));
  EXPECT_EQ(issued_[0].first.offset, 10 * kExtent);
  EXPECT_TRUE(failed_.empty());
  for (size_t i = 0; i < held.size(); ++i) {
    if (i != 3) gate_->write_done(held[i].first.offset, held[i].first.length, held[i].second);
  }
  complete_all();
  EXPECT_TRUE(gate_->idle());
  // Extent 3 was evicted, the others are hot: a crash resyncs exactly those.
  open_disk();
  EXPECT_EQ(disk_->recovered_extents(), (std::vector<uint32_t>{0, 1, 2, 4, 5, 6, 10}));
}

}  // namespace
}  // namespace tandem::daemon
