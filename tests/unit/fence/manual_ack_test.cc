#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "fence/fence_node.h"
#include "fence/manual_ack.h"

namespace tandem::fence {
namespace {

class ManualAckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-manual-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  ManualRequest request(const std::string& node, pid_t pid = getpid()) {
    return ManualRequest{node, pid, 1700000000, "testhost"};
  }
  std::string dir_;
};

TEST_F(ManualAckTest, AcknowledgeNeedsAPendingRequest) {
  ManualFenceDir dir(dir_ + "/run");
  auto r = dir.acknowledge("mail02", "root");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no manual fencing request is pending for node mail02"),
            std::string::npos);

  ASSERT_TRUE(dir.create_request(request("mail02")));
  EXPECT_EQ(*dir.check("mail02"), ManualOutcome::kPending);
  auto pending = dir.pending_request("mail02");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->pid, getpid());
  EXPECT_EQ(pending->host, "testhost");
  ASSERT_TRUE(dir.acknowledge("mail02", "alice"));
  EXPECT_EQ(*dir.check("mail02"), ManualOutcome::kAcknowledged);
  EXPECT_EQ(dir.acknowledged_by("mail02"), "alice");
  // Another node's request is unaffected.
  EXPECT_FALSE(dir.acknowledge("mail01", "root"));
}

TEST_F(ManualAckTest, StaleRequestOfADeadAgentIsRefused) {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a pid that no longer runs
  ManualFenceDir dir(dir_);
  ASSERT_TRUE(dir.create_request(request("mail02", child)));
  auto r = dir.acknowledge("mail02", "root");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("stale"), std::string::npos);
}

TEST_F(ManualAckTest, OldAcknowledgementDoesNotSatisfyANewRequest) {
  ManualFenceDir dir(dir_);
  ASSERT_TRUE(dir.create_request(request("mail02")));
  ASSERT_TRUE(dir.acknowledge("mail02", "root"));
  ASSERT_TRUE(dir.create_request(request("mail02")));  // a new fencing attempt
  EXPECT_EQ(*dir.check("mail02"), ManualOutcome::kPending);
  dir.clear("mail02");
  EXPECT_FALSE(dir.pending_request("mail02"));
}

TEST_F(ManualAckTest, WaitReturnsOnAcknowledgementFromAnotherThread) {
  ManualFenceDir dir(dir_);
  ASSERT_TRUE(dir.create_request(request("mail02")));
  std::thread acker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ManualFenceDir other(dir_);
    EXPECT_TRUE(other.acknowledge("mail02", "root"));
  });
  const auto start = std::chrono::steady_clock::now();
  auto outcome = dir.wait("mail02", std::chrono::seconds(20));
  acker.join();
  ASSERT_TRUE(outcome);
  EXPECT_EQ(*outcome, ManualOutcome::kAcknowledged);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ManualAckTest, WaitTimesOutWhilePending) {
  ManualFenceDir dir(dir_);
  ASSERT_TRUE(dir.create_request(request("mail02")));
  auto outcome = dir.wait("mail02", std::chrono::milliseconds(300));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(*outcome, ManualOutcome::kPending);
}

TEST_F(ManualAckTest, NodeRejoinedCancelsThePendingManualFence) {
  ManualFenceDir dir(dir_);
  EXPECT_FALSE(cancel_manual_fencing(dir_, "mail02", "rejoined"));  // nothing pending
  ASSERT_TRUE(dir.create_request(request("mail02")));
  ASSERT_TRUE(cancel_manual_fencing(dir_, "mail02", "rejoined with clean state"));
  auto outcome = dir.wait("mail02", std::chrono::seconds(5));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(*outcome, ManualOutcome::kRejoined);
}

TEST_F(ManualAckTest, NodeNamesThatAreNotSafeFileNamesAreRefused) {
  ManualFenceDir dir(dir_);
  for (const char* bad : {"", "../etc/passwd", ".hidden", "a/b", "a b"}) {
    EXPECT_FALSE(dir.create_request(request(bad))) << bad;
    EXPECT_FALSE(dir.acknowledge(bad, "root")) << bad;
  }
  EXPECT_TRUE(check_node_name("mail01.example.com"));
}

}  // namespace
}  // namespace tandem::fence
