#include "daemon/control_server.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "daemon/control_client.h"

namespace tandem::daemon {
namespace {

using namespace std::chrono_literals;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-control-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);  // so that an unprivileged child can reach the socket
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
  }
  void TearDown() override {
    stop();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(ControlAccess access = {}) {
    auto server = ControlServer::start(
        *loop_, control_socket_path(dir_), std::move(access),
        [this](const proto::ControlRequest& req, const ClientCredentials& creds) {
          ++handled_;
          last_uid_ = creds.uid;
          proto::ControlReply reply;
          reply.set_ok(req.resource() != "bad");
          if (!reply.ok()) reply.set_error("resource bad: no such thing");
          auto* st = reply.add_resources();
          st->set_name(req.resource());
          st->set_role(req.force() ? "Primary" : "Secondary");
          return reply;
        });
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    thread_ = std::thread([this] { ASSERT_TRUE(loop_->run().ok()); });
  }
  void stop() {
    if (thread_.joinable()) {
      loop_->post([this] { loop_->stop(); });
      thread_.join();
    }
  }

  // Runs `fn` in a child process as nobody/nogroup; returns its exit code.
  template <typename Fn>
  int as_nobody(Fn fn) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(99);
      _exit(fn());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 98;
  }

  std::string dir_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
  std::atomic<int> handled_{0};
  std::atomic<uid_t> last_uid_{12345};
};

TEST_F(ControlServerTest, AnswersRequestsInOrderOnOneAndManyConnections) {
  start();
  struct stat st {};
  ASSERT_EQ(stat(control_socket_path(dir_).c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  for (int i = 0; i < 20; ++i) {
    proto::ControlRequest req;
    req.set_verb(proto::CONTROL_VERB_STATUS);
    req.set_resource("r" + std::to_string(i));
    req.set_force(i % 2 == 0);
    auto reply = control_call(dir_, req, 2000ms);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_TRUE(reply->ok());
    ASSERT_EQ(reply->resources_size(), 1);
    EXPECT_EQ(reply->resources(0).name(), "r" + std::to_string(i));
    EXPECT_EQ(reply->resources(0).role(), i % 2 == 0 ? "Primary" : "Secondary");
  }
  EXPECT_EQ(handled_.load(), 20);
  EXPECT_EQ(last_uid_.load(), 0u);
}

TEST_F(ControlServerTest, ErrorRepliesCarryTheDaemonsMessage) {
  start();
  proto::ControlRequest req;
  req.set_resource("bad");
  auto reply = control_call(dir_, req, 2000ms);
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(reply->ok());
  EXPECT_EQ(reply->error(), "resource bad: no such thing");
}

TEST_F(ControlServerTest, NoDaemonGivesAClearMessage) {
  auto reply = control_call(dir_, proto::ControlRequest(), 500ms);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(
      reply.error().message.find("tandemd is not running (no socket at " + dir_ + "/tandemd.sock)"),
      std::string::npos)
      << reply.error().message;
  EXPECT_NE(reply.error().message.find("start it with"), std::string::npos);
}

TEST_F(ControlServerTest, SecondServerOnTheSameSocketIsRefused) {
  start();
  auto second =
      ControlServer::start(*loop_, control_socket_path(dir_), {},
                           [](const auto&, const auto&) { return proto::ControlReply(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another tandemd already serves"), std::string::npos);
}

TEST_F(ControlServerTest, StaleSocketFileIsReplaced) {
  // A socket file nobody listens on, as left by a killed daemon.
  const std::string path = control_socket_path(dir_);
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);
  start();
  auto reply = control_call(dir_, proto::ControlRequest(), 2000ms);
  EXPECT_TRUE(reply.ok());
}

TEST_F(ControlServerTest, MalformedFrameGetsAnErrorReplyAndClose) {
  start();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", control_socket_path(dir_).c_str());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const unsigned char huge[4] = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_EQ(write(fd, huge, 4), 4);
  std::string got;
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  close(fd);  // read() returned 0: the daemon closed the connection
  ASSERT_GT(got.size(), 4u);
  proto::ControlReply reply;
  ASSERT_TRUE(reply.ParseFromString(got.substr(4)));
  EXPECT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(ControlServerTest, UnprivilegedUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  start();
  // The socket file (0660 root:root) keeps nobody out at connect().
  EXPECT_EQ(
      as_nobody([&] {
        auto r = control_call(dir_, proto::ControlRequest(), 1000ms);
        return !r.ok() && r.error().message.find("permission denied") != std::string::npos ? 0 : 1;
      }),
      0);
  // Even with the file opened up, the daemon checks the peer credentials.
  ASSERT_EQ(chmod(control_socket_path(dir_).c_str(), 0666), 0);
  EXPECT_EQ(as_nobody([&] {
              auto r = control_call(dir_, proto::ControlRequest(), 1000ms);
              if (!r.ok()) return 2;
              return !r->ok() && r->error().find("uid 65534 is not root") != std::string::npos ? 0
                                                                                               : 1;
            }),
            0);
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(ControlServerTest, ControlGroupMembersAreAdmitted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  start(ControlAccess{.group = 65534, .group_name = "nogroup"});
  struct stat st {};
  ASSERT_EQ(stat(control_socket_path(dir_).c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(as_nobody([&] {
              proto::ControlRequest req;
              req.set_resource("r0");
              auto r = control_call(dir_, req, 1000ms);
              return r.ok() && r->ok() ? 0 : 1;
            }),
            0);
  EXPECT_EQ(handled_.load(), 1);
  EXPECT_EQ(last_uid_.load(), 65534u);
}

}  // namespace
}  // namespace tandem::daemon
