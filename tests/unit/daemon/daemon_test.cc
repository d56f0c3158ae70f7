#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/control_client.h"
#include "free_port.h"

namespace tandem::daemon {
namespace {

using ::tandem::testing::free_port;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-daemon-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    std::ofstream(dir_ + "/a.img").close();
    std::filesystem::resize_file(dir_ + "/a.img", 8 << 20);
    port_a_ = free_port();
    port_b_ = free_port();
    std::ofstream conf(dir_ + "/tandem.conf");
    conf << "resource r0 {\n"
            "  on alpha { node-id 0; device /dev/drbd0; disk "
         << dir_ << "/a.img; meta-disk internal; address 127.0.0.1:" << port_a_ << "; }\n"
         << "  on beta { node-id 1; device /dev/drbd0; disk /nonexistent/b.img;"
            " meta-disk internal; address 127.0.0.1:"
         << port_b_ << "; }\n"
         << "}\n"
            "resource other {\n"
            "  on gamma { device /dev/drbd1; disk /x; meta-disk internal; address 127.0.0.1:3; }\n"
            "  on delta { device /dev/drbd1; disk /y; meta-disk internal; address 127.0.0.1:4; }\n"
            "}\n";
  }
  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  Result<std::unique_ptr<Daemon>> start(const std::string& node) {
    DaemonOptions o;
    o.config_path = dir_ + "/tandem.conf";
    o.node = node;
    o.run_dir = dir_ + "/run";
    return Daemon::start(*loop_, o);
  }

  proto::ControlReply call(proto::ControlVerb verb, const std::string& resource) {
    proto::ControlRequest req;
    req.set_verb(verb);
    req.set_resource(resource);
    return daemon_->handle(req);
  }

  uint16_t port_a_ = 0;
  uint16_t port_b_ = 0;
  std::string dir_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonTest, ManagesOnlyTheResourcesOfItsNode) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok()) << d.error().message;
  daemon_ = std::move(d).value();
  EXPECT_EQ(daemon_->resource_count(), 1u);
  EXPECT_TRUE(std::filesystem::exists(control_socket_path(dir_ + "/run")));

  auto all = call(proto::CONTROL_VERB_STATUS, "all");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.resources_size(), 1);
  const auto& s = all.resources(0);
  EXPECT_EQ(s.name(), "r0");
  EXPECT_EQ(s.role(), "Secondary");
  EXPECT_EQ(s.disk(), "Diskless");
  EXPECT_EQ(s.connection(), "StandAlone");
  EXPECT_EQ(s.peer_node(), "beta");
  EXPECT_EQ(s.peer_disk(), "DUnknown");

  auto other = call(proto::CONTROL_VERB_UP, "other");
  EXPECT_FALSE(other.ok());
  EXPECT_NE(other.error().find("resource other is not managed by this tandemd (node alpha"),
            std::string::npos)
      << other.error();
  EXPECT_NE(other.error().find("its resources: r0"), std::string::npos);
}

TEST_F(DaemonTest, AttachWithoutMetadataSaysToRunCreateMd) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok()) << d.error().message;
  daemon_ = std::move(d).value();
  auto reply = call(proto::CONTROL_VERB_ATTACH, "r0");
  EXPECT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("resource r0"), std::string::npos) << reply.error();
  EXPECT_NE(reply.error().find("/a.img"), std::string::npos) << reply.error();
  EXPECT_NE(reply.error().find("tandemadm create-md"), std::string::npos) << reply.error();
  ASSERT_EQ(reply.resources_size(), 1);
  EXPECT_EQ(reply.resources(0).disk(), "Diskless");
  // `up` stops at the failed attach: nothing connects.
  auto up = call(proto::CONTROL_VERB_UP, "r0");
  EXPECT_FALSE(up.ok());
  EXPECT_EQ(up.resources(0).connection(), "StandAlone");
}

TEST_F(DaemonTest, ConnectAndDisconnectWithoutADisk) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok()) << d.error().message;
  daemon_ = std::move(d).value();
  auto c = call(proto::CONTROL_VERB_CONNECT, "r0");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.resources(0).connection(), "Connecting");
  auto again = call(proto::CONTROL_VERB_CONNECT, "r0");
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.error().find("resource r0"), std::string::npos);
  auto dc = call(proto::CONTROL_VERB_DISCONNECT, "r0");
  ASSERT_TRUE(dc.ok()) << dc.error();
  EXPECT_EQ(dc.resources(0).connection(), "StandAlone");
}

TEST_F(DaemonTest, ConnectFailsClearlyWhenTheAddressIsTaken) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok());
  daemon_ = std::move(d).value();
  const int blocker = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_a_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(blocker, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(blocker, 1), 0);
  auto c = call(proto::CONTROL_VERB_CONNECT, "r0");
  close(blocker);
  EXPECT_FALSE(c.ok());
  const std::string where = "cannot listen on 127.0.0.1:" + std::to_string(port_a_);
  EXPECT_NE(c.error().find("resource r0 peer beta: " + where), std::string::npos) << c.error();
  ASSERT_EQ(c.resources_size(), 1);
  EXPECT_EQ(c.resources(0).connection(), "StandAlone");
  EXPECT_NE(c.resources(0).last_error().find(where), std::string::npos)
      << c.resources(0).last_error();
}

TEST_F(DaemonTest, PrimaryWithoutADiskIsRefusedWithAReason) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok());
  daemon_ = std::move(d).value();
  auto p = call(proto::CONTROL_VERB_PRIMARY, "r0");
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.error().find("resource r0: cannot become primary"), std::string::npos) << p.error();
  EXPECT_EQ(p.resources(0).role(), "Secondary");
}

TEST_F(DaemonTest, ConfigErrorsNameTheFile) {
  std::ofstream(dir_ + "/tandem.conf") << "resource r0 { on alpha { bogus; } }\n";
  auto d = start("alpha");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find(dir_ + "/tandem.conf:1"), std::string::npos)
      << d.error().message;
}

TEST_F(DaemonTest, SecondDaemonOnTheSameRunDirIsRefused) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok());
  daemon_ = std::move(d).value();
  auto second = start("alpha");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another tandemd already serves"), std::string::npos);
}

TEST_F(DaemonTest, ResyncVerbsNeedAConnectionAndSaySo) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok());
  daemon_ = std::move(d).value();
  for (auto verb : {proto::CONTROL_VERB_INVALIDATE, proto::CONTROL_VERB_INVALIDATE_REMOTE,
                    proto::CONTROL_VERB_VERIFY}) {
    auto r = call(verb, "r0");
    EXPECT_FALSE(r.ok()) << "verb " << verb;
    EXPECT_NE(r.error().find("r0"), std::string::npos) << r.error();
    ASSERT_EQ(r.resources_size(), 1);
  }
  auto io = call(proto::CONTROL_VERB_RESUME_IO, "r0");
  EXPECT_FALSE(io.ok());
  EXPECT_NE(io.error().find("r0"), std::string::npos) << io.error();
}

TEST_F(DaemonTest, AdjustReReadsTheFile) {
  auto d = start("alpha");
  ASSERT_TRUE(d.ok());
  daemon_ = std::move(d).value();
  // A broken file changes nothing and names the place.
  const std::string conf = dir_ + "/tandem.conf";
  std::string good;
  {
    std::ifstream in(conf);
    for (std::string line; std::getline(in, line);) good += line + "\n";
  }
  std::ofstream(conf) << good << "resource broken {\n";
  auto broken = call(proto::CONTROL_VERB_ADJUST, "r0");
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.error().find(conf + ":"), std::string::npos) << broken.error();
  EXPECT_NE(broken.error().find("nothing was changed"), std::string::npos) << broken.error();
  EXPECT_EQ(broken.resources_size(), 0);
  // A new resource for this node is reported; r0 is attached (which fails
  // without metadata, with the reason).
  std::ofstream(conf) << good
                      << "resource r9 {\n"
                         "  on alpha { node-id 0; device /dev/drbd9; disk /x9; meta-disk internal;"
                         " address 127.0.0.1:5; }\n"
                         "  on beta { node-id 1; device /dev/drbd9; disk /y9; meta-disk internal;"
                         " address 127.0.0.1:6; }\n"
                         "}\n";
  auto adjusted = call(proto::CONTROL_VERB_ADJUST, "r0");
  EXPECT_FALSE(adjusted.ok());
  EXPECT_NE(adjusted.error().find("tandemadm create-md"), std::string::npos) << adjusted.error();
  ASSERT_GE(adjusted.notes_size(), 1);
  EXPECT_NE(adjusted.notes(0).find("resource r9 is new"), std::string::npos) << adjusted.notes(0);
}

}  // namespace
}  // namespace tandem::daemon
