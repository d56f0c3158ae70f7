#include <gtest/gtest.h>

#include <string>

#include "cluster/cluster_conf.h"

namespace tandem::cluster {
namespace {

// The example from the cman era that the mail cluster started with.
constexpr const char* kMailCluster = R"(<?xml version="1.0"?>
<cluster alias="mailcluster" config_version="6" name="mailcluster">
  <fence_daemon post_fail_delay="0" post_join_delay="3"/>
  <totem consensus="6000" token="3000"/>
  <clusternodes>
    <clusternode name="mail01" nodeid="1" votes="1">
      <fence><method name="1"><device name="clusterfence" nodename="mail01"/></method></fence>
    </clusternode>
    <clusternode name="mail02" nodeid="2" votes="1">
      <fence><method name="1"><device name="clusterfence" nodename="mail02"/></method></fence>
    </clusternode>
  </clusternodes>
  <cman expected_votes="1" two_node="1"/>
  <fencedevices>
    <fencedevice agent="fence_manual" name="clusterfence"/>
  </fencedevices>
  <rm><failoverdomains/></rm>
</cluster>
)";

std::string error_of(std::string_view text) {
  auto r = parse_cluster_conf(text, "cluster.conf");
  return r ? std::string("(parsed)") : r.error().message;
}

TEST(ClusterConf, ParsesTheCmanMailCluster) {
  auto c = parse_cluster_conf(kMailCluster, "cluster.conf");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->name, "mailcluster");
  EXPECT_EQ(c->config_version, 6u);
  EXPECT_EQ(c->fence_daemon.post_fail_delay, 0u);
  EXPECT_EQ(c->fence_daemon.post_join_delay, 3u);
  EXPECT_EQ(c->totem.token_ms, 3000u);
  EXPECT_EQ(c->totem.consensus_ms, 6000u);
  EXPECT_TRUE(c->cman.two_node);
  EXPECT_EQ(c->cman.expected_votes, 1u);
  ASSERT_EQ(c->nodes.size(), 2u);
  const ClusterNode* n2 = c->find_node("mail02");
  ASSERT_NE(n2, nullptr);
  EXPECT_EQ(n2->nodeid, 2u);
  EXPECT_EQ(n2->line, 9);
  ASSERT_EQ(n2->fence_methods.size(), 1u);
  ASSERT_EQ(n2->fence_methods[0].devices.size(), 1u);
  EXPECT_EQ(n2->fence_methods[0].devices[0].name, "clusterfence");
  EXPECT_EQ(attribute_or(n2->fence_methods[0].devices[0].attributes, "nodename", ""), "mail02");
  const FenceDevice* d = c->find_fence_device("clusterfence");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->agent, "fence_manual");
  EXPECT_EQ(c->find_node_by_id(1)->name, "mail01");
}

TEST(ClusterConf, DefaultsFollowCman) {
  auto c = parse_cluster_conf(
      "<cluster name=\"c\"><clusternodes><clusternode name=\"a\" nodeid=\"1\"/></clusternodes>"
      "</cluster>",
      "x");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->fence_daemon.post_join_delay, 6u);
  EXPECT_EQ(c->fence_daemon.post_fail_delay, 0u);
  EXPECT_EQ(c->totem.token_ms, 10000u);
  EXPECT_EQ(c->nodes[0].votes, 1u);
  EXPECT_FALSE(c->cman.two_node);
}

TEST(ClusterConf, ErrorsNameFileLineAndElement) {
  const std::string undefined_device = R"(<cluster name="c">
<clusternodes>
<clusternode name="a" nodeid="1">
<fence><method name="1">
<device name="nosuch"/>
</method></fence>
</clusternode>
</clusternodes>
</cluster>)";
  EXPECT_EQ(error_of(undefined_device),
            "cluster.conf:5: <device>: node a, method 1: no <fencedevice name=\"nosuch\"> is "
            "defined; add it under <fencedevices> or fix the name");

  const std::string dup_id = R"(<cluster name="c"><clusternodes>
<clusternode name="a" nodeid="1"/>
<clusternode name="b" nodeid="1"/>
</clusternodes></cluster>)";
  EXPECT_NE(error_of(dup_id).find("cluster.conf:3: <clusternode>: nodeid 1 of node b"),
            std::string::npos)
      << error_of(dup_id);

  const std::string bad_delay =
      "<cluster name=\"c\">\n<fence_daemon post_fail_delay=\"soon\"/>"
      "<clusternodes><clusternode name=\"a\" nodeid=\"1\"/>"
      "</clusternodes></cluster>";
  EXPECT_NE(error_of(bad_delay).find("cluster.conf:2: <fence_daemon>: attribute "
                                     "post_fail_delay=\"soon\""),
            std::string::npos)
      << error_of(bad_delay);

  EXPECT_NE(error_of("<cluster name=\"c\"><clusternodes><clusternode name=\"a\"/></clusternodes>"
                     "</cluster>")
                .find("has no nodeid"),
            std::string::npos);
  EXPECT_NE(error_of("<clusterx/>").find("<clusterx>: the top element must be <cluster>"),
            std::string::npos);
  EXPECT_NE(error_of("<cluster name=\"c\"/>").find("no <clusternode>"), std::string::npos);
  EXPECT_NE(error_of("<cluster name=\"c\">\n<clusternodes>\n</cluster>")
                .find("cluster.conf:3: not "
                      "well-formed XML"),
            std::string::npos)
      << error_of("<cluster name=\"c\">\n<clusternodes>\n</cluster>");
}

TEST(ClusterConf, FenceDeviceChecks) {
  auto with_device = [](const std::string& dev) {
    return "<cluster name=\"c\"><clusternodes><clusternode name=\"a\" nodeid=\"1\"/>"
           "</clusternodes><fencedevices>" +
           dev + "</fencedevices></cluster>";
  };
  EXPECT_NE(error_of(with_device("<fencedevice name=\"x\"/>")).find("attribute agent is missing"),
            std::string::npos);
  EXPECT_NE(error_of(with_device("<fencedevice name=\"x\" agent=\"rm -rf /\"/>"))
                .find("must be a program name"),
            std::string::npos);
  EXPECT_NE(error_of(with_device("<fencedevice name=\"x\" agent=\"a\"/>"
                                 "<fencedevice name=\"x\" agent=\"b\"/>"))
                .find("defined twice"),
            std::string::npos);
  EXPECT_EQ(error_of(with_device("<fencedevice name=\"x\" agent=\"/usr/sbin/fence_x\"/>")),
            "(parsed)");
}

TEST(ClusterConf, TwoNodeNeedsTwoNodesAndExpectedVotesOne) {
  const std::string three =
      "<cluster name=\"c\"><cman two_node=\"1\" expected_votes=\"1\"/><clusternodes>"
      "<clusternode name=\"a\" nodeid=\"1\"/><clusternode name=\"b\" nodeid=\"2\"/>"
      "<clusternode name=\"c\" nodeid=\"3\"/></clusternodes></cluster>";
  EXPECT_NE(error_of(three).find("needs exactly 2 nodes, but 3"), std::string::npos);
  const std::string votes =
      "<cluster name=\"c\"><cman two_node=\"1\"/><clusternodes>"
      "<clusternode name=\"a\" nodeid=\"1\"/><clusternode name=\"b\" nodeid=\"2\"/>"
      "</clusternodes></cluster>";
  EXPECT_NE(error_of(votes).find("expected_votes=\"1\""), std::string::npos);
}

TEST(ClusterConf, RefusesDoctypeEntitiesAndOversizedInput) {
  const std::string laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE cluster [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
      "<cluster name=\"&b;\"/>";
  EXPECT_NE(error_of(laughs).find("not allowed"), std::string::npos);
  const std::string external =
      "<?xml version=\"1.0\"?><!DOCTYPE cluster SYSTEM \"http://example.com/x.dtd\"><cluster/>";
  EXPECT_NE(error_of(external).find("not allowed"), std::string::npos);
  std::string big(kMaxClusterConfBytes + 1, ' ');
  EXPECT_NE(error_of(big).find("at most"), std::string::npos);
}

TEST(ClusterConf, LimitsOnDepthAttributesAndLength) {
  std::string deep = "<cluster name=\"c\">";
  for (int i = 0; i < kMaxClusterConfDepth + 2; ++i) deep += "<x>";
  for (int i = 0; i < kMaxClusterConfDepth + 2; ++i) deep += "</x>";
  deep += "</cluster>";
  EXPECT_NE(error_of(deep).find("nested deeper"), std::string::npos) << error_of(deep);

  const std::string long_attr =
      "<cluster name=\"" + std::string(kMaxAttributeLength + 1, 'n') + "\"/>";
  EXPECT_NE(error_of(long_attr).find("longer than"), std::string::npos);

  std::string many = "<cluster name=\"c\"><x";
  for (std::size_t i = 0; i <= kMaxAttributesPerElement; ++i) {
    many += " a" + std::to_string(i) + "=\"1\"";
  }
  many += "/></cluster>";
  EXPECT_NE(error_of(many).find("attributes"), std::string::npos) << error_of(many);
}

TEST(ClusterConf, LoadReportsMissingFile) {
  auto r = load_cluster_conf("/nonexistent/cluster.conf");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/cluster.conf"), std::string::npos);
}

TEST(ClusterConf, ShippedExampleParses) {
  auto r = load_cluster_conf(TANDEM_SOURCE_DIR "/conf/cluster.conf");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->nodes.size(), 2u);
  EXPECT_TRUE(r->cman.two_node);
  for (const ClusterNode& n : r->nodes) {
    ASSERT_EQ(n.fence_methods.size(), 2u) << n.name;
    EXPECT_EQ(r->find_fence_device(n.fence_methods[0].devices[0].name)->agent,
              "fence_tandem_ipmilan");
    EXPECT_EQ(r->find_fence_device(n.fence_methods[1].devices[0].name)->agent,
              "fence_tandem_manual");
  }
}

}  // namespace
}  // namespace tandem::cluster
