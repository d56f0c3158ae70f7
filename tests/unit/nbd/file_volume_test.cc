// FileVolume against a real temporary file: every operation, read-only
// refusal, bounds and open errors.
#include "nbd/file_volume.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <future>

#include "gtest/gtest.h"
#include "temp_dir.h"
#include "wire_helpers.h"

namespace tandem::nbd {
namespace {

using namespace test;

constexpr uint64_t kSize = 1 << 20;

std::string make_file(const TempDir& dir, uint64_t size) {
  const std::string path = dir.file("disk.img");
  std::ofstream(path).close();
  std::filesystem::resize_file(path, size);
  return path;
}

BlockRequest req(BlockOp op, uint64_t offset, uint32_t length, Bytes data = {}) {
  BlockRequest r;
  r.op = op;
  r.offset = offset;
  r.length = length;
  r.data = io(data);
  return r;
}

Bytes read_back(FileVolume& v, uint64_t offset, uint32_t length) {
  BlockRequest r = req(BlockOp::kRead, offset, length);
  EXPECT_EQ(v.execute(r), 0);
  return plain(r.data);
}

TEST(FileVolume, ReportsSizeAndFlags) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ((*v)->size(), kSize);
  EXPECT_FALSE((*v)->read_only());
  EXPECT_TRUE((*v)->flush_covers_all_connections());
  EXPECT_NE((*v)->describe().find("disk.img"), std::string::npos);
}

TEST(FileVolume, WriteThenReadReturnsTheData) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {});
  ASSERT_TRUE(v);
  BlockRequest w = req(BlockOp::kWrite, 12345, 5000, pattern(5000, 9));
  w.fua = true;
  EXPECT_EQ((*v)->execute(w), 0);
  EXPECT_EQ(read_back(**v, 12345, 5000), pattern(5000, 9));
  BlockRequest f = req(BlockOp::kFlush, 0, 0);
  EXPECT_EQ((*v)->execute(f), 0);
}

TEST(FileVolume, WriteZeroesReadsBackAsZeroesInBothModes) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {});
  ASSERT_TRUE(v);
  BlockRequest w = req(BlockOp::kWrite, 0, 65536, pattern(65536, 1));
  ASSERT_EQ((*v)->execute(w), 0);
  BlockRequest z = req(BlockOp::kWriteZeroes, 4096, 8192);
  EXPECT_EQ((*v)->execute(z), 0);
  BlockRequest zn = req(BlockOp::kWriteZeroes, 20000, 3000);
  zn.no_hole = true;
  EXPECT_EQ((*v)->execute(zn), 0);
  const Bytes all = read_back(**v, 0, 65536);
  const Bytes written = pattern(65536, 1);
  for (size_t i = 0; i < all.size(); ++i) {
    const bool zeroed = (i >= 4096 && i < 12288) || (i >= 20000 && i < 23000);
    const std::byte expected = zeroed ? std::byte{0} : written[i];
    ASSERT_EQ(all[i], expected) << "byte " << i;
  }
}

TEST(FileVolume, TrimSucceedsAndLeavesTheRestAlone) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {});
  ASSERT_TRUE(v);
  BlockRequest w = req(BlockOp::kWrite, 0, 16384, pattern(16384, 2));
  ASSERT_EQ((*v)->execute(w), 0);
  BlockRequest t = req(BlockOp::kTrim, 4096, 4096);
  EXPECT_EQ((*v)->execute(t), 0);
  const Bytes written = pattern(16384, 2);
  EXPECT_EQ(read_back(**v, 0, 4096), Bytes(written.begin(), written.begin() + 4096));
  EXPECT_EQ(read_back(**v, 8192, 8192), Bytes(written.begin() + 8192, written.end()));
}

TEST(FileVolume, OutOfRangeRequestsAreEinval) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {});
  ASSERT_TRUE(v);
  BlockRequest r = req(BlockOp::kRead, kSize - 10, 20);
  EXPECT_EQ((*v)->execute(r), EINVAL);
  BlockRequest w = req(BlockOp::kWrite, ~0ULL, 1, Bytes(1));
  EXPECT_EQ((*v)->execute(w), EINVAL);
}

TEST(FileVolume, ReadOnlyVolumeRefusesChanges) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {.read_only = true});
  ASSERT_TRUE(v);
  EXPECT_TRUE((*v)->read_only());
  BlockRequest w = req(BlockOp::kWrite, 0, 4, Bytes(4));
  EXPECT_EQ((*v)->execute(w), EROFS);
  BlockRequest z = req(BlockOp::kWriteZeroes, 0, 4);
  EXPECT_EQ((*v)->execute(z), EROFS);
  EXPECT_EQ(read_back(**v, 0, 4), Bytes(4));
}

TEST(FileVolume, SubmitCompletesOnAWorkerThread) {
  TempDir dir;
  auto v = FileVolume::open(make_file(dir, kSize), {});
  ASSERT_TRUE(v);
  std::promise<std::pair<BlockRequest, int>> done;
  (*v)->submit(req(BlockOp::kWrite, 512, 512, pattern(512, 4)), [&](BlockRequest r, int err) {
    done.set_value({std::move(r), err});
  });
  EXPECT_EQ(done.get_future().get().second, 0);
  std::promise<std::pair<BlockRequest, int>> read_done;
  (*v)->submit(req(BlockOp::kRead, 512, 512), [&](BlockRequest r, int err) {
    read_done.set_value({std::move(r), err});
  });
  auto [r, err] = read_done.get_future().get();
  EXPECT_EQ(err, 0);
  EXPECT_EQ(plain(r.data), pattern(512, 4));
}

TEST(FileVolume, OpenErrorsNameThePath) {
  TempDir dir;
  auto missing = FileVolume::open(dir.file("missing.img"), {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing.img"), std::string::npos);
  EXPECT_EQ(missing.error().sys_errno, ENOENT);
  std::filesystem::create_directory(dir.file("adir"));
  auto directory = FileVolume::open(dir.file("adir"), {.read_only = true});
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message.find("neither a regular file nor a block device"),
            std::string::npos);
}

}  // namespace
}  // namespace tandem::nbd
