// NbdServer end to end over real sockets with a FileVolume: a minimal
// blocking client written here negotiates with NBD_OPT_GO and exchanges
// requests, so that the runtime (sockets, threads, completions) is tested
// without any external package.
#include "nbd/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "nbd/file_volume.h"
#include "nbd/protocol.h"
#include "temp_dir.h"
#include "wire_helpers.h"

namespace tandem::nbd {
namespace {

using namespace test;

constexpr uint64_t kSize = 4 << 20;

class Client {
 public:
  explicit Client(int fd) : fd_(fd) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  static Client unix_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return Client(fd);
  }
  static Client tcp_loopback(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return Client(fd);
  }
  Client(Client&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

  void send(const Bytes& b) {
    ASSERT_EQ(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
  }
  // Reads exactly n bytes; returns fewer only when the server closed.
  Bytes recv(size_t n) {
    Bytes out(n);
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }

  // Greeting, client flags and NBD_OPT_GO; returns the transmission flags.
  uint16_t go(const std::string& name) {
    Reader greeting(recv(18));
    EXPECT_EQ(greeting.u64(), 0x4e42444d41474943ULL);
    send(concat({client_flags(3), option(kOptGo, go_data(name, {kInfoBlockSize}))}));
    uint16_t flags = 0;
    for (;;) {
      Reader head(recv(20));
      EXPECT_EQ(head.u64(), 0x0003e889045565a9ULL);
      head.u32();
      const uint32_t type = head.u32();
      Bytes data = recv(head.u32());
      if (type == kRepAck) break;
      EXPECT_EQ(type, kRepInfo);
      Reader info(data);
      if (info.u16() == kInfoExport) {
        EXPECT_EQ(info.u64(), kSize);
        flags = info.u16();
      }
    }
    return flags;
  }

  // One request and its simple reply; returns the error and fills `data`
  // for a successful read.
  uint32_t call(uint16_t type, uint16_t flags, uint64_t offset, uint32_t length,
                const Bytes& payload, Bytes* data = nullptr) {
    const uint64_t cookie = ++cookie_;
    send(concat({request(flags, type, cookie, offset, length), payload}));
    Reader r(recv(16));
    const SimpleReply rep = read_simple_reply(r);
    EXPECT_EQ(rep.cookie, cookie);
    if (type == kCmdRead && rep.error == 0 && data != nullptr) *data = recv(length);
    return rep.error;
  }

 private:
  int fd_;
  uint64_t cookie_ = 0;
};

class NbdServerTest : public ::testing::Test {
 protected:
  void start(bool read_only) {
    const std::string path = dir_.file("disk.img");
    std::ofstream(path).close();
    std::filesystem::resize_file(path, kSize);
    auto v = FileVolume::open(path, {.read_only = read_only});
    ASSERT_TRUE(v) << v.error().message;
    volume_ = std::move(*v);
    server_ = std::make_unique<NbdServer>(
        std::vector<ServedExport>{ServedExport{"r0", "test", volume_.get()}});
    socket_ = dir_.file("nbd.sock");
    auto listening = server_->listen_unix(socket_);
    ASSERT_TRUE(listening) << listening.error().message;
    auto port = server_->listen_tcp(TcpAddress{"127.0.0.1", 0});
    ASSERT_TRUE(port) << port.error().message;
    tcp_port_ = *port;
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  TempDir dir_;
  std::unique_ptr<FileVolume> volume_;
  std::unique_ptr<NbdServer> server_;
  std::string socket_;
  uint16_t tcp_port_ = 0;
  std::thread thread_;
};

TEST_F(NbdServerTest, WritesReadsAndFlushesOverAUnixSocket) {
  start(false);
  Client c = Client::unix_socket(socket_);
  const uint16_t flags = c.go("r0");
  EXPECT_EQ(flags & kTxReadOnly, 0);
  EXPECT_NE(flags & kTxCanMultiConn, 0);
  const Bytes data = pattern(1 << 20, 5);
  EXPECT_EQ(c.call(kCmdWrite, kCmdFlagFua, 4096, 1 << 20, data), 0u);
  EXPECT_EQ(c.call(kCmdFlush, 0, 0, 0, {}), 0u);
  Bytes back;
  EXPECT_EQ(c.call(kCmdRead, 0, 4096, 1 << 20, {}, &back), 0u);
  EXPECT_EQ(back, data);
  EXPECT_EQ(c.call(kCmdWriteZeroes, 0, 8192, 4096, {}), 0u);
  EXPECT_EQ(c.call(kCmdRead, 0, 8192, 4096, {}, &back), 0u);
  EXPECT_EQ(back, Bytes(4096));
  EXPECT_EQ(c.call(kCmdRead, 0, kSize - 1, 2, {}), kErrInval);
}

TEST_F(NbdServerTest, PipelinedRequestsAllGetAnswers) {
  start(false);
  Client c = Client::tcp_loopback(tcp_port_);
  c.go("r0");
  Bytes wire;
  for (uint64_t i = 0; i < 200; ++i) {
    const Bytes req = i % 2 == 0 ? concat({request(0, kCmdWrite, i, i * 4096, 4096),
                                           pattern(4096, static_cast<uint8_t>(i))})
                                 : request(0, kCmdRead, i, (i - 1) * 4096, 4096);
    wire.insert(wire.end(), req.begin(), req.end());
  }
  c.send(wire);
  std::vector<bool> seen(200, false);
  for (int n = 0; n < 200; ++n) {
    Reader r(c.recv(16));
    const SimpleReply rep = read_simple_reply(r);
    ASSERT_LT(rep.cookie, 200u);
    EXPECT_EQ(rep.error, 0u);
    EXPECT_FALSE(seen[rep.cookie]);
    seen[rep.cookie] = true;
    if (rep.cookie % 2 == 1) c.recv(4096);  // read data (order among requests is free)
  }
}

TEST_F(NbdServerTest, ReadOnlyExportRefusesWritesWithEperm) {
  start(true);
  Client c = Client::unix_socket(socket_);
  EXPECT_NE(c.go("r0") & kTxReadOnly, 0);
  EXPECT_EQ(c.call(kCmdWrite, 0, 0, 512, pattern(512, 1)), kErrPerm);
  EXPECT_EQ(c.call(kCmdTrim, 0, 0, 512, {}), kErrPerm);
  Bytes back;
  EXPECT_EQ(c.call(kCmdRead, 0, 0, 512, {}, &back), 0u);
  EXPECT_EQ(back, Bytes(512));
}

TEST_F(NbdServerTest, MalformedRequestClosesTheConnectionOnly) {
  start(false);
  Client bad = Client::unix_socket(socket_);
  bad.go("r0");
  bad.send(Bytes(28, std::byte{0x55}));
  EXPECT_TRUE(bad.recv(1).empty());  // the server hung up
  Client good = Client::unix_socket(socket_);
  good.go("r0");
  EXPECT_EQ(good.call(kCmdFlush, 0, 0, 0, {}), 0u);
}

TEST_F(NbdServerTest, ALiveSocketIsNotTakenOver) {
  start(false);
  NbdServer other({ServedExport{"", "", volume_.get()}});
  auto r = other.listen_unix(socket_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("already listens"), std::string::npos);
}

TEST(NbdListen, AStaleSocketFileIsReplaced) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  // A socket file whose server is gone: bound, then closed without unlink.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto listening = listen_unix(path);
  ASSERT_TRUE(listening) << listening.error().message;
  ::close(*listening);
}

TEST(NbdListen, ARegularFileIsNotReplaced) {
  TempDir dir;
  const std::string path = dir.file("not-a-socket");
  std::ofstream(path) << "data";
  auto listening = listen_unix(path);
  ASSERT_FALSE(listening);
  EXPECT_NE(listening.error().message.find("is not a socket"), std::string::npos);
}

// Holds requests until it has `batch` of them, then completes them in
// reverse order from another thread: the runtime must route every late,
// reordered completion to the right reply.
class ReorderingVolume : public BlockVolume {
 public:
  explicit ReorderingVolume(size_t batch) : batch_(batch), data_(pattern(kSize, 11)) {}
  ~ReorderingVolume() override {
    for (std::thread& t : threads_) t.join();
  }
  uint64_t size() const override { return kSize; }
  bool read_only() const override { return false; }
  bool flush_covers_all_connections() const override { return false; }
  std::string describe() const override { return "reordering test volume"; }
  void submit(BlockRequest request, Completion done) override {
    std::lock_guard lock(mu_);
    held_.emplace_back(std::move(request), std::move(done));
    if (held_.size() >= batch_) release_locked();
  }
  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  // Completes whatever is held now, even a partial batch.
  void release() {
    std::lock_guard lock(mu_);
    release_locked();
  }

 private:
  void release_locked() {
    auto batch = std::move(held_);
    held_.clear();
    threads_.emplace_back([this, batch = std::move(batch)]() mutable {
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        BlockRequest& r = it->first;
        if (r.op == BlockOp::kRead) {
          r.data.assign(data_.begin() + static_cast<std::ptrdiff_t>(r.offset),
                        data_.begin() + static_cast<std::ptrdiff_t>(r.offset + r.length));
        }
        it->second(std::move(r), 0);
      }
    });
  }

  size_t batch_;
  Bytes data_;
  std::mutex mu_;
  std::vector<std::pair<BlockRequest, Completion>> held_;
  std::vector<std::thread> threads_;
};

TEST(NbdServerRuntime, CompletionsFromAnotherThreadInReverseOrderReachTheirReplies) {
  TempDir dir;
  ReorderingVolume volume(4);
  NbdServer server({ServedExport{"", "", &volume}});
  ASSERT_TRUE(server.listen_unix(dir.file("s.sock")));
  std::thread runner([&] { server.run(); });
  {
    Client c = Client::unix_socket(dir.file("s.sock"));
    c.go("");
    Bytes wire;
    for (uint64_t i = 1; i <= 4; ++i) {
      const Bytes req = request(0, kCmdRead, i, i * 1000, 100);
      wire.insert(wire.end(), req.begin(), req.end());
    }
    c.send(wire);
    const Bytes expected = pattern(kSize, 11);
    for (uint64_t want = 4; want >= 1; --want) {
      Reader r(c.recv(16));
      const SimpleReply rep = read_simple_reply(r);
      EXPECT_EQ(rep.cookie, want);
      EXPECT_EQ(rep.error, 0u);
      const auto from = expected.begin() + static_cast<std::ptrdiff_t>(want * 1000);
      EXPECT_EQ(c.recv(100), Bytes(from, from + 100));
    }
  }
  server.stop();
  runner.join();
}

TEST(NbdServerRuntime, StopEndsConnectionsThatAreStillOpen) {
  TempDir dir;
  ReorderingVolume volume(2);
  NbdServer server({ServedExport{"", "", &volume}});
  ASSERT_TRUE(server.listen_unix(dir.file("s.sock")));
  std::thread runner([&] { server.run(); });
  Client c = Client::unix_socket(dir.file("s.sock"));
  c.go("");
  // One read is held by the volume (it waits for a second one) while the
  // server stops: the connection ends, and the server waits for the volume
  // to complete the request before it lets go of the connection.
  c.send(request(0, kCmdRead, 1, 0, 10));
  for (int i = 0; i < 500 && volume.held() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(volume.held(), 1u);
  server.stop();
  EXPECT_TRUE(c.recv(1).empty());  // the server hung up without a reply
  volume.release();
  runner.join();
}

TEST(NbdListen, ParsesTcpAddresses) {
  auto a = parse_tcp_address("127.0.0.1:10809");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 10809);
  auto b = parse_tcp_address("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  auto c = parse_tcp_address("*:5");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->host.empty());
  EXPECT_FALSE(parse_tcp_address("localhost"));
  EXPECT_FALSE(parse_tcp_address("host:70000"));
  EXPECT_FALSE(parse_tcp_address("host:12x"));
  EXPECT_FALSE(parse_tcp_address("[::1]10809"));
}

}  // namespace
}  // namespace tandem::nbd
