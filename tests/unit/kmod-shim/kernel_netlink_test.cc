// Generic netlink messages for the kernel nbd driver
// (kmod-shim/nbd/kernel_netlink.h): byte layout against the kernel's
// structs, reply parsing with hostile lengths, and one round trip with the
// running kernel's netlink controller.
#include "nbd/kernel_netlink.h"

#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

namespace tandem::nbd::netlink {
namespace {

template <typename T>
T at(const std::vector<std::byte>& b, size_t off) {
  T v{};
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

TEST(KernelNetlink, GetFamilyRequestLayout) {
  const auto m = get_family_request(7);
  ASSERT_EQ(m.size(), 16u + 4u + 8u);  // header, genl header, "nbd\0" attribute
  EXPECT_EQ(at<uint32_t>(m, 0), m.size());
  EXPECT_EQ(at<uint16_t>(m, 4), GENL_ID_CTRL);
  EXPECT_EQ(at<uint16_t>(m, 6), NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(at<uint32_t>(m, 8), 7u);
  EXPECT_EQ(static_cast<uint8_t>(m[16]), CTRL_CMD_GETFAMILY);
  EXPECT_EQ(at<uint16_t>(m, 20), 8u);  // attribute length: 4 + "nbd\0"
  EXPECT_EQ(at<uint16_t>(m, 22), CTRL_ATTR_FAMILY_NAME);
  EXPECT_EQ(std::memcmp(m.data() + 24, "nbd", 4), 0);
}

TEST(KernelNetlink, ConnectRequestLayout) {
  ConnectRequest r;
  r.family = 0x1c;
  r.seq = 3;
  r.index = 2;
  r.size_bytes = 1ull << 30;
  r.block_size = 512;
  r.server_flags = 0x6d;
  r.client_flags = 1;
  r.socket_fd = 9;
  const auto m = connect_request(r);
  EXPECT_EQ(at<uint32_t>(m, 0), m.size());
  EXPECT_EQ(at<uint16_t>(m, 4), 0x1c);
  EXPECT_EQ(static_cast<uint8_t>(m[16]), NBD_CMD_CONNECT);
  EXPECT_EQ(static_cast<uint8_t>(m[17]), NBD_GENL_VERSION);
  // Walk the attributes as the kernel would.
  size_t pos = 20;
  std::vector<uint16_t> types;
  bool saw_fd = false;
  while (pos < m.size()) {
    const auto len = at<uint16_t>(m, pos);
    const auto type = static_cast<uint16_t>(at<uint16_t>(m, pos + 2) & NLA_TYPE_MASK);
    ASSERT_GE(len, 4u);
    types.push_back(type);
    if (type == NBD_ATTR_INDEX) {
      EXPECT_EQ(at<uint32_t>(m, pos + 4), 2u);
    }
    if (type == NBD_ATTR_SIZE_BYTES) {
      EXPECT_EQ(at<uint64_t>(m, pos + 4), 1ull << 30);
    }
    if (type == NBD_ATTR_SERVER_FLAGS) {
      EXPECT_EQ(at<uint64_t>(m, pos + 4), 0x6du);
    }
    if (type == NBD_ATTR_SOCKETS) {
      EXPECT_NE(at<uint16_t>(m, pos + 2) & NLA_F_NESTED, 0);
      // SOCKETS { SOCK_ITEM { SOCK_FD = 9 } }
      EXPECT_EQ(at<uint16_t>(m, pos), 4u + 4u + 8u);
      EXPECT_EQ(at<uint16_t>(m, pos + 6) & NLA_TYPE_MASK, NBD_SOCK_ITEM);
      EXPECT_EQ(at<uint16_t>(m, pos + 10), NBD_SOCK_FD);
      EXPECT_EQ(at<uint32_t>(m, pos + 12), 9u);
      saw_fd = true;
    }
    pos += (len + 3u) & ~3u;
  }
  EXPECT_EQ(pos, m.size());
  EXPECT_TRUE(saw_fd);
  EXPECT_EQ(types, (std::vector<uint16_t>{NBD_ATTR_INDEX, NBD_ATTR_SIZE_BYTES,
                                          NBD_ATTR_BLOCK_SIZE_BYTES, NBD_ATTR_SERVER_FLAGS,
                                          NBD_ATTR_CLIENT_FLAGS, NBD_ATTR_SOCKETS}));
}

TEST(KernelNetlink, DisconnectRequestLayout) {
  const auto m = disconnect_request(0x1c, 5, 4);
  ASSERT_EQ(m.size(), 16u + 4u + 8u);
  EXPECT_EQ(static_cast<uint8_t>(m[16]), NBD_CMD_DISCONNECT);
  EXPECT_EQ(at<uint16_t>(m, 22), NBD_ATTR_INDEX);
  EXPECT_EQ(at<uint32_t>(m, 24), 4u);
}

std::vector<std::byte> error_message(uint32_t seq, int32_t error) {
  std::vector<std::byte> b(16 + 4 + 16);
  const uint32_t len = static_cast<uint32_t>(b.size());
  const uint16_t type = NLMSG_ERROR;
  std::memcpy(b.data(), &len, 4);
  std::memcpy(b.data() + 4, &type, 2);
  std::memcpy(b.data() + 8, &seq, 4);
  std::memcpy(b.data() + 16, &error, 4);
  return b;
}

TEST(KernelNetlink, ParsesAcksAndErrors) {
  auto d = error_message(4, 0);
  const auto more = error_message(5, -ENOENT);
  d.insert(d.end(), more.begin(), more.end());
  const auto replies = parse_replies(d);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].seq, 4u);
  EXPECT_EQ(replies[0].error, 0);
  EXPECT_EQ(replies[1].error, ENOENT);
}

TEST(KernelNetlink, RejectsLengthsThatDoNotFit) {
  auto d = error_message(1, 0);
  const uint32_t too_long = 4096;
  std::memcpy(d.data(), &too_long, 4);
  auto r = parse_replies(d);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].malformed);
  const uint32_t too_short = 3;
  std::memcpy(d.data(), &too_short, 4);
  r = parse_replies(d);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].malformed);
  // A generic message whose attribute claims more than is there.
  std::vector<std::byte> g(16 + 4 + 4);
  const uint32_t len = static_cast<uint32_t>(g.size());
  const uint16_t type = GENL_ID_CTRL, alen = 200;
  std::memcpy(g.data(), &len, 4);
  std::memcpy(g.data() + 4, &type, 2);
  std::memcpy(g.data() + 20, &alen, 2);
  r = parse_replies(g);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].malformed);
  EXPECT_TRUE(parse_replies({}).empty());
}

TEST(KernelNetlink, NbdIndexOfDevicePath) {
  EXPECT_EQ(nbd_index_of("/dev/nbd0"), 0u);
  EXPECT_EQ(nbd_index_of("/dev/nbd15"), 15u);
  EXPECT_FALSE(nbd_index_of("/dev/nbd").has_value());
  EXPECT_FALSE(nbd_index_of("/dev/nbd1p1").has_value());
  EXPECT_FALSE(nbd_index_of("/dev/sda").has_value());
  EXPECT_FALSE(nbd_index_of("/dev/nbd12345678").has_value());
}

// The running kernel's netlink controller understands the request encoder
// (asked for its own family "nlctrl", which always exists) and our parser
// reads its answer.
TEST(KernelNetlink, KernelAnswersTheFamilyLookup) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) GTEST_SKIP() << "no generic netlink socket here: " << std::strerror(errno);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (const char* family : {"nlctrl", "tandem-no-such-family"}) {
    const auto req = get_family_request(42, family);
    ASSERT_EQ(
        sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel),
        static_cast<ssize_t>(req.size()));
    std::optional<uint16_t> id;
    std::optional<int> error;
    std::vector<std::byte> buf(16384);
    while (!error) {
      const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      ASSERT_GT(n, 0) << std::strerror(errno);
      for (const Reply& r : parse_replies(std::span(buf.data(), static_cast<size_t>(n)))) {
        ASSERT_FALSE(r.malformed) << r.reason;
        EXPECT_EQ(r.seq, 42u);
        if (r.family_id) id = r.family_id;
        if (r.error) error = r.error;
      }
    }
    if (std::string(family) == "nlctrl") {
      EXPECT_EQ(*error, 0);
      ASSERT_TRUE(id.has_value());
      EXPECT_EQ(*id, GENL_ID_CTRL);
    } else {
      EXPECT_EQ(*error, ENOENT);  // what tandem reports as "module not loaded"
    }
  }
  close(fd);
}

}  // namespace
}  // namespace tandem::nbd::netlink
