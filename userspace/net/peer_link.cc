#include "net/peer_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::net {
namespace {

constexpr size_t kMaxPendingAccepted = 4;
constexpr auto kLinger = std::chrono::milliseconds(1000);
constexpr size_t kReadChunk = 256 * 1024;
constexpr int kMaxReadsPerWakeup = 16;

std::string errno_text(int e) {
  return std::strerror(e);
}

// qb_log wants a priority known at compile time (each call site is static).
void log_at(int priority, const std::string& line) {
  switch (priority) {
    case LOG_ERR:
      TLOG(LOG_ERR, "%s", line.c_str());
      break;
    case LOG_WARNING:
      TLOG(LOG_WARNING, "%s", line.c_str());
      break;
    case LOG_NOTICE:
      TLOG(LOG_NOTICE, "%s", line.c_str());
      break;
    case LOG_INFO:
      TLOG(LOG_INFO, "%s", line.c_str());
      break;
    default:
      TLOG(LOG_DEBUG, "%s", line.c_str());
      break;
  }
}

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Result<SockAddr> to_sockaddr(const SocketAddress& a) {
  SockAddr out;
  if (a.ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a.port);
    if (inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr) != 1) {
      return make_error("'" + a.host + "' is not a numeric IPv6 address");
    }
    out.len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port);
    if (inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr) != 1) {
      return make_error("'" + a.host + "' is not a numeric IPv4 address");
    }
    out.len = sizeof(sockaddr_in);
  }
  return out;
}

std::string describe_remote(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return "?";
  }
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(sin6->sin6_port));
  }
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(sin->sin_port));
}

}  // namespace

bool PeerLink::from_peer_address(int fd) const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  auto expected = to_sockaddr(config_.peer);
  if (!expected) return false;
  if (ss.ss_family == AF_INET && expected->storage.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&expected->storage)->sin_addr.s_addr;
  }
  if (ss.ss_family == AF_INET6 && expected->storage.ss_family == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&expected->storage)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return false;
}

std::string SocketAddress::to_string() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool local_dials_preferred(const PeerLinkConfig& config) {
  const auto& h = config.handshake;
  if (h.local_node_id != config.peer_node_id) {
    return h.local_node_id < config.peer_node_id;
  }
  return h.local_node < h.peer_node;
}

const char* to_string(PeerLink::State state) {
  switch (state) {
    case PeerLink::State::kStandAlone:
      return "StandAlone";
    case PeerLink::State::kConnecting:
      return "Connecting";
    case PeerLink::State::kConnected:
      return "Connected";
  }
  return "?";
}

struct PeerLink::Connection {
  enum class Phase { kConnecting, kHandshaking, kEstablished, kClosing };
  uint64_t id = 0;
  int fd = -1;
  daemon::EventLoop::WatchId watch = 0;
  daemon::EventLoop::TimerId timer = 0;
  bool dialled = false;
  Phase phase = Phase::kConnecting;
  std::string remote;
  FrameDecoder decoder;
  std::unique_ptr<core::PeerHandshake> handshake;
  std::vector<std::byte> out;
  size_t out_sent = 0;
  std::string closing_reason;

  size_t queued() const { return out.size() - out_sent; }
};

PeerLink::PeerLink(daemon::EventLoop& loop, PeerLinkConfig config, Callbacks callbacks)
    : loop_(loop), config_(std::move(config)), callbacks_(std::move(callbacks)) {}

PeerLink::~PeerLink() {
  running_ = false;
  callbacks_ = {};  // tearing down: nobody is told
  if (dial_timer_ != 0) loop_.cancel_timer(dial_timer_);
  while (!conns_.empty()) {
    drop(conns_.back()->id, "", LOG_DEBUG);
  }
  if (listen_watch_ != 0) loop_.unwatch(listen_watch_);
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string PeerLink::who() const {
  return "resource " + config_.handshake.resource + " peer " + config_.handshake.peer_node;
}

PeerLink::State PeerLink::state() const {
  if (!running_) return State::kStandAlone;
  return active_ != 0 ? State::kConnected : State::kConnecting;
}

Result<void> PeerLink::start() {
  if (running_) return {};
  auto addr = to_sockaddr(config_.listen);
  if (!addr) {
    return make_error(who() + ": cannot listen on " + config_.listen.to_string() + ": " +
                      addr.error().message + " (check this host's address line)");
  }
  if (auto peer = to_sockaddr(config_.peer); !peer) {
    return make_error(who() + ": bad peer address " + config_.peer.to_string() + ": " +
                      peer.error().message);
  }
  const int fd = socket(addr->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return make_error(who() + ": cannot create a TCP socket: " + errno_text(errno), errno);
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, addr->get(), addr->len) != 0 || listen(fd, 16) != 0) {
    const int e = errno;
    close(fd);
    return make_error(who() + ": cannot listen on " + config_.listen.to_string() + ": " +
                          errno_text(e) +
                          (e == EADDRINUSE      ? " (another process or resource uses this port)"
                           : e == EADDRNOTAVAIL ? " (this address is not configured on any "
                                                  "interface of this host)"
                                                : ""),
                      e);
  }
  listen_fd_ = fd;
  listen_watch_ = loop_.watch(fd, POLLIN, [this](uint32_t) { on_accept(); });
  running_ = true;
  TLOG(LOG_INFO, "%s: listening on %s, peer at %s", who().c_str(),
       config_.listen.to_string().c_str(), config_.peer.to_string().c_str());
  schedule_dial(local_dials_preferred(config_) ? std::chrono::milliseconds(0)
                                               : config_.connect_interval);
  return {};
}

void PeerLink::stop(const std::string& reason) {
  if (!running_) return;
  running_ = false;
  if (dial_timer_ != 0) {
    loop_.cancel_timer(dial_timer_);
    dial_timer_ = 0;
  }
  if (listen_watch_ != 0) {
    loop_.unwatch(listen_watch_);
    listen_watch_ = 0;
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
  // drop() of the active connection calls `lost`, which may re-enter.
  while (!conns_.empty()) {
    drop(conns_.back()->id, reason, LOG_INFO);
  }
}

void PeerLink::drop_connection(const std::string& reason) {
  if (active_ != 0) drop(active_, reason, LOG_WARNING);
}

void PeerLink::schedule_dial(std::chrono::milliseconds delay) {
  if (!running_ || dial_timer_ != 0) return;
  dial_timer_ = loop_.add_timer(delay, [this] {
    dial_timer_ = 0;
    dial();
  });
}

static void tune_socket(int fd, const PeerLinkConfig& config) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (config.sndbuf_bytes > 0) {
    const int v = static_cast<int>(std::min<uint64_t>(config.sndbuf_bytes, 1u << 30));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  }
  if (config.rcvbuf_bytes > 0) {
    const int v = static_cast<int>(std::min<uint64_t>(config.rcvbuf_bytes, 1u << 30));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
}

void PeerLink::dial() {
  if (!running_ || active_ != 0) return;
  for (const auto& c : conns_) {
    if (c->dialled) return;  // an attempt is under way
  }
  auto addr = to_sockaddr(config_.peer);
  if (!addr) return;  // checked in start()
  const int fd = socket(addr->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    last_error_ = "cannot create a TCP socket: " + errno_text(errno);
    schedule_dial(config_.connect_interval);
    return;
  }
  tune_socket(fd, config_);
  auto conn = std::make_unique<Connection>();
  conn->id = next_conn_++;
  conn->fd = fd;
  conn->dialled = true;
  conn->remote = config_.peer.to_string();
  const uint64_t id = conn->id;
  Connection& c = *conn;
  conns_.push_back(std::move(conn));
  c.watch = loop_.watch(fd, POLLOUT, [this, id](uint32_t ev) { on_connection_event(id, ev); });
  // Bound the whole attempt (TCP connect + handshake).
  c.timer = loop_.add_timer(config_.handshake_timeout, [this, id] {
    for (auto& x : conns_) {
      if (x->id == id) x->timer = 0;
    }
    drop(id,
         "connection attempt to " + config_.peer.to_string() + " did not complete within " +
             std::to_string(config_.handshake_timeout.count()) + " ms",
         LOG_WARNING);
  });
  TLOG(LOG_DEBUG, "%s: dialling %s", who().c_str(), c.remote.c_str());
  if (connect(fd, addr->get(), addr->len) != 0 && errno != EINPROGRESS) {
    const int e = errno;
    drop(id, "connect to " + config_.peer.to_string() + ": " + errno_text(e), LOG_INFO);
  }
}

void PeerLink::on_accept() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        TLOG(LOG_WARNING, "%s: accept on %s failed: %s", who().c_str(),
             config_.listen.to_string().c_str(), errno_text(errno).c_str());
      }
      return;
    }
    const std::string remote = describe_remote(fd);
    if (!from_peer_address(fd)) {
      // Only the configured peer may connect (as DRBD does); the handshake
      // would refuse others too, but they should not get that far.
      TLOG(LOG_WARNING, "%s: refusing connection from %s: the peer's address is %s", who().c_str(),
           remote.c_str(), config_.peer.host.c_str());
      close(fd);
      continue;
    }
    const auto pending = std::count_if(conns_.begin(), conns_.end(), [](const auto& c) {
      return !c->dialled && c->phase != Connection::Phase::kEstablished;
    });
    if (static_cast<size_t>(pending) >= kMaxPendingAccepted) {
      TLOG(LOG_WARNING, "%s: refusing connection from %s: %zu handshakes already pending",
           who().c_str(), remote.c_str(), kMaxPendingAccepted);
      close(fd);
      continue;
    }
    tune_socket(fd, config_);
    auto conn = std::make_unique<Connection>();
    conn->id = next_conn_++;
    conn->fd = fd;
    conn->dialled = false;
    conn->remote = remote;
    const uint64_t id = conn->id;
    Connection& c = *conn;
    conns_.push_back(std::move(conn));
    c.watch = loop_.watch(fd, POLLIN, [this, id](uint32_t ev) { on_connection_event(id, ev); });
    c.timer = loop_.add_timer(config_.handshake_timeout, [this, id] {
      for (auto& x : conns_) {
        if (x->id == id) x->timer = 0;
      }
      drop(id,
           "handshake with the connection from " + config_.peer.to_string() +
               " did not complete within " + std::to_string(config_.handshake_timeout.count()) +
               " ms",
           LOG_WARNING);
    });
    TLOG(LOG_DEBUG, "%s: accepted a connection from %s", who().c_str(), remote.c_str());
    begin_handshake(c);
    for (auto& x : conns_) {
      if (x->id == id) {
        // Hello goes out now, not at the peer's first byte.
        if (!flush(*x)) {
          drop(id, "send to " + remote + ": " + errno_text(errno), LOG_WARNING);
        } else {
          update_events(*x);
        }
        break;
      }
    }
  }
}

void PeerLink::begin_handshake(Connection& c) {
  c.phase = Connection::Phase::kHandshaking;
  std::array<std::byte, core::kAuthNonceBytes> nonce{};
  size_t got = 0;
  while (got < nonce.size()) {
    const ssize_t n = getrandom(nonce.data() + got, nonce.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      drop(c.id, "cannot draw a random nonce: " + errno_text(errno), LOG_ERR);
      return;
    }
    got += static_cast<size_t>(n);
  }
  c.handshake = std::make_unique<core::PeerHandshake>(config_.handshake, nonce);
  queue_frames(c, c.handshake->start());
}

void PeerLink::queue_frames(Connection& c, const std::vector<core::OutgoingFrame>& frames) {
  for (const auto& f : frames) {
    auto r = encode_frame(f.type, 0, std::as_bytes(std::span(f.message.data(), f.message.size())),
                          {}, c.out);
    if (!r) {
      TLOG(LOG_ERR, "%s: cannot encode a handshake frame: %s", who().c_str(),
           r.error().message.c_str());
    }
  }
}

void PeerLink::on_connect_finished(Connection& c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    drop(c.id, "connect to " + config_.peer.to_string() + ": " + errno_text(err), LOG_INFO);
    return;
  }
  TLOG(LOG_DEBUG, "%s: TCP connection to %s up", who().c_str(), c.remote.c_str());
  begin_handshake(c);
}

void PeerLink::on_connection_event(uint64_t id, uint32_t revents) {
  auto find = [this](uint64_t x) -> Connection* {
    for (auto& c : conns_) {
      if (c->id == x) return c.get();
    }
    return nullptr;
  };
  Connection* c = find(id);
  if (c == nullptr) return;
  if (c->phase == Connection::Phase::kConnecting) {
    on_connect_finished(*c);
    c = find(id);
    if (c == nullptr) return;
    if (c->phase == Connection::Phase::kConnecting) return;
  } else if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
             c->phase != Connection::Phase::kClosing) {
    for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
      // Straight into the decoder's buffer: no copy between the socket and
      // the frame decoder.
      const std::span<std::byte> space = c->decoder.prepare(kReadChunk);
      const ssize_t n = recv(c->fd, space.data(), space.size(), 0);
      if (n > 0) {
        c->decoder.commit(static_cast<size_t>(n));
        handle_frames(*c);
        c = find(id);
        if (c == nullptr || c->phase == Connection::Phase::kClosing) break;
        // A short read emptied the socket: the next poll reports more data
        // (saves a read that would only fail with EAGAIN).
        if (static_cast<size_t>(n) < space.size()) break;
        continue;
      }
      if (n == 0) {
        drop(id,
             "peer " + config_.handshake.peer_node + " (" + c->remote + ") closed the connection",
             LOG_WARNING);
        return;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      drop(id, "receive from " + c->remote + ": " + errno_text(errno), LOG_WARNING);
      return;
    }
    if (c == nullptr) return;
  }
  if (!flush(*c)) {
    drop(id, "send to " + c->remote + ": " + errno_text(errno), LOG_WARNING);
    return;
  }
  if (c->phase == Connection::Phase::kClosing && c->queued() == 0) {
    drop(id, c->closing_reason, LOG_DEBUG);
    return;
  }
  update_events(*c);
}

void PeerLink::handle_frames(Connection& c) {
  const uint64_t id = c.id;
  auto alive = [this, id]() -> Connection* {
    for (auto& x : conns_) {
      if (x->id == id) return x.get();
    }
    return nullptr;
  };
  while (true) {
    Connection* cur = alive();
    if (cur == nullptr || cur->phase == Connection::Phase::kClosing) return;
    auto next = cur->decoder.next();
    if (!next) {
      drop(id, "malformed frame from " + cur->remote + ": " + next.error().message, LOG_ERR);
      return;
    }
    if (!next->has_value()) return;
    Frame frame = std::move(**next);
    if (cur->phase == Connection::Phase::kHandshaking) {
      queue_frames(*cur, cur->handshake->on_frame(frame));
      if (cur->handshake->failed()) {
        // Send what the handshake still has to say (a rejecting verdict),
        // then close.
        cur->closing_reason = "handshake failed: " + cur->handshake->failure_reason();
        TLOG(LOG_ERR, "%s: %s", who().c_str(), cur->closing_reason.c_str());
        last_error_ = cur->closing_reason;
        cur->phase = Connection::Phase::kClosing;
        if (cur->timer != 0) loop_.cancel_timer(cur->timer);
        cur->timer = loop_.add_timer(kLinger, [this, id] {
          for (auto& x : conns_) {
            if (x->id == id) {
              x->timer = 0;
              drop(id, x->closing_reason, LOG_DEBUG);
              return;
            }
          }
        });
        return;
      }
      if (cur->handshake->established()) {
        on_handshake_done(*cur);
      }
      continue;
    }
    if (cur->phase == Connection::Phase::kEstablished && callbacks_.frame) {
      callbacks_.frame(std::move(frame));
    }
  }
}

void PeerLink::on_handshake_done(Connection& c) {
  if (c.timer != 0) {
    loop_.cancel_timer(c.timer);
    c.timer = 0;
  }
  const uint64_t id = c.id;
  const bool dialled = c.dialled;
  const bool we_pref = local_dials_preferred(config_);
  if (active_ != 0) {
    Connection* a = nullptr;
    for (auto& x : conns_) {
      if (x->id == active_) a = x.get();
    }
    if (a != nullptr) {
      const bool c_pref = dialled == we_pref;
      const bool a_pref = a->dialled == we_pref;
      // Same direction: the peer dialled again, so it gave up on the old
      // connection. Otherwise the one dialled by the lower node wins.
      const bool replace = (dialled == a->dialled) || (c_pref && !a_pref);
      if (!replace) {
        drop(id, "duplicate connection closed; keeping the one dialled by the lower node",
             LOG_DEBUG);
        return;
      }
      drop(active_, "replaced by a newer connection from " + c.remote, LOG_INFO);
    }
  }
  // `lost` may have stopped the link or changed the set of connections.
  Connection* cur = nullptr;
  for (auto& x : conns_) {
    if (x->id == id) cur = x.get();
  }
  if (cur == nullptr || !running_) return;
  cur->phase = Connection::Phase::kEstablished;
  active_ = id;
  if (dial_timer_ != 0) {
    loop_.cancel_timer(dial_timer_);
    dial_timer_ = 0;
  }
  last_error_.clear();
  LinkEstablished info{cur->handshake->agreed_protocol(), cur->handshake->agreed_features(),
                       cur->handshake->peer_node_id(), dialled, cur->remote};
  TLOG(LOG_NOTICE, "%s: connected (%s %s, protocol version %u%s)", who().c_str(),
       dialled ? "dialled" : "accepted from", cur->remote.c_str(), info.protocol,
       config_.handshake.shared_secret.empty() ? "" : ", authenticated");
  if (callbacks_.established) callbacks_.established(info);
}

bool PeerLink::flush(Connection& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n =
        ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  if (c.out_sent == c.out.size()) {
    c.out.clear();
    c.out_sent = 0;
  } else if (c.out_sent > (1u << 20)) {
    // Keep the buffer from growing by its already-sent head.
    c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(c.out_sent));
    c.out_sent = 0;
  }
  return true;
}

// One sendmsg of `head` then `payload`; returns how many bytes the socket
// took (0 when it took none or failed: a failure surfaces through the poll,
// as in flush()).
size_t PeerLink::send_gather(int fd, std::span<const std::byte> head,
                             std::span<const std::byte> payload) {
  iovec iov[2] = {{const_cast<std::byte*>(head.data()), head.size()},
                  {const_cast<std::byte*>(payload.data()), payload.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  while (true) {
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return 0;
  }
}

void PeerLink::update_events(Connection& c) {
  uint32_t events = 0;
  if (c.phase == Connection::Phase::kConnecting) {
    events = POLLOUT;
  } else {
    if (c.phase != Connection::Phase::kClosing) events |= POLLIN;
    if (c.queued() > 0) events |= POLLOUT;
  }
  loop_.set_events(c.watch, events);
}

Result<void> PeerLink::send(FrameType type, uint16_t flags, std::span<const std::byte> message,
                            std::span<const std::byte> payload) {
  Connection* c = nullptr;
  for (auto& x : conns_) {
    if (x->id == active_) c = x.get();
  }
  if (active_ == 0 || c == nullptr) {
    return make_error(who() + ": not connected");
  }
  if (c->queued() > config_.max_send_queue_bytes) {
    const std::string reason = "send queue above " + std::to_string(config_.max_send_queue_bytes) +
                               " bytes: peer " + config_.handshake.peer_node + " is not reading";
    drop(c->id, reason, LOG_ERR);
    return make_error(who() + ": " + reason);
  }
  if (c->queued() == 0 && !payload.empty()) {
    // Nothing queued: header and message from a small buffer, the payload
    // straight from the caller's (no copy), and only what the socket did
    // not take is queued.
    send_head_.clear();
    if (auto r = encode_frame_head(type, flags, message, payload.size(), send_head_); !r) {
      return make_error(who() + ": " + r.error().message);
    }
    size_t sent = send_gather(c->fd, send_head_, payload);
    if (sent < send_head_.size()) {
      c->out.insert(c->out.end(), send_head_.begin() + static_cast<std::ptrdiff_t>(sent),
                    send_head_.end());
      sent = send_head_.size();
    }
    c->out.insert(c->out.end(),
                  payload.begin() + static_cast<std::ptrdiff_t>(sent - send_head_.size()),
                  payload.end());
  } else {
    if (auto r = encode_frame(type, flags, message, payload, c->out); !r) {
      return make_error(who() + ": " + r.error().message);
    }
    // Errors surface through the poll (POLLERR/POLLHUP) so that `lost`
    // never runs inside the caller's send().
    (void)flush(*c);
  }
  update_events(*c);
  return {};
}

size_t PeerLink::send_queue_bytes() const {
  for (const auto& x : conns_) {
    if (x->id == active_) return x->queued();
  }
  return 0;
}

void PeerLink::drop(uint64_t id, const std::string& reason, int priority) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [id](const auto& c) { return c->id == id; });
  if (it == conns_.end()) return;
  std::unique_ptr<Connection> c = std::move(*it);
  conns_.erase(it);
  if (c->watch != 0) loop_.unwatch(c->watch);
  if (c->timer != 0) loop_.cancel_timer(c->timer);
  close(c->fd);
  if (!reason.empty()) {
    // Reasons from the replication core already name resource and peer.
    log_at(priority, reason.rfind("resource ", 0) == 0 ? reason : who() + ": " + reason);
  }
  const bool was_active = id == active_;
  if (was_active) {
    active_ = 0;
    last_error_ = reason;
    if (callbacks_.lost) callbacks_.lost(reason);
  } else if (active_ == 0 && !reason.empty() && priority != LOG_DEBUG) {
    last_error_ = reason;
  }
  if (running_ && active_ == 0) {
    // Redial: the lower node soon, the higher after connect-int (by then the
    // lower node's dial has usually arrived).
    const bool soon = was_active && local_dials_preferred(config_);
    schedule_dial(soon ? std::min(config_.connect_interval, std::chrono::milliseconds(1000))
                       : config_.connect_interval);
  }
}

}  // namespace tandem::net
