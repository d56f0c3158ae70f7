// Drives the real tandemadm binary: metadata verbs on sparse files named by
// a small configuration in a temporary directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/memory_device.h"
#include "storage/metadata_store.h"
#include "storage/uring_backing.h"

namespace tandem::storage {
namespace {

namespace fs = std::filesystem;

struct AdmRun {
  int rc = -1;
  std::string out;  // stdout and stderr
};

class TandemadmMd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("tandemadm-md-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    sparse("disk0", 64ULL << 20);
    sparse("tiny", 100 * 1024);
    sparse("disk1", 10ULL << 30);
    sparse("mddev", 512ULL << 20);
    std::ofstream conf(dir_ / "t.conf");
    const std::string d = dir_.string();
    conf << "resource r0 {\n"
            "  on alpha { node-id 0; device /dev/drbd0; disk "
         << d
         << "/disk0; meta-disk internal; address 10.0.0.1:7789; }\n"
            "  on beta { node-id 1; device /dev/drbd0; disk /dev/sdx; meta-disk internal; "
            "address 10.0.0.2:7789; }\n"
            "}\n"
            "resource small {\n"
            "  on alpha { device /dev/drbd1; disk "
         << d
         << "/tiny; meta-disk internal; address 10.0.0.1:7790; }\n"
            "  on beta { device /dev/drbd1; disk /dev/sdy; meta-disk internal; address "
            "10.0.0.2:7790; }\n"
            "}\n"
            "resource ext {\n"
            "  disk { al-extents 3833; }\n"
            "  on alpha { device /dev/drbd2; disk "
         << d << "/disk1; meta-disk " << d
         << "/mddev [2]; address 10.0.0.1:7791; }\n"
            "  on beta { device /dev/drbd2; disk /dev/sdz; meta-disk /dev/sdw [2]; address "
            "10.0.0.2:7791; }\n"
            "}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void sparse(const std::string& name, uint64_t size) {
    const int fd = ::open((dir_ / name).c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    ::close(fd);
  }

  AdmRun adm(const std::string& args) {
    const std::string cmd = std::string(TANDEMADM_BIN) + " -c " + (dir_ / "t.conf").string() +
                            " --node alpha " + args + " 2>&1 </dev/null";
    AdmRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  std::string file_bytes(const std::string& name) {
    std::string out;
    const int fd = ::open((dir_ / name).c_str(), O_RDONLY);
    if (fd < 0) return out;
    std::vector<char> buf(1 << 20);
    ssize_t n = 0;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0)
      out.append(buf.data(), static_cast<size_t>(n));
    ::close(fd);
    return out;
  }

  fs::path dir_;
};

TEST_F(TandemadmMd, CreateRefusesToOverwriteWithoutForce) {
  AdmRun c = adm("create-md r0");
  ASSERT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("created internal metadata"), std::string::npos) << c.out;
  const std::string before = file_bytes("disk0");
  AdmRun again = adm("create-md r0");
  EXPECT_EQ(again.rc, 1);
  EXPECT_NE(again.out.find("already holds tandem metadata"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("--force"), std::string::npos);
  EXPECT_EQ(file_bytes("disk0"), before);  // nothing written
  AdmRun forced = adm("create-md --force r0");
  EXPECT_EQ(forced.rc, 0) << forced.out;
  EXPECT_NE(file_bytes("disk0"), before);  // a new device UUID at least
}

TEST_F(TandemadmMd, DumpAndShowGiReadWhatCreateWrote) {
  ASSERT_EQ(adm("create-md r0").rc, 0);
  AdmRun gi = adm("show-gi r0");
  ASSERT_EQ(gi.rc, 0) << gi.out;
  EXPECT_NE(gi.out.find("r0/0: 0000000000000004:0000000000000000:0000000000000000:"
                        "0000000000000000:0:0:0:0:0:1"),
            std::string::npos)
      << gi.out;
  AdmRun dump = adm("dump-md r0/0");
  ASSERT_EQ(dump.rc, 0) << dump.out;
  EXPECT_NE(dump.out.find("node-id 0;"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("flags al-clean;"), std::string::npos);
  EXPECT_NE(dump.out.find("al-extents 1237;"), std::string::npos);
  EXPECT_NE(dump.out.find("usable-size 67031040;"), std::string::npos);
}

TEST_F(TandemadmMd, CorruptMetadataIsNamedAndNothingIsWritten) {
  ASSERT_EQ(adm("create-md r0").rc, 0);
  {
    // Damage the only written superblock slot.
    std::fstream f(dir_ / "disk0", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>((64ULL << 20) - 4096 + 100));
    f.write("garbage", 7);
  }
  const std::string before = file_bytes("disk0");
  for (const char* verb : {"dump-md", "show-gi", "apply-al"}) {
    AdmRun r = adm(std::string(verb) + " r0");
    EXPECT_EQ(r.rc, 1) << verb;
    EXPECT_NE(r.out.find(dir_.string() + "/disk0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("checksum mismatch"), std::string::npos) << r.out;
  }
  EXPECT_EQ(file_bytes("disk0"), before);
  AdmRun refused = adm("create-md r0");
  EXPECT_EQ(refused.rc, 1);
  EXPECT_NE(refused.out.find("damaged tandem metadata"), std::string::npos) << refused.out;
}

TEST_F(TandemadmMd, TooSmallDeviceExplainsTheSpaceNeeded) {
  AdmRun r = adm("create-md small");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("needs 76 KiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("140 KiB in all"), std::string::npos) << r.out;
}

TEST_F(TandemadmMd, FileSystemSignatureNeedsForce) {
  if (system("command -v mkfs.ext4 >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mkfs.ext4 (e2fsprogs) not installed";
  }
  ASSERT_EQ(system(("mkfs.ext4 -q -F " + (dir_ / "disk0").string() + " >/dev/null 2>&1").c_str()),
            0);
  const std::string before = file_bytes("disk0");
  AdmRun r = adm("create-md r0");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("ext2/3/4 file system"), std::string::npos) << r.out;
  EXPECT_EQ(file_bytes("disk0"), before);
  EXPECT_EQ(adm("create-md --force r0").rc, 0);
}

TEST_F(TandemadmMd, ApplyAlMarksHotExtents) {
  ASSERT_EQ(adm("create-md r0").rc, 0);
  {
    // What a crashed node leaves: a dirty log with two hot extents.
    auto dev = UringBacking::open((dir_ / "disk0").string(), {});
    ASSERT_TRUE(dev.ok());
    auto store = MetadataStore::open(**dev, {}, 64ULL << 20);
    ASSERT_TRUE(store.ok());
    Superblock sb = store->superblock();
    sb.flags &= ~kFlagAlClean;
    sb.flags |= kFlagCrashedPrimary;
    ASSERT_TRUE(store->write_superblock(sb).ok());
    ASSERT_TRUE(store->write_al_transaction({.number = 1, .hot = {2, 7}, .added = 2}).ok());
  }
  AdmRun r = adm("apply-al r0");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("2 extents (8.00 MiB) marked out of sync"), std::string::npos) << r.out;
  AdmRun dump = adm("dump-md r0");
  EXPECT_NE(dump.out.find("out-of-sync 2048;"), std::string::npos) << dump.out;
  AdmRun again = adm("apply-al r0");
  EXPECT_NE(again.out.find("clean, nothing to apply"), std::string::npos) << again.out;
}

TEST_F(TandemadmMd, WipeThenNothingToRead) {
  ASSERT_EQ(adm("create-md r0").rc, 0);
  AdmRun w = adm("wipe-md r0");
  ASSERT_EQ(w.rc, 0) << w.out;
  AdmRun d = adm("dump-md r0");
  EXPECT_EQ(d.rc, 1);
  EXPECT_NE(d.out.find("no tandem metadata found"), std::string::npos) << d.out;
  AdmRun again = adm("wipe-md r0");
  EXPECT_EQ(again.rc, 1);
  EXPECT_NE(again.out.find("nothing was written"), std::string::npos) << again.out;
}

TEST_F(TandemadmMd, ExternalIndexedMetadata) {
  AdmRun c = adm("create-md ext");
  ASSERT_EQ(c.rc, 0) << c.out;
  AdmRun d = adm("dump-md ext");
  ASSERT_EQ(d.rc, 0) << d.out;
  EXPECT_NE(d.out.find("md-area { offset 268435456; size 134217728; }"), std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("tx-blocks 4;"), std::string::npos);
  // The backing file is untouched by external metadata: still one hole.
  const int fd = ::open((dir_ / "disk1").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(lseek(fd, 0, SEEK_DATA), -1);
  ::close(fd);
}

TEST_F(TandemadmMd, AlExtentsChangedInTheConfigurationIsPointedOut) {
  ASSERT_EQ(adm("create-md r0").rc, 0);
  std::string conf = file_bytes("t.conf");
  conf.replace(conf.find("resource r0 {\n"), 13, "resource r0 {\n  disk { al-extents 3001; }");
  std::ofstream(dir_ / "t.conf", std::ios::trunc) << conf;
  AdmRun d = adm("dump-md r0");
  EXPECT_EQ(d.rc, 0) << d.out;
  EXPECT_NE(d.out.find("sets al-extents 3001 but the metadata was created with 1237"),
            std::string::npos)
      << d.out;
}

TEST_F(TandemadmMd, ConfigurationErrorsExitWithTen) {
  EXPECT_EQ(adm("dump-md nosuch").rc, 10);
  EXPECT_EQ(adm("dump-md r0/5").rc, 10);
  EXPECT_EQ(adm("dump-md").rc, 2);
}

}  // namespace
}  // namespace tandem::storage
