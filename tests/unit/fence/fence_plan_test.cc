#include <gtest/gtest.h>

#include "cluster/cluster_conf.h"
#include "fence/fence_plan.h"

namespace tandem::fence {
namespace {

constexpr const char* kConf = R"(<?xml version="1.0"?>
<cluster name="mail" config_version="3">
  <fence_daemon post_fail_delay="4" post_join_delay="3"/>
  <cman two_node="1" expected_votes="1"/>
  <clusternodes>
    <clusternode name="mail01" nodeid="1">
      <fence>
        <method name="power">
          <device name="psu-a" port="3" action="off"/>
          <device name="psu-b" port="4"/>
        </method>
        <method name="human">
          <device name="manual"/>
        </method>
      </fence>
    </clusternode>
    <clusternode name="mail02" nodeid="2">
      <fence>
        <method name="1"><device name="ipmi02" agent_timeout="30" login="override"/></method>
      </fence>
    </clusternode>
  </clusternodes>
  <fencedevices>
    <fencedevice name="psu-a" agent="fence_apc" ipaddr="10.0.0.1" login="apc" passwd="pw"/>
    <fencedevice name="psu-b" agent="fence_apc" ipaddr="10.0.0.2" port="99"/>
    <fencedevice name="ipmi02" agent="fence_tandem_ipmilan" ipaddr="10.0.1.2" login="admin"/>
    <fencedevice name="manual" agent="fence_tandem_manual"/>
  </fencedevices>
</cluster>
)";

cluster::ClusterConf conf() {
  auto c = cluster::parse_cluster_conf(kConf, "test.conf");
  EXPECT_TRUE(c) << c.error().message;
  return *c;
}

TEST(FencePlan, MergesDeviceAttributesOverSharedDefinitionAndAddsNodenameAndAction) {
  auto plan = plan_fencing(conf(), "mail01", "reboot");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->methods.size(), 2u);
  EXPECT_EQ(plan->post_fail_delay, 4u);
  const DeviceInvocation& a = plan->methods[0].devices[0];
  EXPECT_EQ(a.agent, "fence_apc");
  EXPECT_EQ(agent_stdin(a),
            "ipaddr=10.0.0.1\nlogin=apc\npasswd=pw\nport=3\naction=off\nnodename=mail01\n");
  const DeviceInvocation& b = plan->methods[0].devices[1];
  // The <device> port wins over the <fencedevice> port; no action given, so the request's.
  EXPECT_EQ(agent_stdin(b), "ipaddr=10.0.0.2\nport=4\nnodename=mail01\naction=reboot\n");
  EXPECT_EQ(plan->methods[1].devices[0].agent, "fence_tandem_manual");
}

TEST(FencePlan, AgentTimeoutIsConsumedNotPassed) {
  auto plan = plan_fencing(conf(), "mail02", "off");
  ASSERT_TRUE(plan);
  const DeviceInvocation& d = plan->methods[0].devices[0];
  EXPECT_DOUBLE_EQ(d.timeout_seconds, 30);
  EXPECT_EQ(agent_stdin(d), "ipaddr=10.0.1.2\nlogin=override\nnodename=mail02\naction=off\n");
}

TEST(FencePlan, UnknownVictimAndNodeWithoutMethodsAreErrors) {
  auto unknown = plan_fencing(conf(), "mail09", "reboot");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("mail01, mail02"), std::string::npos);
  auto c = cluster::parse_cluster_conf(
      "<cluster name=\"c\"><clusternodes><clusternode name=\"a\" nodeid=\"1\"/>"
      "</clusternodes></cluster>",
      "x.conf");
  ASSERT_TRUE(c);
  auto none = plan_fencing(*c, "a", "reboot");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("x.conf:1"), std::string::npos) << none.error().message;
}

TEST(FenceSequence, AllDevicesOfTheFirstMethodSucceed) {
  FenceSequence seq(*plan_fencing(conf(), "mail01", "reboot"));
  ASSERT_EQ(seq.next()->device, "psu-a");
  seq.record({0, false, ""});
  ASSERT_EQ(seq.next()->device, "psu-b");
  seq.record({0, false, ""});
  EXPECT_EQ(seq.next(), nullptr);
  EXPECT_TRUE(seq.succeeded());
  EXPECT_EQ(seq.successful_method(), "power");
  EXPECT_EQ(seq.attempts().size(), 2u);
}

TEST(FenceSequence, OneFailedDeviceFailsTheMethodAndTheNextMethodIsTried) {
  FenceSequence seq(*plan_fencing(conf(), "mail01", "reboot"));
  seq.record({0, false, ""});                    // psu-a ok
  seq.record({1, false, "connection refused"});  // psu-b fails: method "power" failed
  ASSERT_NE(seq.next(), nullptr);
  EXPECT_EQ(seq.next()->method, "human");
  EXPECT_EQ(seq.next()->device, "manual");
  seq.record({0, false, ""});
  EXPECT_TRUE(seq.finished());
  EXPECT_TRUE(seq.succeeded());
  EXPECT_EQ(seq.successful_method(), "human");
  ASSERT_EQ(seq.attempts().size(), 3u);
  EXPECT_EQ(seq.attempts()[1].action, "reboot");
  EXPECT_EQ(seq.attempts()[0].action, "off");
}

TEST(FenceSequence, EveryMethodFailedIsAFailureNamingEachDevice) {
  FenceSequence seq(*plan_fencing(conf(), "mail01", "reboot"));
  seq.record({1, false, "no route to host"});  // psu-a fails: skip psu-b
  EXPECT_EQ(seq.next()->device, "manual");
  seq.record({-1, true, ""});  // manual timed out
  EXPECT_TRUE(seq.finished());
  EXPECT_FALSE(seq.succeeded());
  EXPECT_EQ(seq.next(), nullptr);
  const std::string summary = seq.failure_summary();
  EXPECT_NE(summary.find("psu-a (fence_apc) exit 1: no route to host"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("manual (fence_tandem_manual) timed out"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("psu-b"), std::string::npos);
}

TEST(FenceSequence, TimeoutWithExitZeroStillCountsAsFailure) {
  FenceSequence seq(*plan_fencing(conf(), "mail02", "reboot"));
  seq.record({0, true, ""});
  EXPECT_TRUE(seq.finished());
  EXPECT_FALSE(seq.succeeded());
}

}  // namespace
}  // namespace tandem::fence
