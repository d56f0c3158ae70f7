// /proc/self/mountinfo parsing (kmod-shim/fuse/mount_table.h).
#include "fuse/mount_table.h"

#include <gtest/gtest.h>

namespace tandem::fuse {
namespace {

constexpr const char* kMountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "55 27 0:41 / /run/tandem/r0.fuse rw,nosuid,nodev,relatime - fuse.tandem tandem:r0 "
    "rw,user_id=0,group_id=0\n"
    "56 27 0:42 / /mnt/with\\040space rw shared:5 master:2 - fuse /dev/fuse rw\n"
    "57 27 0:43 / /srv/other rw - tmpfs tmpfs rw\n"
    "garbage line without the separator\n"
    "58 27 0:44 / /x rw -\n";

TEST(MountTable, ParsesFieldsAndEscapes) {
  const auto mounts = parse_mountinfo(kMountinfo);
  ASSERT_EQ(mounts.size(), 4u);  // the two malformed lines are skipped
  EXPECT_EQ(mounts[1].mount_point, "/run/tandem/r0.fuse");
  EXPECT_EQ(mounts[1].fs_type, "fuse.tandem");
  EXPECT_EQ(mounts[1].source, "tandem:r0");
  EXPECT_EQ(mounts[2].mount_point, "/mnt/with space");  // optional fields skipped
  EXPECT_EQ(mounts[2].fs_type, "fuse");
}

TEST(MountTable, FindsOnlyFuseMountsAtThePath) {
  const auto mounts = parse_mountinfo(kMountinfo);
  EXPECT_TRUE(has_fuse_mount(mounts, "/run/tandem/r0.fuse"));
  EXPECT_TRUE(has_fuse_mount(mounts, "/mnt/with space"));
  EXPECT_FALSE(has_fuse_mount(mounts, "/srv/other"));  // tmpfs
  EXPECT_FALSE(has_fuse_mount(mounts, "/run/tandem"));
  EXPECT_FALSE(has_fuse_mount(mounts, "/run/tandem/r0.fuse/r0"));
}

TEST(MountTable, EmptyAndTruncatedInputs) {
  EXPECT_TRUE(parse_mountinfo("").empty());
  EXPECT_TRUE(parse_mountinfo("1 2 3").empty());
  EXPECT_EQ(parse_mountinfo("1 2 0:1 / /a\\04 rw - fuse src rw").at(0).mount_point, "/a\\04");
}

}  // namespace
}  // namespace tandem::fuse
