#include "net/peer_link.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>

#include "free_port.h"

namespace tandem::net {
namespace {

using ::tandem::testing::free_port;

using namespace std::chrono_literals;
using daemon::Clock;
using daemon::EventLoop;

struct Node {
  PeerLinkConfig config;
  std::unique_ptr<PeerLink> link;
  int established = 0;
  int lost = 0;
  std::optional<LinkEstablished> info;
  std::vector<Frame> frames;
  std::string lost_reason;
};

class PeerLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    const uint16_t pa = free_port();
    uint16_t pb = free_port();
    while (pb == pa) pb = free_port();
    a_.config = make_config("alpha", 1, "beta", 2, pa, pb, "s3cret");
    b_.config = make_config("beta", 2, "alpha", 1, pb, pa, "s3cret");
  }
  void TearDown() override {
    a_.link.reset();
    b_.link.reset();
  }

  static PeerLinkConfig make_config(std::string me, uint32_t my_id, std::string peer,
                                    uint32_t peer_id, uint16_t my_port, uint16_t peer_port,
                                    std::string secret) {
    PeerLinkConfig c;
    c.handshake.resource = "r0";
    c.handshake.local_node = std::move(me);
    c.handshake.local_node_id = my_id;
    c.handshake.peer_node = std::move(peer);
    c.handshake.shared_secret = std::move(secret);
    c.handshake.hmac_alg = "sha256";
    c.peer_node_id = peer_id;
    c.listen = {false, "127.0.0.1", my_port};
    c.peer = {false, "127.0.0.1", peer_port};
    c.connect_interval = 200ms;
    c.handshake_timeout = 2000ms;
    return c;
  }

  void make(Node& n) {
    Node* np = &n;
    n.link = std::make_unique<PeerLink>(
        *loop_, n.config,
        PeerLink::Callbacks{
            .established =
                [np](const LinkEstablished& info) {
                  ++np->established;
                  np->info = info;
                },
            .frame = [np](Frame&& f) { np->frames.push_back(std::move(f)); },
            .lost =
                [np](const std::string& reason) {
                  ++np->lost;
                  np->lost_reason = reason;
                },
        });
  }

  template <typename Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
      EXPECT_TRUE(loop_->run_once(20ms).ok());
    }
    return done();
  }
  // Both links made and started; true once both are connected.
  bool start_both_connected() {
    make(a_);
    make(b_);
    if (!a_.link->start().ok() || !b_.link->start().ok()) return false;
    return run_until([&] { return a_.link->connected() && b_.link->connected(); });
  }
  void run_for(std::chrono::milliseconds d) {
    const auto deadline = Clock::now() + d;
    while (Clock::now() < deadline) EXPECT_TRUE(loop_->run_once(20ms).ok());
  }

  std::unique_ptr<EventLoop> loop_;
  Node a_;
  Node b_;
};

TEST_F(PeerLinkTest, LowerNodeIsPreferredByIdThenName) {
  EXPECT_TRUE(local_dials_preferred(a_.config));
  EXPECT_FALSE(local_dials_preferred(b_.config));
  PeerLinkConfig same = a_.config;
  same.handshake.local_node_id = 0;
  same.peer_node_id = 0;
  EXPECT_TRUE(local_dials_preferred(same));  // "alpha" < "beta"
  same.handshake.local_node = "zulu";
  EXPECT_FALSE(local_dials_preferred(same));
}

TEST_F(PeerLinkTest, ConnectsAuthenticatesAndCarriesFrames) {
  make(a_);
  make(b_);
  ASSERT_TRUE(a_.link->start().ok());
  ASSERT_TRUE(b_.link->start().ok());
  EXPECT_EQ(a_.link->state(), PeerLink::State::kConnecting);
  ASSERT_TRUE(run_until([&] { return a_.link->connected() && b_.link->connected(); }));
  EXPECT_EQ(a_.established, 1);
  EXPECT_EQ(b_.established, 1);
  // The connection kept is the one the lower node (alpha, id 1) dialled.
  EXPECT_TRUE(a_.info->dialled_by_us);
  EXPECT_FALSE(b_.info->dialled_by_us);
  EXPECT_EQ(a_.info->peer_node_id, 2u);
  EXPECT_EQ(b_.info->peer_node_id, 1u);

  const std::string msg = "not protobuf, but opaque to the link";
  std::vector<std::byte> payload(200000);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7);
  ASSERT_TRUE(
      a_.link->send(FrameType::kWrite, 0, std::as_bytes(std::span(msg.data(), msg.size())), payload)
          .ok());
  ASSERT_TRUE(b_.link->send(FrameType::kPing, 0, {}).ok());
  ASSERT_TRUE(run_until([&] { return !b_.frames.empty() && !a_.frames.empty(); }));
  EXPECT_EQ(b_.frames[0].header.type, FrameType::kWrite);
  EXPECT_TRUE(std::ranges::equal(b_.frames[0].payload, payload));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b_.frames[0].message.data()),
                        b_.frames[0].message.size()),
            msg);
  EXPECT_EQ(a_.frames[0].header.type, FrameType::kPing);
  // No churn afterwards: exactly one connection stays up.
  run_for(600ms);
  EXPECT_EQ(a_.established, 1);
  EXPECT_EQ(b_.lost, 0);
}

// A burst larger than the socket buffers: the first payload frames go out
// straight from the caller's buffer (partly, once the socket is full), the
// rest is queued behind them; the peer reads straight into its decoder.
// Every frame must arrive whole and in order, small ones between them too.
TEST_F(PeerLinkTest, ABurstBeyondTheSocketBuffersArrivesWholeAndInOrder) {
  ASSERT_TRUE(start_both_connected());
  constexpr int kFrames = 24;
  auto payload_of = [](int i) {
    std::vector<std::byte> p(kMaxPayloadBytes - static_cast<size_t>(i) * 4096);
    for (size_t k = 0; k < p.size(); ++k)
      p[k] = static_cast<std::byte>((k * 31 + static_cast<size_t>(i)) & 0xff);
    return p;
  };
  for (int i = 0; i < kFrames; ++i) {
    const std::string msg = "frame " + std::to_string(i);
    const std::vector<std::byte> payload = payload_of(i);
    ASSERT_TRUE(
        a_.link
            ->send(FrameType::kWrite, 0, std::as_bytes(std::span(msg.data(), msg.size())), payload)
            .ok());
    ASSERT_TRUE(a_.link->send(FrameType::kPing, 0, {}).ok());
  }
  EXPECT_GT(a_.link->send_queue_bytes(), 0U);  // the socket did not take it all
  ASSERT_TRUE(run_until([&] { return b_.frames.size() == 2 * kFrames; }, 20000ms));
  for (int i = 0; i < kFrames; ++i) {
    const Frame& f = b_.frames[2 * static_cast<size_t>(i)];
    ASSERT_EQ(f.header.type, FrameType::kWrite) << i;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.message.data()), f.message.size()),
              "frame " + std::to_string(i));
    EXPECT_TRUE(std::ranges::equal(f.payload, payload_of(i)))
        << "payload of frame " << i << " differs";
    EXPECT_EQ(b_.frames[2 * static_cast<size_t>(i) + 1].header.type, FrameType::kPing) << i;
  }
  EXPECT_EQ(a_.link->send_queue_bytes(), 0U);
  EXPECT_EQ(b_.lost, 0);
}

TEST_F(PeerLinkTest, SimultaneousDialsSettleOnTheLowerNodesConnection) {
  // Both dial at once (the higher node normally waits one connect-int).
  a_.config.connect_interval = 50ms;
  b_.config.connect_interval = 50ms;
  make(a_);
  make(b_);
  ASSERT_TRUE(b_.link->start().ok());
  ASSERT_TRUE(a_.link->start().ok());
  ASSERT_TRUE(run_until([&] { return a_.link->connected() && b_.link->connected(); }));
  run_for(500ms);
  ASSERT_TRUE(a_.link->connected());
  ASSERT_TRUE(b_.link->connected());
  EXPECT_TRUE(a_.info->dialled_by_us);
  EXPECT_FALSE(b_.info->dialled_by_us);
  // Both sides agree on the link: a frame crosses it.
  ASSERT_TRUE(b_.link->send(FrameType::kPing, 0, {}).ok());
  EXPECT_TRUE(run_until([&] { return !a_.frames.empty(); }));
}

TEST_F(PeerLinkTest, WrongSecretIsRefusedOnBothSidesWithAReason) {
  b_.config.handshake.shared_secret = "other";
  make(a_);
  make(b_);
  ASSERT_TRUE(a_.link->start().ok());
  ASSERT_TRUE(b_.link->start().ok());
  EXPECT_TRUE(
      run_until([&] { return !a_.link->last_error().empty() && !b_.link->last_error().empty(); }));
  run_for(300ms);
  EXPECT_EQ(a_.established, 0);
  EXPECT_EQ(b_.established, 0);
  EXPECT_NE(a_.link->last_error().find("wrong shared-secret"), std::string::npos)
      << a_.link->last_error();
  EXPECT_NE(b_.link->last_error().find("wrong shared-secret"), std::string::npos)
      << b_.link->last_error();
}

TEST_F(PeerLinkTest, WrongPeerNameIsRefused) {
  b_.config.handshake.local_node = "gamma";
  a_.config.handshake.shared_secret.clear();
  b_.config.handshake.shared_secret.clear();
  make(a_);
  make(b_);
  ASSERT_TRUE(a_.link->start().ok());
  ASSERT_TRUE(b_.link->start().ok());
  EXPECT_TRUE(run_until([&] {
    return a_.link->last_error().find("expects 'beta'") != std::string::npos;
  })) << a_.link->last_error();
  EXPECT_EQ(a_.established, 0);
}

TEST_F(PeerLinkTest, MalformedBytesCloseOnlyThatConnection) {
  make(b_);
  ASSERT_TRUE(b_.link->start().ok());
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(b_.config.listen.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  const char junk[] = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_GT(write(fd, junk, sizeof junk - 1), 0);
  EXPECT_TRUE(run_until([&] {
    return b_.link->last_error().find("malformed frame") != std::string::npos;
  })) << b_.link->last_error();
  // The daemon closed the connection: the client reads EOF (after the Hello).
  char buf[4096];
  ssize_t n = 0;
  size_t total = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0) total += static_cast<size_t>(n);
  EXPECT_EQ(n, 0);
  EXPECT_GT(total, 16u);  // at least our Hello frame
  close(fd);
  // The real peer still gets through afterwards.
  make(a_);
  ASSERT_TRUE(a_.link->start().ok());
  EXPECT_TRUE(run_until([&] { return a_.link->connected() && b_.link->connected(); }));
}

// Connects to `port` from `source`, returns the bytes received until EOF
// (or -1 when the server kept the connection open for 2 s).
ssize_t bytes_until_close(const char* source, uint16_t port, EventLoop& loop) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  ssize_t total = 0;
  const auto deadline = Clock::now() + 2s;
  while (Clock::now() < deadline) {
    EXPECT_TRUE(loop.run_once(10ms).ok());
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) {
      close(fd);
      return total;
    }
    if (n > 0) total += n;
  }
  close(fd);
  return -1;
}

TEST_F(PeerLinkTest, AcceptsConnectionsOnlyFromThePeersAddress) {
  b_.config.peer.host = "127.0.0.2";  // a loopback address, not the one we connect from
  make(b_);
  ASSERT_TRUE(b_.link->start().ok());
  // From elsewhere: closed at once, not even a Hello.
  EXPECT_EQ(bytes_until_close("127.0.0.1", b_.config.listen.port, *loop_), 0);
  // From the peer's address: the handshake starts (Hello), then the
  // handshake timeout or our silence keeps it open.
  b_.config.handshake_timeout = 500ms;
  make(b_);
  auto started = b_.link->start();
  ASSERT_TRUE(started.ok()) << started.error().message;
  const ssize_t got = bytes_until_close("127.0.0.2", b_.config.listen.port, *loop_);
  EXPECT_GT(got, 16);  // at least the Hello frame, then closed by the timeout
}

TEST_F(PeerLinkTest, ReconnectsAfterThePeerRestarts) {
  ASSERT_TRUE(start_both_connected());
  b_.link.reset();  // the peer's daemon goes away
  ASSERT_TRUE(run_until([&] { return a_.lost == 1; }));
  EXPECT_NE(a_.lost_reason.find("closed the connection"), std::string::npos) << a_.lost_reason;
  EXPECT_EQ(a_.link->state(), PeerLink::State::kConnecting);
  b_.established = 0;
  make(b_);
  ASSERT_TRUE(b_.link->start().ok());
  EXPECT_TRUE(run_until([&] { return a_.link->connected() && b_.link->connected(); }));
  EXPECT_EQ(a_.established, 2);
}

TEST_F(PeerLinkTest, StopReportsLossAndGoesStandAlone) {
  ASSERT_TRUE(start_both_connected());
  a_.link->stop("disconnect requested by the administrator");
  EXPECT_EQ(a_.lost, 1);
  EXPECT_EQ(a_.link->state(), PeerLink::State::kStandAlone);
  EXPECT_FALSE(a_.link->send(FrameType::kPing, 0, {}).ok());
  EXPECT_TRUE(run_until([&] { return b_.lost == 1; }));
  // b keeps trying; a does not listen any more, so b stays Connecting.
  run_for(500ms);
  EXPECT_EQ(b_.link->state(), PeerLink::State::kConnecting);
}

TEST_F(PeerLinkTest, ListenAddressInUseIsAClearError) {
  make(a_);
  ASSERT_TRUE(a_.link->start().ok());
  Node other;
  other.config = a_.config;
  make(other);
  auto r = other.link->start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos);
  EXPECT_NE(r.error().message.find("resource r0"), std::string::npos);
}

}  // namespace
}  // namespace tandem::net
