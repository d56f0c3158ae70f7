#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>

#include "cluster/cluster_conf.h"
#include "fence/fence_history.h"
#include "fence/fence_node.h"

namespace tandem::fence {
namespace {

constexpr const char* kConf = R"(<cluster name="mail" config_version="1">
  <fence_daemon post_fail_delay="9"/>
  <clusternodes>
    <clusternode name="mail01" nodeid="1">
      <fence>
        <method name="1"><device name="ipmi01"/></method>
        <method name="2"><device name="manual"/></method>
      </fence>
    </clusternode>
    <clusternode name="mail02" nodeid="2"/>
  </clusternodes>
  <fencedevices>
    <fencedevice name="ipmi01" agent="fence_tandem_ipmilan" ipaddr="10.0.0.1"/>
    <fencedevice name="manual" agent="fence_tandem_manual"/>
  </fencedevices>
</cluster>)";

class FenceNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-fencenode-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto c = cluster::parse_cluster_conf(kConf, "cluster.conf");
    ASSERT_TRUE(c) << c.error().message;
    conf_ = *c;
    runtime_.history_path = dir_ + "/history";
    runtime_.sleep = [this](std::chrono::milliseconds d) { slept_ += d; };
    runtime_.now_unix_ms = [this] { return clock_ms_ += 1000; };
    runtime_.run_agent = [this](const DeviceInvocation& d) {
      ran_.push_back(d.device);
      auto it = results_.find(d.device);
      return it == results_.end() ? AgentOutcome{0, false, ""} : it->second;
    };
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string dir_;
  cluster::ClusterConf conf_;
  FenceRuntime runtime_;
  std::chrono::milliseconds slept_{0};
  std::int64_t clock_ms_ = 1'700'000'000'000;
  std::vector<std::string> ran_;
  std::map<std::string, AgentOutcome> results_;
};

TEST_F(FenceNodeTest, FirstMethodSucceedsAndIsRecorded) {
  FenceRequest req{"mail01", "mail02", "reboot", false};
  auto r = fence_node(conf_, req, runtime_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->method, "1");
  EXPECT_EQ(ran_, std::vector<std::string>{"ipmi01"});
  EXPECT_EQ(slept_.count(), 0);  // no post_fail_delay when not after a failure
  auto h = read_history(runtime_.history_path);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->events.size(), 1u);
  const proto::FenceEvent& e = h->events[0];
  EXPECT_EQ(e.victim(), "mail01");
  EXPECT_EQ(e.victim_nodeid(), 1u);
  EXPECT_EQ(e.requester(), "mail02");
  EXPECT_TRUE(e.success());
  EXPECT_EQ(e.method(), "1");
  EXPECT_LT(e.started_unix_ms(), e.finished_unix_ms());
  ASSERT_EQ(e.attempts_size(), 1);
  EXPECT_EQ(e.attempts(0).agent(), "fence_tandem_ipmilan");
  EXPECT_EQ(e.attempts(0).action(), "reboot");
}

TEST_F(FenceNodeTest, AfterFailureWaitsPostFailDelayThenFallsBackToManual) {
  results_["ipmi01"] = AgentOutcome{1, false, "BMC unreachable"};
  FenceRequest req{"mail01", "mail02", "off", true};
  auto r = fence_node(conf_, req, runtime_);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->method, "2");
  EXPECT_EQ(slept_, std::chrono::seconds(9));
  EXPECT_EQ(ran_, (std::vector<std::string>{"ipmi01", "manual"}));
  ASSERT_EQ(r->event.attempts_size(), 2);
  EXPECT_EQ(r->event.attempts(0).detail(), "BMC unreachable");
  EXPECT_EQ(r->event.attempts(1).action(), "off");
}

TEST_F(FenceNodeTest, AllMethodsFailedIsAFailedResultInTheHistory) {
  results_["ipmi01"] = AgentOutcome{1, false, "BMC unreachable"};
  results_["manual"] = AgentOutcome{1, false, "no acknowledgement"};
  auto r = fence_node(conf_, FenceRequest{"mail01", "x", "reboot", false}, runtime_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->success);
  EXPECT_NE(r->message.find("BMC unreachable"), std::string::npos);
  auto h = read_history(runtime_.history_path);
  ASSERT_EQ(h->events.size(), 1u);
  EXPECT_FALSE(h->events[0].success());
  EXPECT_EQ(h->events[0].method(), "2");  // the last method tried
}

TEST_F(FenceNodeTest, NodeWithoutMethodsIsAnErrorNamingTheLine) {
  auto r = fence_node(conf_, FenceRequest{"mail02", "x", "reboot", false}, runtime_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cluster.conf:10"), std::string::npos) << r.error().message;
}

TEST_F(FenceNodeTest, UnwritableHistoryIsReportedButFencingStillCounts) {
  runtime_.history_path = "/proc/no-such-dir/history";
  auto r = fence_node(conf_, FenceRequest{"mail01", "x", "reboot", false}, runtime_);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->success);
  EXPECT_FALSE(r->history_problem.empty());
}

TEST_F(FenceNodeTest, ConcurrentRequestsForOneVictimFenceItOnce) {
  std::atomic<int> runs{0};
  runtime_.lock_dir = dir_ + "/locks";
  runtime_.now_unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  runtime_.run_agent = [&runs](const DeviceInvocation&) {
    ++runs;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return AgentOutcome{0, false, ""};
  };
  Result<FenceResult> a = make_error("not run");
  Result<FenceResult> b = make_error("not run");
  std::thread ta([&] {
    a = fence_node(conf_, FenceRequest{"mail01", "r0", "reboot", false}, runtime_);
  });
  std::thread tb([&] {
    b = fence_node(conf_, FenceRequest{"mail01", "r1", "reboot", false}, runtime_);
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_TRUE(a->success);
  EXPECT_TRUE(b->success);
  EXPECT_EQ(runs.load(), 1);
  EXPECT_NE(a->already_fenced, b->already_fenced);
  auto h = read_history(runtime_.history_path);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->events.size(), 1u);

  // A later request fences again: the earlier success is older than it.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c = fence_node(conf_, FenceRequest{"mail01", "r2", "reboot", false}, runtime_);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->already_fenced);
  EXPECT_EQ(runs.load(), 2);
}

TEST(RecentSuccess, OnlySuccessesOfTheVictimSinceTheGivenTime) {
  std::vector<proto::FenceEvent> h(4);
  h[0].set_victim("mail01");
  h[0].set_success(true);
  h[0].set_finished_unix_ms(100);
  h[1].set_victim("mail01");
  h[1].set_success(false);
  h[1].set_finished_unix_ms(300);
  h[2].set_victim("mail02");
  h[2].set_success(true);
  h[2].set_finished_unix_ms(400);
  h[3].set_victim("mail01");
  h[3].set_success(true);
  h[3].set_finished_unix_ms(250);
  EXPECT_EQ(recent_success(h, "mail01", 200), &h[3]);
  EXPECT_EQ(recent_success(h, "mail01", 260), nullptr);
  EXPECT_EQ(recent_success(h, "mail02", 0), &h[2]);
  EXPECT_EQ(recent_success(h, "mail03", 0), nullptr);
}

}  // namespace
}  // namespace tandem::fence
