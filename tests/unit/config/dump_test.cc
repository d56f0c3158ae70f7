// The canonical dump: complete, and it parses back to the same
// configuration.
#include "config/dump.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_configs.h"

namespace tandem::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Locations differ between a file and its dump; everything else must not.
Config without_locations(Config c) {
  std::vector<ResourceConfig> resources = c.resources();
  for (ResourceConfig& r : resources) {
    r.location = {};
    for (ResolvedHost& h : r.hosts) h.location = {};
  }
  return Config(c.global(), std::move(resources));
}

void expect_round_trip(const std::string& text, const std::string& host) {
  Result<Config> first = load_string(text, "orig.conf");
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string dumped = dump_config(*first, host);
  Result<Config> second = load_string(dumped, "dump.conf");
  ASSERT_TRUE(second.ok()) << second.error().message << "\n--- dump was:\n" << dumped;
  EXPECT_EQ(without_locations(*first), without_locations(*second)) << dumped;
  for (const std::string& name : first->resource_names()) {
    Result<ResolvedResource> a = first->resolve(name, host);
    Result<ResolvedResource> b = second->resolve(name, host);
    ASSERT_EQ(a.ok(), b.ok());
    if (!a.ok()) continue;
    ResolvedResource ra = *a;
    ResolvedResource rb = *b;
    ra.location = rb.location = {};
    ra.this_host.location = rb.this_host.location = {};
    for (auto& p : ra.peers) p.location = {};
    for (auto& p : rb.peers) p.location = {};
    EXPECT_EQ(ra, rb);
  }
  // Dumping the dump changes nothing: the form is canonical.
  EXPECT_EQ(dump_config(*second, host), dumped);
}

TEST(Dump, RoundTripsTheMailStoreExample) {
  Result<Config> c = load_file(std::string(TANDEM_SOURCE_DIR) + "/conf/mailstore.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const std::string dumped = dump_config(*c, "mail01");
  Result<Config> again = load_string(dumped, "dump.conf");
  ASSERT_TRUE(again.ok()) << again.error().message << dumped;
  EXPECT_EQ(without_locations(*c), without_locations(*again));
  Result<ResolvedResource> r = c->resolve("mailstore", "mail01");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->net.allow_two_primaries);
  EXPECT_EQ(r->net.after_sb_0pri, AfterSb0Pri::kDiscardZeroChanges);
  EXPECT_EQ(r->net.after_sb_1pri, AfterSb1Pri::kDiscardSecondary);
  EXPECT_EQ(r->net.after_sb_2pri, AfterSb2Pri::kDisconnect);
  EXPECT_EQ(r->net.verify_alg, "sha1");
  EXPECT_TRUE(r->startup.become_primary_on_both());
  EXPECT_EQ(r->peers.at(0).names.at(0), "mail02");
}

TEST(Dump, RoundTripsDeviceNbd) {
  const std::string text =
      "resource r0 {\n"
      "  on alpha { volume 0 { device nbd; disk /dev/sda1; meta-disk internal; }\n"
      "             volume 1 { device nbd; disk /dev/sda2; meta-disk internal; }\n"
      "             address 10.0.0.1:7789; }\n"
      "  on beta { volume 0 { device nbd; disk /dev/sda1; meta-disk internal; }\n"
      "            volume 1 { device nbd; disk /dev/sda2; meta-disk internal; }\n"
      "            address 10.0.0.2:7789; }\n"
      "}\n";
  expect_round_trip(text, "alpha");
  Result<Config> c = load_string(text, "nbd.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const std::string dumped = dump_config(*c, "alpha");
  EXPECT_THAT(dumped, HasSubstr("device nbd;"));
  EXPECT_THAT(dumped, Not(HasSubstr("device nbd minor")));
  Result<ResolvedResource> r = c->resolve("r0", "alpha");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->volumes().size(), 2u);
  EXPECT_TRUE(r->volumes()[0].device.path.empty());
  EXPECT_TRUE(r->volumes()[0].device.nbd);
  EXPECT_FALSE(r->volumes()[0].device.has_minor);
}

TEST(Dump, RoundTripsEveryFeature) {
  const std::string text =
      "global { usage-count ask; minor-count 100; disable-ip-verification; "
      "udev-always-use-vnr; }\n"
      "common {\n"
      "  protocol B;\n"
      "  net { ping-int 3; shared-secret \"with \\\"quotes\\\" and spaces\"; "
      "cram-hmac-alg sha256; }\n"
      "  disk { on-io-error call-local-io-error; fencing resource-and-stonith; md-flushes no; }\n"
      "  handlers { fence-peer \"/usr/lib/drbd/crm-fence-peer.sh\"; }\n"
      "}\n"
      "resource r0 {\n"
      "  net { after-sb-0pri discard-least-changes; rr-conflict call-pri-lost; "
      "sndbuf-size 1M; data-integrity-alg crc32c; }\n"
      "  syncer { rate 33M; al-extents 3833; c-plan-ahead 0; }\n"
      "  startup { wfc-timeout 10; degr-wfc-timeout 5; outdated-wfc-timeout 2; wait-after-sb; "
      "become-primary-on beta; }\n"
      "  options { cpu-mask 0f; on-no-data-accessible suspend-io; }\n"
      "  handlers { split-brain \"tab\\there # not a comment\"; }\n"
      "  volume 0 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "  volume 7 { device /dev/drbd_data minor 7; disk \"/dev/disk/by-id/with space\"; "
      "meta-disk \"/dev/md:x\" [2]; disk { al-extents 99; disk-barrier yes; } }\n"
      "  on alpha alpha2 { address 10.0.0.1:7789; node-id 3; }\n"
      "  on beta { address ipv6 [fd00::2]:7789; node-id 4; volume 7 { disk /dev/other; } }\n"
      "}\n"
      "resource r1 {\n"
      "  disk { resync-after r0; }\n"
      "  floating 10.0.0.1:7790 { device minor 11; disk /dev/sdb; flexible-meta-disk /dev/sdm; }\n"
      "  floating ipv6 [fd00::2]:7790 { device minor 11; disk /dev/sdb; meta-disk internal; }\n"
      "}\n";
  expect_round_trip(text, "alpha");
  expect_round_trip(text, "beta");
  expect_round_trip(text, "nobody");
}

TEST(Dump, RoundTripsQuotedKeywordNames) {
  const std::string text =
      "resource \"net\" {\n"
      "  net { allow-two-primaries; }\n"
      "  startup { become-primary-on \"disk\" \"on\"; }\n"
      "  on \"disk\" { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address "
      "10.0.0.1:7789; }\n"
      "  on \"on\" alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address "
      "10.0.0.2:7789; }\n"
      "}\n"
      "resource r1 {\n"
      "  disk { resync-after \"net\"; }\n"
      "  on \"disk\" { device /dev/drbd1; disk /dev/sdb1; meta-disk internal; address "
      "10.0.0.1:7790; }\n"
      "  on alpha { device /dev/drbd1; disk /dev/sdb1; meta-disk internal; address "
      "10.0.0.2:7790; }\n"
      "}\n";
  expect_round_trip(text, "disk");
  Result<Config> c = load_string(text, "q.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT(dump_config(*c, "disk"), HasSubstr("resource \"net\" {"));
  EXPECT_THAT(dump_config(*c, "disk"), HasSubstr("become-primary-on \"disk\" \"on\";"));
}

TEST(Dump, DefaultsAreSpelledOut) {
  Result<Config> c = load_string(test::resource_with(""), "t.conf");
  ASSERT_TRUE(c.ok());
  const std::string d = dump_config(*c, "alpha");
  EXPECT_THAT(d, HasSubstr("        protocol C;\n"));
  EXPECT_THAT(d, HasSubstr("        al-extents 1237;\n"));
  EXPECT_THAT(d, HasSubstr("        md-flushes yes;\n"));
  EXPECT_THAT(d, HasSubstr("        on-io-error detach;\n"));
  EXPECT_THAT(d, HasSubstr("    on alpha {  # this host\n"));
  EXPECT_THAT(d, HasSubstr("            device /dev/drbd0 minor 0;\n"));
  EXPECT_THAT(d, HasSubstr("        address ipv4 10.0.0.2:7789;\n"));
  // No verify-alg set: nothing printed rather than an empty value.
  EXPECT_THAT(d, ::testing::Not(HasSubstr("verify-alg")));
}

TEST(Dump, SelectsOneResource) {
  Result<Config> c = load_string(test::resource_with("") +
                                     "resource r1 {\n"
                                     "  on alpha { device /dev/drbd1; disk /dev/sdb1; meta-disk "
                                     "internal; address 10.0.0.1:7790; }\n"
                                     "  on beta { device /dev/drbd1; disk /dev/sdb1; meta-disk "
                                     "internal; address 10.0.0.2:7790; }\n}\n",
                                 "t.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const std::string d = dump_config(*c, "alpha", "r1");
  EXPECT_THAT(d, HasSubstr("resource r1 {"));
  EXPECT_THAT(d, ::testing::Not(HasSubstr("resource r0 {")));
}

TEST(Dump, QuotesWordsThatNeedIt) {
  EXPECT_EQ(quote_if_needed("/dev/sda"), "/dev/sda");
  EXPECT_EQ(quote_if_needed("a b"), "\"a b\"");
  EXPECT_EQ(quote_if_needed("a\"b\\"), "\"a\\\"b\\\\\"");
  EXPECT_EQ(quote_if_needed("x;y"), "\"x;y\"");
  EXPECT_EQ(quote_if_needed(""), "\"\"");
  EXPECT_EQ(quote_if_needed("/dev/disk/by-path/pci-0000:00:1f.2"),
            "\"/dev/disk/by-path/pci-0000:00:1f.2\"");
  EXPECT_EQ(quote_if_needed(std::string(129, 'a')), "\"" + std::string(129, 'a') + "\"");
}

}  // namespace
}  // namespace tandem::config
