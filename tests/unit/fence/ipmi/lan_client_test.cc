// The UDP runtime against the scripted BMC served on a loopback socket:
// the real send/poll/recv path, retries after lost replies, forged
// datagrams in between, and a port where nothing listens.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "fake_bmc.h"
#include "fence/ipmi/lan_client.h"

namespace tandem::ipmi {
namespace {

// Serves a FakeBmc on 127.0.0.1 from a thread until destroyed.
class UdpBmc {
 public:
  explicit UdpBmc(testing::FakeBmc::User user) : bmc_(std::move(user)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot bind a loopback UDP socket";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~UdpBmc() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }

  std::uint16_t port() const { return port_; }
  testing::FakeBmc& bmc() { return bmc_; }  // only touch while no client runs
  std::atomic<int> drop_replies{0};         // lose this many replies
  std::atomic<bool> send_garbage_first{false};
  std::atomic<int> datagrams{0};

 private:
  void serve() {
    std::array<std::uint8_t, 2048> buf{};
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      ++datagrams;
      auto reply = bmc_.handle(ByteSpan(buf.data(), static_cast<std::size_t>(n)));
      if (!reply) continue;
      if (drop_replies > 0) {
        --drop_replies;
        continue;
      }
      auto* to = reinterpret_cast<sockaddr*>(&from);
      if (send_garbage_first) {
        Bytes garbage = *reply;
        garbage.back() ^= 0x5a;
        ::sendto(fd_, garbage.data(), garbage.size(), 0, to, len);
        const Bytes tiny{0x06, 0x00};
        ::sendto(fd_, tiny.data(), tiny.size(), 0, to, len);
      }
      ::sendto(fd_, reply->data(), reply->size(), 0, to, len);
    }
  }

  testing::FakeBmc bmc_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

LanClientOptions options() {
  LanClientOptions o;
  o.session.username = "admin";
  o.session.password = "secret";
  o.packet_timeout_ms = 200;
  return o;
}

TEST(LanClient, SwitchesPowerOverUdp) {
  UdpBmc server({});
  {
    auto client = LanClient::connect({"127.0.0.1", server.port()}, options());
    ASSERT_TRUE(client.ok()) << client.error().message;
    auto status = (*client)->chassis_status();
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_TRUE(status->power_on);
    ASSERT_TRUE((*client)->chassis_control(ChassisControl::kPowerDown).ok());
    status = (*client)->chassis_status();
    ASSERT_TRUE(status.ok());
    EXPECT_FALSE(status->power_on);
    EXPECT_TRUE((*client)->close().ok());
  }
  EXPECT_TRUE(server.bmc().session_closed);
}

TEST(LanClient, RetriesAfterLostRepliesAndIgnoresGarbage) {
  UdpBmc server({});
  server.drop_replies = 1;
  server.send_garbage_first = true;
  auto client = LanClient::connect({"127.0.0.1", server.port()}, options());
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto status = (*client)->chassis_status();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(status->power_on);
}

TEST(LanClient, WrongPasswordIsReportedWithoutThePassword) {
  UdpBmc server({"admin", "other-secret", Privilege::kAdministrator});
  auto client = LanClient::connect({"127.0.0.1", server.port()}, options());
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message.find("authentication failed"), std::string::npos);
  EXPECT_EQ(client.error().message.find("secret"), std::string::npos) << client.error().message;
}

TEST(LanClient, ClosedPortFailsAfterTheRetries) {
  std::uint16_t port = 0;
  {
    UdpBmc probe({});  // find a free port, then close it
    port = probe.port();
  }
  auto client = LanClient::connect({"127.0.0.1", port}, options());
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message.find("after 3 attempts"), std::string::npos)
      << client.error().message;
  EXPECT_NE(client.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_NE(client.error().message.find("port unreachable"), std::string::npos);
}

TEST(LanClient, UnresolvableHostNamesTheOption) {
  auto client = LanClient::connect({"no-such-bmc.invalid", 623}, options());
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().message.find("--ip"), std::string::npos) << client.error().message;
}

}  // namespace
}  // namespace tandem::ipmi
