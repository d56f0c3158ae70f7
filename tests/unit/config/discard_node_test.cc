// after-sb-0pri discard-node-NAME: the host name travels with the choice,
// must name a host of the resource, and survives the canonical dump.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "config/dump.h"

namespace tandem::config {
namespace {

using ::testing::HasSubstr;

std::string resource_with(const std::string& policy) {
  return "resource r0 {\n"
         "  net { after-sb-0pri " +
         policy +
         "; }\n"
         "  on alpha { device nbd; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789; }\n"
         "  on beta { device nbd; disk /dev/sda1; meta-disk internal; address 10.0.0.2:7789; }\n"
         "}\n";
}

TEST(DiscardNode, KeepsTheNamedHostAndDumpsIt) {
  Result<Config> c = load_string(resource_with("discard-node-beta"), "r0.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  Result<ResolvedResource> r = c->resolve("r0", "alpha");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->net.after_sb_0pri, AfterSb0Pri::kDiscardNode);
  EXPECT_EQ(r->net.after_sb_0pri_node, "beta");

  const std::string dumped = dump_config(*c, "alpha");
  EXPECT_THAT(dumped, HasSubstr("after-sb-0pri discard-node-beta;"));
  Result<Config> again = load_string(dumped, "dump.conf");
  ASSERT_TRUE(again.ok()) << again.error().message << dumped;
  Result<ResolvedResource> r2 = again->resolve("r0", "beta");
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->net.after_sb_0pri_node, "beta");
}

TEST(DiscardNode, OtherPoliciesCarryNoName) {
  Result<Config> c = load_string(resource_with("discard-zero-changes"), "r0.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  Result<ResolvedResource> r = c->resolve("r0", "alpha");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->net.after_sb_0pri, AfterSb0Pri::kDiscardZeroChanges);
  EXPECT_TRUE(r->net.after_sb_0pri_node.empty());
}

TEST(DiscardNode, UnknownHostIsRejectedWithFileAndLine) {
  Result<Config> c = load_string(resource_with("discard-node-gamma"), "r0.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("r0.conf:2"));
  EXPECT_THAT(c.error().message, HasSubstr("names host gamma"));
}

TEST(DiscardNode, MissingNameIsRejected) {
  Result<Config> c = load_string(resource_with("discard-node-"), "r0.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("expected a host name"));
}

TEST(DiscardNode, UnknownWordListsTheNamePattern) {
  Result<Config> c = load_string(resource_with("discard-nobody"), "r0.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("discard-node-NAME"));
}

}  // namespace
}  // namespace tandem::config
