// Inheritance, defaults, unit scaling and the shape of the resolved data.
#include <gtest/gtest.h>

#include "test_configs.h"

namespace tandem::config {
namespace {

using test::resource_with;

ResolvedResource resolve_ok(const std::string& text, const std::string& resource = "r0",
                            const std::string& host = "alpha") {
  Result<Config> c = load_string(text, "r.conf");
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  if (!c.ok()) return {};
  Result<ResolvedResource> r = c->resolve(resource, host);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : ResolvedResource{};
}

TEST(Resolution, Drbd84DefaultsAreExplicit) {
  const ResolvedResource r = resolve_ok(resource_with(""));
  EXPECT_EQ(r.protocol(), Protocol::kC);
  EXPECT_FALSE(r.net.allow_two_primaries);
  EXPECT_EQ(r.net.after_sb_0pri, AfterSb0Pri::kDisconnect);
  EXPECT_EQ(r.net.ping_int, 10u);
  EXPECT_EQ(r.net.ping_timeout, 5u);
  EXPECT_EQ(r.net.timeout, 60u);
  EXPECT_EQ(r.net.connect_int, 10u);
  EXPECT_EQ(r.net.ko_count, 7u);
  EXPECT_EQ(r.net.max_buffers, 2048u);
  EXPECT_EQ(r.disk.al_extents, 1237u);
  EXPECT_EQ(r.disk.on_io_error, OnIoError::kDetach);
  EXPECT_TRUE(r.disk.md_flushes);
  EXPECT_TRUE(r.disk.disk_flushes);
  EXPECT_FALSE(r.disk.disk_barrier);
  EXPECT_EQ(r.disk.resync_rate, 250u);
  EXPECT_EQ(r.disk.c_max_rate, 102400u);
  EXPECT_EQ(r.startup.wfc_timeout, 0u);
  EXPECT_TRUE(r.handlers.empty());
}

TEST(Resolution, ThisHostAndPeer) {
  const ResolvedResource r = resolve_ok(resource_with(""), "r0", "beta");
  ASSERT_EQ(r.this_host.names.size(), 1u);
  EXPECT_EQ(r.this_host.names[0], "beta");
  EXPECT_EQ(r.this_host.address.host, "10.0.0.2");
  EXPECT_EQ(r.this_host.address.port, 7789);
  EXPECT_EQ(r.this_host.address.family, AddressFamily::kIpv4);
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_EQ(r.peers[0].names[0], "alpha");
  ASSERT_EQ(r.volumes().size(), 1u);
  EXPECT_EQ(r.volumes()[0].number, 0u);
  EXPECT_EQ(r.volumes()[0].device.path, "/dev/drbd0");
  EXPECT_EQ(r.volumes()[0].device.minor, 0u);
  EXPECT_EQ(r.volumes()[0].disk, "/dev/sda1");
  EXPECT_TRUE(r.volumes()[0].meta_disk.internal);
  EXPECT_EQ(r.location.line, 1);
}

TEST(Resolution, UnknownHostAndResourceAreExplained) {
  Result<Config> c = load_string(resource_with(""), "r.conf");
  ASSERT_TRUE(c.ok());
  Result<ResolvedResource> r = c->resolve("r0", "gamma");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("has no 'on gamma' section (its hosts: alpha, beta)"),
            std::string::npos)
      << r.error().message;
  Result<ResolvedResource> none = c->resolve("r7", "alpha");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("known: r0"), std::string::npos);
  EXPECT_EQ(c->resource_names(), std::vector<std::string>{"r0"});
}

TEST(Resolution, InheritanceCommonResourceVolume) {
  const std::string text =
      "common {\n"
      "  net { ping-int 20; max-buffers 4096; }\n"
      "  disk { al-extents 3000; resync-rate 1M; }\n"
      "  handlers { split-brain \"common-sb\"; fence-peer \"common-fp\"; }\n"
      "}\n"
      "resource r0 {\n"
      "  net { ping-int 30; }\n"
      "  disk { al-extents 2000; }\n"
      "  handlers { split-brain \"res-sb\"; }\n"
      "  volume 0 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "  volume 1 { device /dev/drbd1; disk /dev/sda2; meta-disk internal;\n"
      "             disk { al-extents 500; } }\n"
      "  on alpha { address 10.0.0.1:7789; volume 1 { disk /dev/sdz2; disk { resync-rate 2M; } } "
      "}\n"
      "  on beta { address 10.0.0.2:7789; }\n"
      "}\n";
  const ResolvedResource r = resolve_ok(text);
  EXPECT_EQ(r.net.ping_int, 30u);        // resource overrides common
  EXPECT_EQ(r.net.max_buffers, 4096u);   // inherited from common
  EXPECT_EQ(r.disk.al_extents, 2000u);   // resource overrides common
  EXPECT_EQ(r.disk.resync_rate, 1024u);  // common, 1M in KiB/s
  EXPECT_EQ(r.handlers.at("split-brain"), "res-sb");
  EXPECT_EQ(r.handlers.at("fence-peer"), "common-fp");
  ASSERT_EQ(r.volumes().size(), 2u);
  EXPECT_EQ(r.volumes()[0].disk_options.al_extents, 2000u);
  EXPECT_EQ(r.volumes()[1].disk_options.al_extents, 500u);    // resource volume
  EXPECT_EQ(r.volumes()[1].disk_options.resync_rate, 2048u);  // host volume
  EXPECT_EQ(r.volumes()[1].disk, "/dev/sdz2");                // host overrides resource volume
  EXPECT_EQ(r.volumes()[1].device.minor, 1u);                 // from the resource volume
  ASSERT_EQ(r.peers.size(), 1u);
  EXPECT_EQ(r.peers[0].volumes[1].disk, "/dev/sda2");
  EXPECT_EQ(r.peers[0].volumes[1].disk_options.resync_rate, 1024u);
}

TEST(Resolution, ResourceLevelDeviceAppliesToEveryHost) {
  const ResolvedResource r = resolve_ok(
      "resource r0 { device /dev/drbd3; disk /dev/sdc; meta-disk internal;\n"
      "  on alpha { address 10.0.0.1:7789; } on beta { address 10.0.0.2:7789; } }");
  EXPECT_EQ(r.volumes()[0].device.minor, 3u);
  EXPECT_EQ(r.peers[0].volumes[0].disk, "/dev/sdc");
}

TEST(Resolution, SizeSuffixesFollowEachOptionsUnit) {
  const ResolvedResource r = resolve_ok(resource_with(
      "  net { sndbuf-size 512K; rcvbuf-size 1M; }\n"
      "  disk { resync-rate 100M; c-fill-target 1M; c-max-rate 1G; c-min-rate 4096; }"));
  EXPECT_EQ(r.net.sndbuf_size, 512u * 1024);  // bytes
  EXPECT_EQ(r.net.rcvbuf_size, 1024u * 1024);
  EXPECT_EQ(r.disk.resync_rate, 100u * 1024);  // KiB/s
  EXPECT_EQ(r.disk.c_fill_target, 2048u);      // 512-byte sectors
  EXPECT_EQ(r.disk.c_max_rate, 1024u * 1024);
  EXPECT_EQ(r.disk.c_min_rate, 4096u);
}

TEST(Resolution, SyncerSectionMapsToModernHomes) {
  const ResolvedResource r = resolve_ok(
      resource_with("  syncer { rate 10M; al-extents 257; verify-alg sha1; csums-alg md5;\n"
                    "           cpu-mask ff; c-plan-ahead 5; }") +
      "resource r1 {\n"
      "  syncer { after r0; }\n"
      "  on alpha { device /dev/drbd1; disk /dev/sdb; meta-disk internal; address "
      "10.0.0.1:7790; }\n"
      "  on beta { device /dev/drbd1; disk /dev/sdb; meta-disk internal; address 10.0.0.2:7790; "
      "}\n}\n");
  EXPECT_EQ(r.disk.resync_rate, 10240u);
  EXPECT_EQ(r.disk.al_extents, 257u);
  EXPECT_EQ(r.net.verify_alg, "sha1");
  EXPECT_EQ(r.net.csums_alg, "md5");
  EXPECT_EQ(r.options.cpu_mask, "ff");
  EXPECT_EQ(r.disk.c_plan_ahead, 5u);
  Result<Config> c =
      load_string(resource_with("") +
                      "resource r1 {\n  syncer { after r0; }\n"
                      "  on alpha { device /dev/drbd1; disk /dev/sdb; meta-disk internal; address "
                      "10.0.0.1:7790; }\n"
                      "  on beta { device /dev/drbd1; disk /dev/sdb; meta-disk internal; address "
                      "10.0.0.2:7790; }\n}\n",
                  "r.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->find("r1")->disk.resync_after, "r0");
}

TEST(Resolution, OutdatePeerIsTheOldNameOfFencePeer) {
  const ResolvedResource r = resolve_ok(resource_with("  handlers { outdate-peer \"/x\"; }"));
  EXPECT_EQ(r.handlers.at("fence-peer"), "/x");
  EXPECT_EQ(r.handlers.count("outdate-peer"), 0u);
}

TEST(Resolution, ProtocolSpellings) {
  EXPECT_EQ(resolve_ok(resource_with("  protocol A;")).net.protocol, Protocol::kA);
  EXPECT_EQ(resolve_ok(resource_with("  net { protocol B; }")).net.protocol, Protocol::kB);
  EXPECT_EQ(resolve_ok("common { protocol A; }\n" + resource_with("")).net.protocol, Protocol::kA);
}

TEST(Resolution, FlagsAcceptYesNoAndBare) {
  const ResolvedResource r = resolve_ok(
      resource_with("  net { allow-two-primaries; }\n  disk { md-flushes no; disk-barrier yes; }"));
  EXPECT_TRUE(r.net.allow_two_primaries);
  EXPECT_FALSE(r.disk.md_flushes);
  EXPECT_TRUE(r.disk.disk_barrier);
}

TEST(Resolution, DeviceMetaDiskAndAddressForms) {
  const ResolvedResource r = resolve_ok(
      "resource r0 {\n"
      "  on alpha { device /dev/drbd_mirror minor 7; disk /dev/sda1; meta-disk /dev/sdm [3];\n"
      "             address ipv6 [FD00:0::1]:7789; node-id 0; }\n"
      "  on beta { device minor 9; disk /dev/sda1; flexible-meta-disk /dev/sdm;\n"
      "            address 10.0.0.2:7789; node-id 1; }\n"
      "}\n");
  EXPECT_EQ(r.volumes()[0].device.path, "/dev/drbd_mirror");
  EXPECT_EQ(r.volumes()[0].device.minor, 7u);
  EXPECT_FALSE(r.volumes()[0].meta_disk.internal);
  EXPECT_EQ(r.volumes()[0].meta_disk.path, "/dev/sdm");
  EXPECT_EQ(r.volumes()[0].meta_disk.index, std::optional<uint32_t>(3));
  EXPECT_EQ(r.this_host.address.family, AddressFamily::kIpv6);
  EXPECT_EQ(r.this_host.address.host, "fd00::1");  // canonical spelling
  EXPECT_EQ(r.this_host.address.to_string(), "ipv6 [fd00::1]:7789");
  EXPECT_EQ(r.this_host.node_id, std::optional<uint32_t>(0));
  EXPECT_EQ(r.peers[0].volumes[0].device.path, "/dev/drbd9");
  EXPECT_FALSE(r.peers[0].volumes[0].meta_disk.index.has_value());
  EXPECT_EQ(r.peers[0].node_id, std::optional<uint32_t>(1));
}

TEST(Resolution, SeveralNamesInOneOnSection) {
  const std::string text =
      "resource r0 {\n"
      "  on alpha alpha-standby { device /dev/drbd0; disk /dev/sda1; meta-disk internal;\n"
      "                           address 10.0.0.1:7789; }\n"
      "  on beta { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address "
      "10.0.0.2:7789; }\n"
      "}\n";
  const ResolvedResource r = resolve_ok(text, "r0", "alpha-standby");
  EXPECT_EQ(r.this_host.names, (std::vector<std::string>{"alpha", "alpha-standby"}));
  EXPECT_EQ(r.peers.size(), 1u);
}

TEST(Resolution, FloatingSections) {
  const std::string text =
      "resource r0 {\n"
      "  floating 10.0.0.1:7789 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "  floating ipv4 10.0.0.2:7789 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "}\n";
  const ResolvedResource r = resolve_ok(text, "r0", "10.0.0.2");
  EXPECT_TRUE(r.this_host.floating);
  EXPECT_EQ(r.this_host.address.port, 7789);
  EXPECT_EQ(r.peers[0].address.host, "10.0.0.1");
}

TEST(Resolution, BecomePrimaryOn) {
  const ResolvedResource both = resolve_ok(
      resource_with("  net { allow-two-primaries; }\n  startup { become-primary-on both; }"));
  EXPECT_TRUE(both.startup.become_primary_on_both());
  const ResolvedResource one = resolve_ok(resource_with("  startup { become-primary-on beta; }"));
  EXPECT_FALSE(one.startup.become_primary_on_both());
  EXPECT_EQ(one.startup.become_primary_on, std::vector<std::string>{"beta"});
}

TEST(Resolution, GlobalSection) {
  Result<Config> c = load_string(
      "global { usage-count no; minor-count 64; "
      "disable-ip-verification; dialog-refresh 5; }\n" +
          resource_with(""),
      "r.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->global().usage_count, UsageCount::kNo);
  EXPECT_EQ(c->global().minor_count, 64u);
  EXPECT_TRUE(c->global().disable_ip_verification);
  EXPECT_EQ(c->global().dialog_refresh, 5u);
}

}  // namespace
}  // namespace tandem::config
