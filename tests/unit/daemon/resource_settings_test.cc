// The pure pieces that turn a resource file into runtime settings: the
// handlers' environment and the resync options.
#include <gtest/gtest.h>

#include <map>

#include "config/config.h"
#include "daemon/handler_environment.h"
#include "daemon/resync_options.h"

namespace tandem::daemon {
namespace {

config::ResolvedResource load(const std::string& text, const std::string& host) {
  auto cfg = config::load_string(text, "/etc/tandem/test.conf");
  EXPECT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error().message);
  auto r = cfg->resolve("r0", host);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return *r;
}

const char* kTwoHosts = R"(
resource r0 {
  net { csums-alg sha1; verify-alg crc32c; }
  disk { resync-rate 40M; c-plan-ahead 0; c-fill-target 2000; c-delay-target 20;
         c-max-rate 300M; c-min-rate 4M; }
  on alpha { node-id 0; device /dev/drbd7; disk /dev/vg/a; meta-disk internal;
             address 10.0.0.1:7789; }
  on beta { node-id 1; device /dev/drbd7; disk /dev/vg/b; meta-disk internal;
            address ipv6 [fd00::2]:7789; }
}
)";

TEST(HandlerEnvironment, HasDrbdAndTandemVariables) {
  const auto r = load(kTwoHosts, "alpha");
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : handler_environment(r, "/etc/tandem/test.conf", "fence-peer")) {
    EXPECT_TRUE(env.emplace(k, v).second) << "duplicate " << k;
  }
  EXPECT_EQ(env["DRBD_RESOURCE"], "r0");
  EXPECT_EQ(env["DRBD_PEER"], "beta");
  EXPECT_EQ(env["DRBD_PEER_ADDRESS"], "fd00::2");
  EXPECT_EQ(env["DRBD_PEER_AF"], "ipv6");
  EXPECT_EQ(env["DRBD_MY_ADDRESS"], "10.0.0.1");
  EXPECT_EQ(env["DRBD_MY_AF"], "ipv4");
  EXPECT_EQ(env["DRBD_BACKING_DEV"], "/dev/vg/a");
  EXPECT_EQ(env["DRBD_CONF"], "/etc/tandem/test.conf");
  EXPECT_EQ(env["DRBD_MINOR"], "7");
  EXPECT_EQ(env["DRBD_VOLUME"], "0");
  EXPECT_EQ(env["TANDEM_RESOURCE"], "r0");
  EXPECT_EQ(env["TANDEM_PEER_ADDRESS"], "fd00::2");
  EXPECT_EQ(env["TANDEM_NODE"], "alpha");
  EXPECT_EQ(env["TANDEM_HANDLER"], "fence-peer");
}

TEST(HandlerEnvironment, NoMinorWithoutADrbdDevice) {
  const auto r = load(R"(
resource r0 {
  on alpha { node-id 0; device nbd; disk /a; meta-disk internal; address 10.0.0.1:7789; }
  on beta { node-id 1; device nbd; disk /b; meta-disk internal; address 10.0.0.2:7789; }
}
)",
                      "beta");
  bool minor = false;
  for (const auto& [k, v] : handler_environment(r, "/c", "split-brain")) {
    minor = minor || k == "DRBD_MINOR";
    if (k == "DRBD_PEER") {
      EXPECT_EQ(v, "alpha");
    }
    if (k == "DRBD_BACKING_DEV") {
      EXPECT_EQ(v, "/b");
    }
  }
  EXPECT_FALSE(minor);
}

TEST(ResyncOptions, MapsEveryOption) {
  const auto r = load(kTwoHosts, "alpha");
  core::ReplicatorConfig rc;
  ASSERT_TRUE(apply_resync_options(r, rc).ok());
  EXPECT_EQ(rc.csums_alg, core::DigestAlg::kSha1);
  EXPECT_EQ(rc.verify_alg, core::DigestAlg::kCrc32c);
  EXPECT_EQ(rc.rate.resync_rate_kib, 40u * 1024);
  EXPECT_EQ(rc.rate.c_plan_ahead, 0u);
  EXPECT_EQ(rc.rate.c_fill_target_sectors, 2000u);
  EXPECT_EQ(rc.rate.c_delay_target, 20u);
  EXPECT_EQ(rc.rate.c_max_rate_kib, 300u * 1024);
  EXPECT_EQ(rc.rate.c_min_rate_kib, 4u * 1024);
}

TEST(ResyncOptions, DefaultsAreDrbds) {
  const auto r = load(R"(
resource r0 {
  on alpha { node-id 0; device /dev/drbd0; disk /a; meta-disk internal; address 10.0.0.1:7789; }
  on beta { node-id 1; device /dev/drbd0; disk /b; meta-disk internal; address 10.0.0.2:7789; }
}
)",
                      "alpha");
  core::ReplicatorConfig rc;
  ASSERT_TRUE(apply_resync_options(r, rc).ok());
  EXPECT_EQ(rc.csums_alg, core::DigestAlg::kNone);
  EXPECT_EQ(rc.verify_alg, core::DigestAlg::kNone);
  EXPECT_EQ(rc.rate.resync_rate_kib, 250u);
  EXPECT_EQ(rc.rate.c_plan_ahead, 20u);
  EXPECT_EQ(rc.rate.c_fill_target_sectors, 100u);
  EXPECT_EQ(rc.rate.c_max_rate_kib, 102400u);
  EXPECT_EQ(rc.rate.c_min_rate_kib, 250u);
  // max-buffers 2048 (8 MiB): 32 chunks of 256 KiB, half of them read at once.
  EXPECT_EQ(rc.resync_chunk_bytes, 256u * 1024);
  EXPECT_EQ(rc.resync_max_in_flight, 16u);
}

TEST(ResyncOptions, DataIntegrityAlgIsMappedAndChecked) {
  auto r = load(kTwoHosts, "alpha");
  core::ReplicatorConfig rc;
  ASSERT_TRUE(apply_resync_options(r, rc).ok());
  EXPECT_EQ(rc.integrity_alg, core::DigestAlg::kNone);
  r.net.data_integrity_alg = "SHA256";
  ASSERT_TRUE(apply_resync_options(r, rc).ok());
  EXPECT_EQ(rc.integrity_alg, core::DigestAlg::kSha256);
  r.net.data_integrity_alg = "sha3-256";
  auto res = apply_resync_options(r, rc);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("resource r0"), std::string::npos) << res.error().message;
  EXPECT_NE(res.error().message.find("data-integrity-alg: digest algorithm 'sha3-256'"),
            std::string::npos)
      << res.error().message;
}

TEST(ResyncOptions, MaxBuffersSetsTheSourcesWindow) {
  auto r = load(kTwoHosts, "alpha");
  r.net.max_buffers = 4096;  // 16 MiB
  core::ReplicatorConfig rc;
  ASSERT_TRUE(apply_resync_options(r, rc).ok());
  EXPECT_EQ(rc.resync_max_in_flight, 32u);
  // Below two chunks' worth a source still reads one chunk at a time.
  EXPECT_EQ(resync_reads_in_flight(32, 256 * 1024), 1u);
  EXPECT_EQ(resync_reads_in_flight(128, 256 * 1024), 1u);
  EXPECT_EQ(resync_reads_in_flight(256, 256 * 1024), 2u);
  EXPECT_EQ(resync_reads_in_flight(131072, 256 * 1024), 1024u);
  EXPECT_EQ(resync_reads_in_flight(2048, 0), 1u);
}

TEST(ResyncOptions, UnsupportedDigestNamesTheResourceAndTheChoices) {
  auto r = load(kTwoHosts, "alpha");
  r.net.verify_alg = "sha512";
  core::ReplicatorConfig rc;
  auto res = apply_resync_options(r, rc);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("resource r0"), std::string::npos) << res.error().message;
  EXPECT_NE(res.error().message.find("verify-alg"), std::string::npos);
  EXPECT_NE(res.error().message.find("crc32c, md5, sha1 or sha256"), std::string::npos);
  EXPECT_FALSE(digest_alg("crc32").ok());
  EXPECT_EQ(*digest_alg("SHA256"), core::DigestAlg::kSha256);
  EXPECT_EQ(*digest_alg("md5"), core::DigestAlg::kMd5);
}

}  // namespace
}  // namespace tandem::daemon
