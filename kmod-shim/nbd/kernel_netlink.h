// The messages tandem exchanges with the kernel's nbd driver over generic
// netlink, as bytes (sans-I/O): resolving the "nbd" family id, connecting
// /dev/nbdN to a socket whose other end an NbdSession serves, and
// disconnecting it. kernel_nbd.h sends them.
//
// Layout (little-endian host order, as netlink uses): nlmsghdr (16 bytes),
// genlmsghdr (4 bytes), then attributes (u16 length, u16 type, payload,
// padded to 4 bytes); NBD_ATTR_SOCKETS nests NBD_SOCK_ITEM which nests
// NBD_SOCK_FD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tandem::nbd::netlink {

// CTRL_CMD_GETFAMILY for `family` ("nbd").
std::vector<std::byte> get_family_request(uint32_t seq, const std::string& family = "nbd");

struct ConnectRequest {
  uint16_t family = 0;
  uint32_t seq = 0;
  uint32_t index = 0;  // N of /dev/nbdN
  uint64_t size_bytes = 0;
  uint64_t block_size = 512;
  uint64_t server_flags = 0;  // the NBD transmission flags the session offers
  uint64_t client_flags = 0;  // NBD_CFLAG_*
  int socket_fd = -1;         // the kernel's end of the socketpair
};
std::vector<std::byte> connect_request(const ConnectRequest& r);
std::vector<std::byte> disconnect_request(uint16_t family, uint32_t seq, uint32_t index);

// What one reply datagram says. Replies are bounded by the buffer the
// caller received them into; malformed ones give `malformed` with a reason.
struct Reply {
  bool malformed = false;
  std::string reason;
  // NLMSG_ERROR: 0 is the acknowledgement, otherwise a positive errno.
  std::optional<int> error;
  std::optional<uint16_t> family_id;  // CTRL_ATTR_FAMILY_ID
  std::optional<uint32_t> nbd_index;  // NBD_ATTR_INDEX in a connect reply
  uint32_t seq = 0;
};
// Every message in one datagram, in order.
std::vector<Reply> parse_replies(std::span<const std::byte> datagram);

// The N of "/dev/nbdN", or nothing when the path is not of that form.
std::optional<uint32_t> nbd_index_of(const std::string& device_path);

}  // namespace tandem::nbd::netlink
