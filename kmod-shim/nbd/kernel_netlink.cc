#include "nbd/kernel_netlink.h"

#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace tandem::nbd::netlink {

namespace {

constexpr size_t kNlHeader = sizeof(nlmsghdr);      // 16
constexpr size_t kGenlHeader = sizeof(genlmsghdr);  // 4
constexpr size_t kAttrHeader = sizeof(nlattr);      // 4
constexpr size_t kMaxDatagram = 64 * 1024;

size_t aligned(size_t n) {
  return (n + 3) & ~size_t{3};
}

template <typename T>
void put(std::vector<std::byte>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof value);
}

template <typename T>
T get(std::span<const std::byte> in, size_t at) {
  T v{};
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

// Builds one generic netlink message; attributes are appended in place.
class Message {
 public:
  Message(uint16_t type, uint16_t flags, uint32_t seq, uint8_t cmd, uint8_t version) {
    bytes_.resize(kNlHeader + kGenlHeader);
    put<uint16_t>(bytes_, 4, type);
    put<uint16_t>(bytes_, 6, flags);
    put<uint32_t>(bytes_, 8, seq);
    put<uint32_t>(bytes_, 12, 0);  // port id: the kernel
    bytes_[kNlHeader] = std::byte{cmd};
    bytes_[kNlHeader + 1] = std::byte{version};
  }
  void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  void u64(uint16_t type, uint64_t v) { attr(type, &v, sizeof v); }
  void text(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  // Nesting: begin() returns where the attribute starts, end() fixes its
  // length once its children are in.
  size_t begin(uint16_t type) {
    const size_t at = bytes_.size();
    bytes_.resize(at + kAttrHeader);
    put<uint16_t>(bytes_, at + 2, static_cast<uint16_t>(type | NLA_F_NESTED));
    return at;
  }
  void end(size_t at) { put<uint16_t>(bytes_, at, static_cast<uint16_t>(bytes_.size() - at)); }
  std::vector<std::byte> finish() {
    put<uint32_t>(bytes_, 0, static_cast<uint32_t>(bytes_.size()));
    return std::move(bytes_);
  }

 private:
  void attr(uint16_t type, const void* data, size_t length) {
    const size_t at = bytes_.size();
    bytes_.resize(at + aligned(kAttrHeader + length));
    put<uint16_t>(bytes_, at, static_cast<uint16_t>(kAttrHeader + length));
    put<uint16_t>(bytes_, at + 2, type);
    std::memcpy(bytes_.data() + at + kAttrHeader, data, length);
  }
  std::vector<std::byte> bytes_;
};

constexpr uint16_t kRequestAck = NLM_F_REQUEST | NLM_F_ACK;

// Reads the attributes of one generic netlink payload.
void parse_attributes(std::span<const std::byte> attrs, bool ctrl, Reply& r) {
  size_t pos = 0;
  while (pos + kAttrHeader <= attrs.size()) {
    const auto len = get<uint16_t>(attrs, pos);
    const auto type = static_cast<uint16_t>(get<uint16_t>(attrs, pos + 2) & NLA_TYPE_MASK);
    if (len < kAttrHeader || len > attrs.size() - pos) {
      r.malformed = true;
      r.reason = "attribute length " + std::to_string(len) + " does not fit the message";
      return;
    }
    const auto payload = attrs.subspan(pos + kAttrHeader, len - kAttrHeader);
    if (ctrl && type == CTRL_ATTR_FAMILY_ID && payload.size() >= 2) {
      r.family_id = get<uint16_t>(payload, 0);
    } else if (!ctrl && type == NBD_ATTR_INDEX && payload.size() >= 4) {
      r.nbd_index = get<uint32_t>(payload, 0);
    }
    pos += aligned(len);
  }
}

}  // namespace

std::vector<std::byte> get_family_request(uint32_t seq, const std::string& family) {
  Message m(GENL_ID_CTRL, kRequestAck, seq, CTRL_CMD_GETFAMILY, 1);
  m.text(CTRL_ATTR_FAMILY_NAME, family.substr(0, GENL_NAMSIZ - 1));
  return m.finish();
}

std::vector<std::byte> connect_request(const ConnectRequest& r) {
  Message m(r.family, kRequestAck, r.seq, NBD_CMD_CONNECT, NBD_GENL_VERSION);
  m.u32(NBD_ATTR_INDEX, r.index);
  m.u64(NBD_ATTR_SIZE_BYTES, r.size_bytes);
  m.u64(NBD_ATTR_BLOCK_SIZE_BYTES, r.block_size);
  m.u64(NBD_ATTR_SERVER_FLAGS, r.server_flags);
  if (r.client_flags != 0) m.u64(NBD_ATTR_CLIENT_FLAGS, r.client_flags);
  const size_t sockets = m.begin(NBD_ATTR_SOCKETS);
  const size_t item = m.begin(NBD_SOCK_ITEM);
  m.u32(NBD_SOCK_FD, static_cast<uint32_t>(r.socket_fd));
  m.end(item);
  m.end(sockets);
  return m.finish();
}

std::vector<std::byte> disconnect_request(uint16_t family, uint32_t seq, uint32_t index) {
  Message m(family, kRequestAck, seq, NBD_CMD_DISCONNECT, NBD_GENL_VERSION);
  m.u32(NBD_ATTR_INDEX, index);
  return m.finish();
}

std::vector<Reply> parse_replies(std::span<const std::byte> datagram) {
  std::vector<Reply> out;
  if (datagram.size() > kMaxDatagram) datagram = datagram.first(kMaxDatagram);
  size_t pos = 0;
  while (pos + kNlHeader <= datagram.size()) {
    Reply r;
    const auto len = get<uint32_t>(datagram, pos);
    const auto type = get<uint16_t>(datagram, pos + 4);
    r.seq = get<uint32_t>(datagram, pos + 8);
    if (len < kNlHeader || len > datagram.size() - pos) {
      r.malformed = true;
      r.reason = "message length " + std::to_string(len) + " does not fit the datagram";
      out.push_back(std::move(r));
      return out;
    }
    const auto body = datagram.subspan(pos + kNlHeader, len - kNlHeader);
    if (type == NLMSG_ERROR) {
      if (body.size() < 4) {
        r.malformed = true;
        r.reason = "error message without an error code";
      } else {
        // nlmsgerr.error is 0 or a negative errno.
        const auto e = get<int32_t>(body, 0);
        r.error = e == INT32_MIN ? EIO : (e < 0 ? -e : e);
      }
    } else if (type != NLMSG_DONE && type != NLMSG_NOOP) {
      if (body.size() < kGenlHeader) {
        r.malformed = true;
        r.reason = "message shorter than the generic netlink header";
      } else {
        parse_attributes(body.subspan(kGenlHeader), type == GENL_ID_CTRL, r);
      }
    }
    out.push_back(std::move(r));
    pos += aligned(len);
  }
  return out;
}

std::optional<uint32_t> nbd_index_of(const std::string& device_path) {
  const std::string prefix = "/dev/nbd";
  if (device_path.size() <= prefix.size() || device_path.size() > prefix.size() + 6 ||
      device_path.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  uint32_t n = 0;
  for (size_t i = prefix.size(); i < device_path.size(); ++i) {
    const char c = device_path[i];
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n;
}

}  // namespace tandem::nbd::netlink
