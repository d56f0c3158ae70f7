#include "fence/ipmi/lan_client.h"

#include <netdb.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "common/log.h"
#include "fence/ipmi/session_packet.h"

namespace tandem::ipmi {

namespace {

using Clock = std::chrono::steady_clock;

std::string sys_error(int err) {
  return std::strerror(err);
}

// Errors a UDP socket reports when an ICMP message answered an earlier
// datagram; they say something about the path, not about this socket.
bool is_icmp_error(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN;
}

std::string icmp_hint(int err) {
  if (err == 0) return "";
  if (err == ECONNREFUSED) {
    return " (the host reported the UDP port unreachable: no BMC listens there; check --ip and "
           "--ipport)";
  }
  return " (ICMP: " + sys_error(err) + "; check --ip and the management network)";
}

}  // namespace

RandomSource system_random() {
  return [](std::span<std::uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      // Without randomness the session would be predictable; there is no
      // safe way to continue.
      throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
  };
}

LanClient::LanClient(int fd, std::string peer, LanClientOptions options)
    : fd_(fd), peer_(std::move(peer)), options_(std::move(options)) {}

LanClient::~LanClient() {
  if (session_ && session_->established()) (void)close();
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<LanClient>> LanClient::connect(const BmcAddress& bmc,
                                                      const LanClientOptions& options) {
  const std::string peer = bmc.host + ":" + std::to_string(bmc.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(bmc.port);
  if (int rc = ::getaddrinfo(bmc.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return make_error("cannot resolve BMC address '" + bmc.host + "': " + gai_strerror(rc) +
                      " (check --ip)");
  }
  int fd = -1;
  int last_errno = 0;
  for (addrinfo* a = found; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    // A connected UDP socket only delivers datagrams from the BMC's address.
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last_errno = errno;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return make_error("cannot open a UDP socket to BMC " + peer + ": " + sys_error(last_errno),
                      last_errno);
  }
  std::unique_ptr<LanClient> client(new LanClient(fd, peer, options));
  auto session = make_session(options.session, system_random());
  if (!session) return make_error("BMC " + peer + ": " + session.error().message);
  client->session_ = std::move(*session);
  auto done = client->run(client->session_->start());
  if (!done) return done.error();
  if (done->kind != SessionEvent::Kind::kEstablished) {
    return make_error("BMC " + peer + ": session set-up ended unexpectedly");
  }
  TLOG(LOG_DEBUG, "BMC %s: session established", peer.c_str());
  return client;
}

Result<SessionEvent> LanClient::run(SessionEvent event) {
  std::array<std::uint8_t, kMaxDatagram + 1> buffer{};
  auto deadline = Clock::now();
  for (;;) {
    if (!event.rejected.empty()) {
      TLOG(LOG_DEBUG, "BMC %s: ignored a datagram: %s", peer_.c_str(), event.rejected.c_str());
    }
    if (!event.send.empty()) {
      ssize_t sent = ::send(fd_, event.send.data(), event.send.size(), 0);
      // A pending ICMP error from an earlier datagram fails this send once
      // and is then cleared; the datagram itself was not sent.
      if (sent < 0 && is_icmp_error(errno)) {
        icmp_errno_ = errno;
        sent = ::send(fd_, event.send.data(), event.send.size(), 0);
      }
      if (sent < 0 && !is_icmp_error(errno)) {
        const int err = errno;
        return make_error("BMC " + peer_ + ": send failed: " + sys_error(err), err);
      }
      deadline = Clock::now() + std::chrono::milliseconds(options_.packet_timeout_ms);
    }
    switch (event.kind) {
      case SessionEvent::Kind::kFailed:
        return make_error("BMC " + peer_ + ": " + event.error.message + icmp_hint(icmp_errno_));
      case SessionEvent::Kind::kNone:
        break;
      default:
        return event;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      event = session_->on_timeout();
      continue;
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0) {
      if (errno == EINTR) {
        event = {};
        continue;
      }
      const int err = errno;
      return make_error("BMC " + peer_ + ": poll failed: " + sys_error(err), err);
    }
    if (ready == 0) {
      event = session_->on_timeout();
      continue;
    }
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      // An ICMP error about an earlier send: the BMC may still be starting
      // or a route coming back; keep waiting until the timer fires.
      if (!is_icmp_error(errno) && errno != EINTR && errno != EAGAIN) {
        const int err = errno;
        return make_error("BMC " + peer_ + ": receive failed: " + sys_error(err), err);
      }
      if (is_icmp_error(errno)) {
        icmp_errno_ = errno;
        TLOG(LOG_DEBUG, "BMC %s: %s", peer_.c_str(), sys_error(errno).c_str());
        // Do not spin on a pending error: wait out this attempt's timer.
        const auto rest =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (rest > 0) ::poll(nullptr, 0, static_cast<int>(rest));
      }
      event = {};
      continue;
    }
    if (static_cast<std::size_t>(n) > kMaxDatagram) {
      event = {};
      event.rejected = "oversized datagram";
      continue;
    }
    event = session_->on_datagram(ByteSpan(buffer.data(), static_cast<std::size_t>(n)));
  }
}

Result<IpmiResponse> LanClient::call(const IpmiRequest& request) {
  auto done = run(session_->request(request));
  if (!done) return done.error();
  if (done->kind != SessionEvent::Kind::kResponse) {
    return make_error("BMC " + peer_ + ": no response to " +
                      command_name(request.netfn, request.cmd));
  }
  return std::move(done->response);
}

Result<ChassisStatus> LanClient::chassis_status() {
  auto response = call(get_chassis_status_request());
  if (!response) return response.error();
  if (response->completion_code != 0) {
    return make_error("BMC " + peer_ + ": Get Chassis Status failed: " +
                      completion_code_text(response->completion_code));
  }
  auto status = decode_chassis_status(response->data);
  if (!status) return make_error("BMC " + peer_ + ": " + status.error().message);
  return status;
}

Result<void> LanClient::chassis_control(ChassisControl control) {
  auto response = call(chassis_control_request(control));
  if (!response) return response.error();
  if (response->completion_code != 0) {
    std::string hint;
    if (response->completion_code == 0xd4) {
      hint =
          " (the session privilege is too low: use --privlvl operator or administrator and a "
          "BMC user allowed that level)";
    }
    return make_error("BMC " + peer_ + ": Chassis Control (" + chassis_control_name(control) +
                      ") failed: " + completion_code_text(response->completion_code) + hint);
  }
  return {};
}

Result<void> LanClient::close() {
  if (!session_ || !session_->established()) return {};
  auto done = run(session_->close());
  if (!done) return done.error();
  return {};
}

}  // namespace tandem::ipmi
