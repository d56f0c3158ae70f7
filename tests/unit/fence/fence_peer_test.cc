#include <gtest/gtest.h>

#include <map>
#include <string>

#include "cluster/cluster_conf.h"
#include "fence/fence_peer.h"

namespace tandem::fence {
namespace {

auto env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(FencePeer, ExitCodesAreDrbds) {
  EXPECT_EQ(kFencePeerInconsistent, 3);
  EXPECT_EQ(kFencePeerOutdated, 4);
  EXPECT_EQ(kFencePeerUnreachable, 5);
  EXPECT_EQ(kFencePeerRefused, 6);
  EXPECT_EQ(kFencePeerFenced, 7);
}

TEST(FencePeer, PeerFromDrbd84Environment) {
  auto t = fence_peer_target(env({{"DRBD_RESOURCE", "r0"}, {"DRBD_PEER", "mail02"}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->resource, "r0");
  EXPECT_EQ(t->peers, std::vector<std::string>{"mail02"});
}

TEST(FencePeer, PeerFromDrbd9NodeIdWinsOverPeersList) {
  auto t = fence_peer_target(env({{"DRBD_PEER_NODE_ID", "1"},
                                  {"DRBD_NODE_ID_0", "mail01"},
                                  {"DRBD_NODE_ID_1", "mail02"},
                                  {"DRBD_PEERS", "mail02 mail03"}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->peers, std::vector<std::string>{"mail02"});
}

TEST(FencePeer, PeersListWhenNothingElse) {
  auto t = fence_peer_target(env({{"DRBD_PEERS", " mail02  mail03 "}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->peers, (std::vector<std::string>{"mail02", "mail03"}));
}

TEST(FencePeer, NoPeerIsAnError) {
  auto t = fence_peer_target(env({{"DRBD_RESOURCE", "r0"}}));
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("resource r0"), std::string::npos);
}

TEST(FencePeer, MapsShortAndFullHostNames) {
  auto conf = cluster::parse_cluster_conf(
      "<cluster name=\"c\"><clusternodes>"
      "<clusternode name=\"mail01\" nodeid=\"1\"/>"
      "<clusternode name=\"mail02.example.com\" nodeid=\"2\"/>"
      "</clusternodes></cluster>",
      "c.conf");
  ASSERT_TRUE(conf) << conf.error().message;
  EXPECT_EQ(*map_peer_to_node(*conf, "mail01"), "mail01");
  EXPECT_EQ(*map_peer_to_node(*conf, "mail01.example.com"), "mail01");
  EXPECT_EQ(*map_peer_to_node(*conf, "mail02"), "mail02.example.com");
  auto missing = map_peer_to_node(*conf, "mail03");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("mail01, mail02.example.com"), std::string::npos);
}

}  // namespace
}  // namespace tandem::fence
